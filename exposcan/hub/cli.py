"""``exposcan hub serve | add-site | add-user``: the parser, and what each runs.

Light on imports: ``exposcan --help`` and every scan load this module; the
server, the database drivers and argon2 are imported when a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

DB_ENV = "EXPOSCAN_HUB_DB"
EXIT_OK, EXIT_ERROR = 0, 2
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError("HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443")
    return host.strip("[]") or "0.0.0.0", int(port)


def _name(text: str) -> str:
    if not _NAME.match(text):
        raise argparse.ArgumentTypeError(
            "1-64 letters, digits, spaces or ._@- (starting with a letter or digit)"
        )
    return text


def _days(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 3650:
        raise argparse.ArgumentTypeError("1 to 3650")
    return value


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help=f"postgresql://USER@HOST/DB, or a SQLite file [${DB_ENV} (which keeps a "
        "password off the command line), else hub.sqlite3 in the user's data directory]",
    )


def add_parser(sub: Any) -> None:
    hub = sub.add_parser(
        "hub",
        help="the contractor's or CERT's hub: sites push their reports, staff see the fleet",
    )
    commands = hub.add_subparsers(dest="hub_command", required=True)
    serve = commands.add_parser("serve", help="run the HTTPS service")
    serve.add_argument(
        "--listen",
        type=_listen,
        action="append",
        metavar="HOST:PORT",
        help="repeatable, one port for all [0.0.0.0:8443]",
    )
    serve.add_argument("--cert", type=Path, required=True, help="TLS certificate chain (PEM)")
    serve.add_argument("--key", type=Path, required=True, help="its private key (PEM)")
    _db_option(serve)
    serve.add_argument(
        "--stale-days",
        type=_days,
        default=7,
        metavar="N",
        help="a site with no report for N days is stale (dashboard, alert, metrics) [7]",
    )
    serve.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="URL",
        help="alert a new critical finding at any site, or a site gone stale: a webhook "
        "(http(s)://...) or smtp(s)://... as scan --notify; repeatable",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log each request")
    site = commands.add_parser(
        "add-site", help="add a site: its token is printed once, only its hash is kept"
    )
    _db_option(site)
    site.add_argument("name", type=_name, metavar="NAME")
    site.add_argument(
        "--reflector-tokens",
        type=Path,
        metavar="FILE",
        help="also let the same token ask the reflector whose tokens file this is "
        "(one token per practice for --hub and --outside)",
    )
    user = commands.add_parser(
        "add-user",
        help="add a staff account, or set its password: the password is read on stdin",
    )
    _db_option(user)
    user.add_argument("name", type=_name, metavar="NAME")


def _db(args: argparse.Namespace) -> str | None:
    return args.db or os.environ.get(DB_ENV) or None


def run(args: argparse.Namespace) -> int:
    # asyncio when a hub command runs: every command's parser is built
    # from this module, a port scan's included.
    import asyncio

    from exposcan.hub.auth import AuthError
    from exposcan.hub.backends import StoreError

    err = sys.stderr
    try:
        if args.hub_command == "serve":
            return _serve(args)
        if args.hub_command == "add-site":
            return asyncio.run(_add_site(args))
        return asyncio.run(_add_user(args))
    except (StoreError, AuthError, OSError, ValueError) as exc:
        print(f"exposcan hub: error: {exc}", file=err)
        return EXIT_ERROR


async def _add_site(args: argparse.Namespace) -> int:
    from exposcan.hub.store import Store

    store = await Store.open(_db(args))
    try:
        token = await store.add_site(args.name)
    finally:
        await store.close()
    if args.reflector_tokens is not None:
        from exposcan.reflector.tokens import append_token

        append_token(args.reflector_tokens, token, f"hub site {args.name}")
    print(token)
    print(
        f"exposcan hub: site {args.name!r} added; the token above is shown once: put it "
        "in a file readable by the scanning user only and name it with token_file in "
        "[hub] or $EXPOSCAN_HUB_TOKEN_FILE",
        file=sys.stderr,
    )
    return EXIT_OK


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    line = sys.stdin.readline(4096)
    return line.rstrip("\r\n")


async def _add_user(args: argparse.Namespace) -> int:
    import asyncio

    from exposcan.hub.auth import hash_password
    from exposcan.hub.store import Store

    hashed = await asyncio.to_thread(hash_password, _read_password())
    store = await Store.open(_db(args))
    try:
        created = await store.set_user(args.name, hashed)
    finally:
        await store.close()
    what = "added" if created else "password changed"
    print(f"exposcan hub: user {args.name!r} {what}", file=sys.stderr)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from exposcan.audit.notify.deliver import parse_targets
    from exposcan.hub.alerts import Alerts
    from exposcan.hub.server import run as run_server
    from exposcan.hub.server import server_tls

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("exposcan.hub").setLevel(logging.INFO)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    listen = args.listen or [("0.0.0.0", 8443)]
    if len({port for _, port in listen}) != 1:
        raise ValueError("--listen: one port for every address")
    tls = server_tls(args.cert, args.key)
    alerts = Alerts(parse_targets(args.notify), args.stale_days)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        await run_server(_db(args), listen, tls, alerts, args.stale_days)

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(main())
    return EXIT_OK
