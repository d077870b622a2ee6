"""``exposcan reflector serve | worker | check | add-token | job-key``: the parser.

Light on imports (``exposcan --help`` and every scan load it); what runs a
command is in ``commands.py``, imported when one is run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from exposcan.net.portspec import ALL_PORTS
from exposcan.reflector.scope import GLOBAL, IPV6_PREFIX, WIDEST_IPV6_PREFIX

REDIS_ENV = "EXPOSCAN_REFLECTOR_REDIS"


def _positive(kind: type[Any]) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be > 0")
        return value

    return parse


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError("HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443")
    return host.strip("[]") or "0.0.0.0", int(port)


def _scan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ports",
        default=ALL_PORTS,
        metavar="SPEC",
        help="ports every scan tries, nmap syntax [every TCP port, as scan --vantage internet]",
    )
    parser.add_argument(
        "--deadline",
        type=_positive(float),
        default=240.0,
        metavar="SECONDS",
        help="total deadline of one scan; it ends the scan [240]",
    )
    parser.add_argument(
        "--sources",
        default=GLOBAL,
        metavar="SPEC",
        help="sources served, comma-separated CIDRs and/or 'global' "
        "(publicly routed addresses) [global]",
    )
    parser.add_argument("--scan-type", choices=["auto", "syn", "connect"], default="auto")
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=5.0,
        metavar="SECONDS",
        help="read deadline of a probe, as scan --timeout [5]",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get(REDIS_ENV) or None,
        help=f"rediss://USER:PASSWORD@HOST:PORT/DB: the job queue, over TLS, as a Redis ACL "
        f"user [${REDIS_ENV}, which keeps a password off the command line]",
    )
    parser.add_argument(
        "--job-key",
        type=Path,
        metavar="FILE",
        help="with --redis: the key that signs jobs and results, the same file for the "
        "front and every worker, never in Redis (make it with 'reflector job-key FILE')",
    )
    parser.add_argument(
        "--ipv6-prefix",
        type=int,
        default=IPV6_PREFIX,
        metavar="LENGTH",
        help=f"IPv6 addresses a request may name: inside its source's /LENGTH "
        f"[{IPV6_PREFIX}: the source's own network; a wider one, down to "
        f"/{WIDEST_IPV6_PREFIX}, only where every source owns its whole prefix]",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request")


def add_parser(sub: Any) -> None:
    reflector = sub.add_parser(
        "reflector",
        help="the outside view service: scans back the address a request comes from",
    )
    commands = reflector.add_subparsers(dest="reflector_command", required=True)
    serve = commands.add_parser("serve", help="run the HTTPS front")
    serve.add_argument(
        "--listen",
        type=_listen,
        action="append",
        metavar="HOST:PORT",
        help="repeatable, one port for all (e.g. an IPv4 and an IPv6 address) [0.0.0.0:8443]",
    )
    serve.add_argument("--cert", type=Path, required=True, help="TLS certificate chain (PEM)")
    serve.add_argument("--key", type=Path, required=True, help="its private key (PEM)")
    serve.add_argument("--tokens", type=Path, required=True, help="the hashed tokens file")
    _scan_options(serve)
    serve.add_argument("--per-source-day", type=_positive(int), default=10, metavar="N")
    serve.add_argument("--per-token-day", type=_positive(int), default=200, metavar="N")
    serve.add_argument(
        "--max-scans",
        type=_positive(int),
        default=4,
        metavar="N",
        help="scans at a time without --redis; waiting requests with it; one token "
        "runs one scan at a time over IPv4 and one over IPv6 [4]",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive(int),
        default=256,
        metavar="N",
        help="connections at a time, fewer if the file-descriptor limit leaves less room [256]",
    )
    serve.add_argument(
        "--per-source-connections",
        type=_positive(int),
        default=8,
        metavar="N",
        help="connections at a time from one address (IPv6: one prefix), counted before TLS [8]",
    )
    worker = commands.add_parser("worker", help="take scans off the Redis queue")
    _scan_options(worker)
    worker.add_argument("--max-jobs", type=_positive(int), default=2, metavar="N")
    check = commands.add_parser(
        "check",
        help="ask a reflector for this network's outside view (what a LAN scan "
        "with --outside does): token from $EXPOSCAN_OUTSIDE_TOKEN(_FILE) or --token-file",
    )
    check.add_argument("url", metavar="URL", help="https://HOST[:PORT] of the reflector")
    trust = check.add_mutually_exclusive_group()
    trust.add_argument("--ca-file", type=Path, help="the CA of a self-hosted reflector")
    trust.add_argument("--pin", metavar="SHA256", help="the reflector certificate's SHA-256")
    check.add_argument("--token-file", type=Path)
    check.add_argument("--ipv6", action="append", default=[], metavar="ADDRESS")
    check.add_argument("--deadline", type=_positive(float), default=300.0, metavar="SECONDS")
    check.add_argument("-o", "--output", type=Path, metavar="FILE.json", help="write the report")
    job_key = commands.add_parser(
        "job-key", help="make the key file (mode 0600) that --job-key names"
    )
    job_key.add_argument("file", type=Path, metavar="FILE")
    token = commands.add_parser(
        "add-token", help="make a token: printed once, its hash appended to the tokens file"
    )
    token.add_argument("--tokens", type=Path, required=True)
    token.add_argument("--label", default="", help="who it is for (kept in the file)")


def run(args: argparse.Namespace) -> int:
    from exposcan.reflector.commands import run as run_command

    return run_command(args)
