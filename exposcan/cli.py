"""Command line: ``exposcan scan`` and ``exposcan lab``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence
from ipaddress import IPv4Address

from rich.console import Console

from exposcan import __version__
from exposcan.catalogue import Catalogue, CatalogueError, default_catalogue
from exposcan.config import ScanConfig
from exposcan.diff import diff_reports, load_report, render_diff
from exposcan.engine import Scanner
from exposcan.limits import Deadlines
from exposcan.models import Report, Severity, Vantage
from exposcan.netinfo import LocalView, local_view
from exposcan.portspec import ALL_PORTS, PortSpecError, format_ports, parse_ports
from exposcan.report import ReportFormatError, check_output, write_report
from exposcan.report.terminal import LiveProgress, render_summary
from exposcan.targets import TargetError, build_targets

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

EPILOG = """\
exit codes:
  0  no finding at or above --fail-on (with --baseline: no *new* one)
  1  at least one finding at or above --fail-on (with --baseline: a new one)
  2  error: bad arguments, nothing could be scanned, or interrupted (Ctrl-C)

Scan only networks you are responsible for. Safe checks only by default:
no writes, no image sent, no C-GET/C-MOVE, no password guessing.
"""


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exposcan",
        description="Find the medical images a practice network exposes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"exposcan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser(
        "scan",
        help="scan targets (default: the networks this machine is on)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    scan.add_argument(
        "targets", nargs="*", metavar="TARGET",
        help="IPv4 address, CIDR, range (198.18.0.10-40) or host name; "
        "none: the directly connected networks and the default gateway",
    )
    scan.add_argument("-p", "--ports", help="ports in nmap syntax (104,4242,8000-8100; - for all)")
    scan.add_argument("--vantage", choices=[v.value for v in Vantage], default="lan",
                      help="lan (default) or internet: scanning a practice's public address "
                      "from outside, every TCP port unless -p says otherwise")
    scan.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                      help="write the report; format from the extension (.json); repeatable")
    scan.add_argument("--timeout", type=_positive_float, default=5.0, metavar="SECONDS",
                      help="read deadline of a probe (connect: 3/5 of it, total: 6x) [5]")
    scan.add_argument("--scan-timeout", type=_positive_float, default=1.0, metavar="SECONDS",
                      help="port scan connect deadline before a port counts filtered [1]")
    scan.add_argument("--concurrency", type=_positive_int, default=500,
                      help="connections in flight across all hosts [500]")
    scan.add_argument("--per-host", type=_positive_int, default=2,
                      help="probe connections in flight per host [2]")
    scan.add_argument("--rate", type=float, default=0.0,
                      help="new connections per second, 0 = unlimited [0]")
    scan.add_argument("--exclude", action="append", default=[], metavar="TARGET",
                      help="addresses not to touch (same syntax as TARGET); repeatable")
    scan.add_argument("--no-discovery", action="store_true",
                      help="treat every address as up (like nmap -Pn)")
    scan.add_argument("--no-probes", action="store_true",
                      help="port scan only: no protocol probe, no box look-up (like nmap "
                      "without -sV or scripts)")
    scan.add_argument("--intrusive", action="store_true",
                      help="also run intrusive checks (default credentials, read-only); "
                      "labelled as such in the report")
    scan.add_argument("--calling-ae", default="EXPOSCAN",
                      help="DICOM calling AE title [EXPOSCAN]")
    scan.add_argument("--fail-on", default="high",
                      choices=[s.value for s in Severity] + ["never"],
                      help="lowest severity that makes the exit code 1 [high]")
    scan.add_argument("--baseline", metavar="REPORT.json",
                      help="a previous report: only findings it did not hold count for the "
                      "exit code (a cron audit alerts on what is new)")
    scan.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    scan.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    diff = sub.add_parser("diff", help="compare two reports (exit 0 same, 1 changed, 2 error)")
    diff.add_argument("old")
    diff.add_argument("new")
    lab = sub.add_parser("lab", help="the practice lab in network namespaces (root)",
                         add_help=False)
    lab.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["lab"]:
        from exposcan.lab.cli import main as lab_main

        return lab_main(args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code not in (0, None) else EXIT_CLEAN
    if args.command == "diff":
        return run_diff(args.old, args.new)
    return run_scan(args)


def run_diff(old_path: str, new_path: str) -> int:
    try:
        diff = diff_reports(load_report(old_path), load_report(new_path))
    except (OSError, ValueError) as exc:
        Console(stderr=True).print(f"exposcan: error: {exc}", markup=False)
        return EXIT_ERROR
    sys.stdout.write(render_diff(diff))
    return EXIT_FINDINGS if diff.changed else EXIT_CLEAN


def _config(args: argparse.Namespace, catalogue: Catalogue) -> ScanConfig:
    vantage = Vantage(args.vantage)
    if args.ports:
        spec = ALL_PORTS if args.ports.strip() == "-" else args.ports
        ports = parse_ports(spec)
    elif vantage is Vantage.INTERNET:
        ports = parse_ports(ALL_PORTS)
    else:
        ports = catalogue.default_ports()
    return ScanConfig(
        ports=ports,
        ports_spec=format_ports(ports),
        vantage=vantage,
        deadlines=Deadlines(connect=args.timeout * 0.6, read=args.timeout,
                            total=args.timeout * 6),
        scan_timeout=args.scan_timeout,
        concurrency=args.concurrency,
        per_host=args.per_host,
        rate=args.rate,
        discovery=not args.no_discovery,
        intrusive=args.intrusive,
        calling_ae=args.calling_ae,
        verbose=args.verbose,
    )


def _auto_targets(view: LocalView, err: Console, quiet: bool) -> list[str]:
    specs: list[str] = []
    for net in view.networks:
        specs.append(str(net.network))
        if not quiet:
            extra = (f" (the interface has {net.declared}: larger than /22, so only the /24 "
                     "around this machine)") if net.shrunk else ""
            err.print(f"exposcan: scanning {net.network} on {net.interface}{extra}")
    if view.gateway and not any(view.gateway in n.network for n in view.networks):
        specs.append(str(view.gateway))
    if view.gateway and not quiet:
        err.print(f"exposcan: default gateway {view.gateway} (the internet box) included")
    return specs


def run_scan(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    # Without a terminal (cron mail, a pipe) rich would wrap at 80 columns.
    out = Console() if sys.stdout.isatty() else Console(width=120)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else
        logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        for path in args.output:
            check_output(path)
        catalogue = default_catalogue()
        config = _config(args, catalogue)
        baseline = load_report(args.baseline) if args.baseline else None
    except (ReportFormatError, PortSpecError, CatalogueError, OSError, ValueError) as exc:
        err.print(f"exposcan: error: {exc}", markup=False)
        return EXIT_ERROR
    try:
        view = local_view()
    except (OSError, ValueError) as exc:
        view = None
        if not args.targets:
            err.print(f"exposcan: error: cannot read this machine's networks: {exc}")
            return EXIT_ERROR
    specs = list(args.targets)
    if not specs:
        assert view is not None
        specs = _auto_targets(view, err, args.quiet)
        if not specs:
            err.print("exposcan: error: no connected IPv4 network to scan; name a TARGET")
            return EXIT_ERROR
    try:
        targets = asyncio.run(build_targets(specs, args.exclude))
    except TargetError as exc:
        err.print(f"exposcan: error: {exc}", markup=False)
        return EXIT_ERROR
    if not targets.addresses:
        err.print("exposcan: error: nothing to scan (every target excluded)")
        return EXIT_ERROR

    if targets.excluded:
        config = dataclasses.replace(
            config, excluded=frozenset(str(a) for a in targets.excluded))
    scanner = (Scanner(config, catalogue, [], []) if args.no_probes
               else Scanner(config, catalogue))
    complete = _run(scanner, targets.addresses, targets.labels, view,
                    show_progress=err.is_terminal and not args.quiet, console=err)
    report = scanner.report(complete=complete)
    for path in args.output:
        write_report(report, path)
    if not args.quiet:
        out.print(render_summary(report))
    if not complete:
        return EXIT_ERROR
    if baseline is not None:
        diff = diff_reports(baseline, report)
        if not args.quiet:
            out.print(f"compared with {args.baseline}:", markup=False)
            out.print(render_diff(diff), markup=False, end="")
        report = report.model_copy(update={"findings": diff.new})
    return exit_code(report, args.fail_on)


def exit_code(report: Report, fail_on: str) -> int:
    if fail_on == "never":
        return EXIT_CLEAN
    threshold = Severity(fail_on).rank
    failing = any(f.severity.rank >= threshold for f in report.findings)
    return EXIT_FINDINGS if failing else EXIT_CLEAN


def _run(
    scanner: Scanner,
    addresses: list[IPv4Address],
    labels: list[str],
    view: LocalView | None,
    show_progress: bool,
    console: Console,
) -> bool:
    """Run the scan; False if it was interrupted (what was gathered is kept)."""

    async def main() -> bool:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await scanner.run(addresses, labels, view)
            return True
        except asyncio.CancelledError:
            scanner.state.note("scan interrupted: this report holds what was gathered until then")
            return False

    if show_progress:
        with LiveProgress(console, scanner.state.progress):
            return asyncio.run(main())
    return asyncio.run(main())
