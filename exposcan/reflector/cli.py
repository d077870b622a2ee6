"""``exposcan reflector serve | worker | add-token``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from exposcan.net.portspec import ALL_PORTS, PortSpecError
from exposcan.reflector.client import ReflectorError, load_token, request_outside_view
from exposcan.reflector.jobs import InProcessRunner, QueueRunner, ScanPolicy
from exposcan.reflector.quota import MemoryStore, Policy, RedisStore, Store
from exposcan.reflector.scope import GLOBAL, ScopeError, Sources
from exposcan.reflector.tokens import TokenFileError, TokenStore, add_token

EXIT_OK, EXIT_ERROR = 0, 2
REDIS_ENV = "EXPOSCAN_REFLECTOR_REDIS"
EXTRA_HINT = "the reflector's Redis mode needs arq: pip install 'exposcan[reflector]'"


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
        help=f"redis://[:PASSWORD@]HOST:PORT/DB: the job queue [${REDIS_ENV}, which "
        "keeps a password off the command line]",
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
        help="scans at a time without --redis; waiting requests with it [4]",
    )
    serve.add_argument("--max-connections", type=_positive(int), default=256, metavar="N")
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
    token = commands.add_parser(
        "add-token", help="make a token: printed once, its hash appended to the tokens file"
    )
    token.add_argument("--tokens", type=Path, required=True)
    token.add_argument("--label", default="", help="who it is for (kept in the file)")


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The engine's own log lines name hosts and ports: the reflector logs
    # counts only, through its own logger.
    logging.getLogger("exposcan").setLevel(logging.WARNING)
    logging.getLogger("exposcan.reflector").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("arq").setLevel(logging.WARNING)  # arq logs job arguments at INFO
    logging.getLogger("aiohttp").setLevel(logging.ERROR)


def _policy(args: argparse.Namespace) -> ScanPolicy:
    spec = ALL_PORTS if args.ports.strip() == "-" else args.ports
    return ScanPolicy(
        ports_spec=spec,
        deadline=args.deadline,
        probe_timeout=args.timeout,
        scan_type=args.scan_type,
    )


def run(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        if args.reflector_command == "add-token":
            token, entry = add_token(args.tokens, args.label)
            print(token)
            print(
                f"exposcan: token {entry.token_id} added to {args.tokens}; "
                "it is shown only now: give it to its user",
                file=err,
            )
            return EXIT_OK
        if args.reflector_command == "check":
            return _check(args)
        _logging(args.verbose)
        policy = _policy(args)
        sources = Sources.parse(args.sources)
        if args.reflector_command == "worker":
            if not args.redis:
                raise ValueError("the worker needs --redis URL")
            return _run_worker(args, policy, sources)
        return _serve(args, policy, sources)
    except (TokenFileError, ScopeError, PortSpecError, ValueError, OSError) as exc:
        print(f"exposcan: error: {' '.join(str(exc).split())}", file=err)
        return EXIT_ERROR
    except ReflectorError as exc:
        print(f"exposcan: error: {exc}", file=err)
        return EXIT_ERROR
    except ImportError:
        print(f"exposcan: error: {EXTRA_HINT}", file=err)
        return EXIT_ERROR


def _run_worker(args: argparse.Namespace, policy: ScanPolicy, sources: Sources) -> int:
    import arq  # noqa: F401  (before the loop: a missing extra is one line)

    from exposcan.reflector.worker import run_worker

    asyncio.run(run_worker(args.redis, policy, sources, args.max_jobs))
    return EXIT_OK


def _serve(args: argparse.Namespace, policy: ScanPolicy, sources: Sources) -> int:
    from exposcan.reflector.server import Bounds, Reflector, server_tls, serving

    listen: list[tuple[str, int]] = args.listen or [("0.0.0.0", 8443)]
    hosts = [host for host, _ in listen]
    port = listen[0][1]
    if any(p != port for _, p in listen):
        raise ValueError("every --listen must use the same port")
    tokens = TokenStore(args.tokens)
    tls = server_tls(args.cert, args.key)
    if args.redis:
        import arq  # noqa: F401

    async def main() -> None:
        runner: InProcessRunner | QueueRunner
        store: Store
        if args.redis:
            from redis.asyncio import Redis

            runner = await QueueRunner.connect(args.redis, policy, args.max_scans)
            store = RedisStore(Redis.from_url(args.redis))
        else:
            runner = InProcessRunner(policy, args.max_scans)
            store = MemoryStore()
        reflector = Reflector(
            tokens,
            store,
            runner,
            sources,
            Policy(per_source_day=args.per_source_day, per_token_day=args.per_token_day),
            Bounds(max_connections=args.max_connections),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with serving(reflector, hosts, port, tls) as bound:
            print(
                f"exposcan: reflector on https://{bound[0]}:{bound[1]} "
                f"({'Redis queue' if args.redis else 'in-process jobs'}, "
                f"{len(policy.ports)} ports, {policy.deadline:g} s deadline, "
                f"{len(tokens)} token(s))",
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()

    asyncio.run(main())
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    token = load_token(args.token_file)
    view = asyncio.run(
        request_outside_view(
            args.url,
            token=token,
            ca_file=args.ca_file,
            pin_sha256=args.pin,
            ipv6=args.ipv6,
            deadline=args.deadline,
        )
    )
    if args.output:
        args.output.write_text(view.report.to_json())
        args.output.chmod(0o600)  # reports are personal-data-adjacent (DOMAIN.md)
    opened = sorted(
        f"{h.address}:{s.port}" if ":" not in h.address else f"[{h.address}]:{s.port}"
        for h in view.report.hosts
        for s in h.services
    )
    state = "complete" if view.report.scan.complete else "cut by the reflector's deadline"
    print(
        f"seen from the internet as {view.source}: {view.ports_tried} ports tried on "
        f"{len(view.scanned)} address(es), {len(opened)} open"
        + (f" ({', '.join(opened)})" if opened else "")
        + f", {len(view.report.findings)} finding(s); scan {state}"
    )
    return EXIT_OK
