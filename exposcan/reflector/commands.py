"""What ``exposcan reflector ...`` runs (the parser is ``cli.py``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from exposcan.net.portspec import ALL_PORTS, PortSpecError
from exposcan.reflector.client import ReflectorError, load_token, request_outside_view
from exposcan.reflector.jobs import InProcessRunner, QueueRunner, ScanPolicy
from exposcan.reflector.quota import MemoryStore, Policy, RedisStore, Store
from exposcan.reflector.scope import ScopeError, Sources, check_prefix
from exposcan.reflector.signing import load_key, make_key
from exposcan.reflector.tokens import TokenFileError, TokenStore, add_token
from exposcan.reflector.worker import WorkerRules

EXIT_OK, EXIT_ERROR = 0, 2
EXTRA_HINT = "the reflector's Redis mode needs arq: pip install 'exposcan[reflector]'"


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
        return _run(args)
    except ImportError:
        print(f"exposcan: error: {EXTRA_HINT}", file=err)
        return EXIT_ERROR
    except Exception as exc:  # Redis unreachable and the like: one line
        if type(exc).__module__.split(".")[0] not in ("redis", "arq"):
            raise
        print(f"exposcan: error: Redis: {' '.join(str(exc).split())[:200]}", file=err)
        return EXIT_ERROR


def _run(args: argparse.Namespace) -> int:
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
        if args.reflector_command == "job-key":
            make_key(args.file)
            print(f"exposcan: job key written to {args.file} (mode 0600)", file=err)
            return EXIT_OK
        if args.reflector_command == "check":
            return _check(args)
        _logging(args.verbose)
        if args.redis:
            import arq  # noqa: F401  (first: a missing extra is one line)
        policy = _policy(args)
        sources = Sources.parse(args.sources)
        check_prefix(args.ipv6_prefix)
        key = b""
        if args.redis:
            if args.job_key is None:
                raise ValueError("--redis needs --job-key FILE (the key that signs jobs)")
            key = load_key(args.job_key)
        if args.reflector_command == "worker":
            if not args.redis:
                raise ValueError("the worker needs --redis URL")
            return _run_worker(args, WorkerRules(policy, sources, key, args.ipv6_prefix))
        return _serve(args, policy, sources, key)
    except (TokenFileError, ScopeError, PortSpecError, ValueError, OSError) as exc:
        print(f"exposcan: error: {' '.join(str(exc).split())}", file=err)
        return EXIT_ERROR
    except ReflectorError as exc:
        print(f"exposcan: error: {exc}", file=err)
        return EXIT_ERROR


def _run_worker(args: argparse.Namespace, rules: WorkerRules) -> int:
    from exposcan.reflector.worker import run_worker

    asyncio.run(run_worker(args.redis, rules, args.max_jobs))
    return EXIT_OK


def _serve(args: argparse.Namespace, policy: ScanPolicy, sources: Sources, key: bytes) -> int:
    from exposcan.reflector.gate import Bounds, raise_fd_limit
    from exposcan.reflector.server import Reflector, server_tls, serving

    listen: list[tuple[str, int]] = args.listen or [("0.0.0.0", 8443)]
    hosts = [host for host, _ in listen]
    port = listen[0][1]
    if any(p != port for _, p in listen):
        raise ValueError("every --listen must use the same port")
    tokens = TokenStore(args.tokens)
    raise_fd_limit()
    tls = server_tls(args.cert, args.key)
    if args.redis:
        import arq  # noqa: F401

    async def main() -> None:
        runner: InProcessRunner | QueueRunner
        store: Store
        if args.redis:
            from redis.asyncio import Redis

            runner = await QueueRunner.connect(args.redis, policy, args.max_scans, key)
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
            Bounds(
                max_connections=args.max_connections,
                per_source_connections=args.per_source_connections,
            ),
            ipv6_prefix=args.ipv6_prefix,
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
                f"{len(tokens)} token(s), {reflector.gate.max_connections} connections)",
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
        args.output.chmod(0o600)  # reports are personal-data-adjacent (docs/imaging-exposure.md)
    from exposcan.reflector.check_text import print_check

    print_check(view)
    return EXIT_OK
