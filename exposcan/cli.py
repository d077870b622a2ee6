"""Command line: ``exposcan scan``, ``diff``, ``history``, ``report``."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from exposcan import __version__, catalogue_cli
from exposcan.audit import push
from exposcan.audit.history_cli import add_db_option, add_parsers, run_diff, run_history
from exposcan.hub import cli as hub_cli
from exposcan.net.portspec import ALL_PORTS, PortSpecError, format_ports, parse_ports
from exposcan.net.targets import (
    DEFAULT_MAX_HOSTS,
    MAX_TARGETS,
    TargetError,
    TargetSet,
    build_targets,
    static_targets,
)
from exposcan.protocols.dicom.aetitle import valid_ae_title
from exposcan.reflector import cli as reflector_cli
from exposcan.report.write import ReportFormatError, check_output
from exposcan.vocabulary import LANGUAGES, Severity, Vantage, default_lang

# What a probing scan needs is imported when one runs: a port scan's
# start-up (exposcan.port_scan) loads neither the models nor the catalogue.
if TYPE_CHECKING:
    from rich.console import Console

    from exposcan.catalogue import Catalogue
    from exposcan.config import ScanConfig
    from exposcan.models import Report
    from exposcan.net.localview import LocalView
    from exposcan.outside.settings import OutsideSettings
    from exposcan.outside.view import OutsideCheck
    from exposcan.service import ScanOutcome, ScanRequest

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


def _ae_title(text: str) -> str:
    if not valid_ae_title(text):
        raise argparse.ArgumentTypeError(
            "1-16 characters, no backslash, no control character, not only spaces"
        )
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _max_hosts(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_TARGETS:
        raise argparse.ArgumentTypeError(f"at most {MAX_TARGETS}")
    return value


class _OneLineParser(argparse.ArgumentParser):
    """A bad command line is one line on stderr (cron mail, scripts), not the
    whole usage block; ``--help`` still shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _OneLineParser(
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
        "targets",
        nargs="*",
        metavar="TARGET",
        help="IPv4 or IPv6 address, CIDR (IPv6: at most a /120), range "
        "(198.18.0.10-40) or host name (A and AAAA); "
        "none: the directly connected networks and the default gateway",
    )
    scan.add_argument("-p", "--ports", help="ports in nmap syntax (104,4242,8000-8100; - for all)")
    scan.add_argument(
        "--vantage",
        choices=[v.value for v in Vantage],
        default="lan",
        help="lan (default) or internet: scanning a practice's public address "
        "from outside, every TCP port unless -p says otherwise",
    )
    scan.add_argument(
        "-o",
        "--output",
        action="append",
        default=[],
        metavar="FILE",
        help="write the report; format from the extension (.json, .html); repeatable",
    )
    scan.add_argument(
        "--lang",
        choices=list(LANGUAGES),
        default=default_lang(),
        help="language of the HTML report and the summary [from the locale: "
        "LC_ALL/LC_MESSAGES/LANG fr* -> fr, else en]",
    )
    scan.add_argument(
        "--timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="read deadline of a probe (connect: 3/5 of it, total: 6x) [5]",
    )
    scan.add_argument(
        "--scan-timeout",
        type=_positive_float,
        default=1.0,
        metavar="SECONDS",
        help="port scan connect deadline before a port counts filtered [1]",
    )
    scan.add_argument(
        "--scan-type",
        choices=["auto", "syn", "connect"],
        default="auto",
        help="port scan: syn (raw packets, root; like nmap -sS), connect (any "
        "user; like nmap -sT), auto: syn when allowed [auto]",
    )
    scan.add_argument(
        "--concurrency",
        type=_positive_int,
        default=500,
        help="connections in flight across all hosts [500]",
    )
    scan.add_argument(
        "--per-host", type=_positive_int, default=2, help="probe connections in flight per host [2]"
    )
    scan.add_argument(
        "--rate", type=float, default=0.0, help="new connections per second, 0 = unlimited [0]"
    )
    scan.add_argument(
        "--max-hosts",
        type=_max_hosts,
        default=DEFAULT_MAX_HOSTS,
        metavar="N",
        help="refuse to scan more than N addresses: a /16 typed for a /24 "
        f"is stopped [{DEFAULT_MAX_HOSTS}, at most {MAX_TARGETS}]",
    )
    scan.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="TARGET",
        help="addresses not to touch (same syntax as TARGET); repeatable",
    )
    scan.add_argument(
        "--no-discovery", action="store_true", help="treat every address as up (like nmap -Pn)"
    )
    scan.add_argument(
        "--follow-box",
        action="store_true",
        help="with named targets, also read the internet box's UPnP forwards and scan "
        "the hosts they lead to, outside the targets (a scan with no target always does)",
    )
    scan.add_argument(
        "--no-probes",
        action="store_true",
        help="port scan only: no protocol probe, no box look-up (like nmap without -sV or scripts)",
    )
    scan.add_argument(
        "--intrusive",
        action="store_true",
        help="also run intrusive checks (default credentials, read-only); "
        "labelled as such in the report",
    )
    scan.add_argument(
        "--calling-ae", type=_ae_title, default="EXPOSCAN", help="DICOM calling AE title [EXPOSCAN]"
    )
    scan.add_argument(
        "--association-timeout",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="how long a DICOM node may take to answer an association, as a "
        "DICOM client waits (ARTIM; dcmtk-based servers look the caller's name "
        "up first, which takes long where the DNS drops queries) [30]",
    )
    scan.add_argument(
        "--outside",
        metavar="URL",
        help="also ask this reflector (https://...) to scan the practice's public address "
        "back from the internet, during the LAN scan; also $EXPOSCAN_OUTSIDE or [outside] "
        "url in $XDG_CONFIG_HOME/exposcan/config.toml. Its token only from a file "
        "(token_file, $EXPOSCAN_OUTSIDE_TOKEN_FILE) or $EXPOSCAN_OUTSIDE_TOKEN",
    )
    scan.add_argument(
        "--outside-ca",
        metavar="FILE",
        help="CA certificate(s) (PEM) of a self-hosted reflector [system CAs]",
    )
    scan.add_argument(
        "--outside-pin",
        metavar="SHA256",
        help="the reflector's pinned certificate: SHA-256 of its DER form, in hex",
    )
    scan.add_argument(
        "--outside-public",
        metavar="ADDRESS",
        help="the practice's public IPv4 address, as you know it: the NAT loopback check "
        "tries it (unless the reflector or the box names another); without it, only an "
        "address the reflector and the box (UPnP) agree on; also $EXPOSCAN_OUTSIDE_PUBLIC "
        "or [outside] public_address",
    )
    scan.add_argument(
        "--no-outside",
        action="store_true",
        help="no outside view, even if the environment or the config file names a reflector",
    )
    push.add_options(scan)
    scan.add_argument(
        "--fail-on",
        default="high",
        choices=[s.value for s in Severity] + ["never"],
        help="lowest severity that makes the exit code 1 [high]",
    )
    scan.add_argument(
        "--baseline",
        metavar="last|REPORT.json",
        help="a previous report, or last: the previous complete run of the same "
        "targets and vantage in the history; only findings it did not hold "
        "count for the exit code (a cron audit alerts on what is new)",
    )
    add_db_option(scan)
    scan.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="URL",
        help="send the verdict when something is new: http(s)://... (a JSON "
        "webhook) or smtp(s)://[user@]host[:port]?to=a@b&from=c@d (a mail, the "
        "report attached; password from $EXPOSCAN_SMTP_PASSWORD or the file "
        "$EXPOSCAN_SMTP_PASSWORD_FILE); repeatable",
    )
    scan.add_argument(
        "--notify-always",
        action="store_true",
        help="notify after every run, not only when something is new",
    )
    scan.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    scan.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    diff = sub.add_parser(
        "diff",
        help="compare two runs: report files or history run ids; "
        "default the last two runs of the same targets (exit 0 same, "
        "1 changed, 2 error)",
    )
    diff.add_argument("old", nargs="?", metavar="OLD")
    diff.add_argument("new", nargs="?", metavar="NEW")
    diff.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(diff)
    add_parsers(sub)
    report = sub.add_parser(
        "report",
        help="write a saved JSON report as HTML (or JSON): "
        "exposcan report IN.json -o OUT.html [--lang fr|en]",
    )
    report.add_argument("input", metavar="IN.json")
    report.add_argument(
        "-o",
        "--output",
        action="append",
        required=True,
        metavar="FILE",
        help="the report to write (.html or .json); repeatable",
    )
    report.add_argument(
        "--lang",
        choices=list(LANGUAGES),
        default=default_lang(),
        help="language of the HTML report [from the locale]",
    )
    reflector_cli.add_parser(sub)
    catalogue_cli.add_parser(sub)
    hub_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code not in (0, None) else EXIT_CLEAN
    if args.command == "diff":
        return run_diff(args)
    if args.command == "history":
        return run_history(args)
    if args.command == "report":
        return run_report(args)
    if args.command == "reflector":
        return reflector_cli.run(args)
    if args.command == "catalogue":
        return catalogue_cli.run(args)
    if args.command == "hub":
        return hub_cli.run(args)
    code = run_scan(args)
    # Every output is written: what is left is interpreter teardown, whose
    # final collection walks every object of the scan (measured here 0.3 to
    # 1.2 s after the report). Frozen objects are not collected again; a
    # thread still running would still be waited for (none may outlive its
    # deadline), so this hides no hang.
    gc.freeze()
    return code


def run_report(args: argparse.Namespace) -> int:
    """Render a saved report again: another language, or HTML for a JSON."""
    from rich.console import Console

    from exposcan.audit.diff import load_report
    from exposcan.report.write import write_report

    try:
        for path in args.output:
            check_output(path)
        report = load_report(args.input)
        for path in args.output:
            write_report(report, path, args.lang)
    except (OSError, ValueError) as exc:  # ReportFormatError and pydantic's are ValueErrors
        Console(stderr=True).print(f"exposcan: error: {exc}", markup=False)
        return EXIT_ERROR
    return EXIT_CLEAN


def _ports(args: argparse.Namespace, default: Callable[[], list[int]]) -> list[int]:
    """-p, else every port from the internet, else ``default()`` (the
    catalogue's practice list)."""
    if args.ports:
        spec = ALL_PORTS if args.ports.strip() == "-" else args.ports
        return parse_ports(spec)
    if Vantage(args.vantage) is Vantage.INTERNET:
        return parse_ports(ALL_PORTS)
    return default()


def _config(args: argparse.Namespace, catalogue: Catalogue) -> ScanConfig:
    from exposcan.config import ScanConfig
    from exposcan.limits import Deadlines
    from exposcan.protocols.dicom.options import DicomOptions

    vantage = Vantage(args.vantage)
    ports = _ports(args, catalogue.default_ports)
    return ScanConfig(
        ports=ports,
        ports_spec=format_ports(ports),
        vantage=vantage,
        deadlines=Deadlines.from_read(args.timeout),
        scan_timeout=args.scan_timeout,
        scan_type=args.scan_type,
        concurrency=args.concurrency,
        per_host=args.per_host,
        rate=args.rate,
        discovery=not args.no_discovery,
        intrusive=args.intrusive,
        verbose=args.verbose,
        # The DICOM flags keep their names; they build the protocol's own
        # options type (the other protocols keep their defaults).
        options={
            "dicom": DicomOptions(
                calling_ae=args.calling_ae, association_timeout=args.association_timeout
            ),
        },
    )


def _auto_targets(view: LocalView, err: Console, quiet: bool) -> list[str]:
    specs: list[str] = []
    for net in view.networks:
        specs.append(str(net.network))
        if not quiet:
            extra = (
                (
                    f" (the interface has {net.declared}: larger than /22, so only the /24 "
                    "around this machine)"
                )
                if net.shrunk
                else ""
            )
            err.print(f"exposcan: scanning {net.network} on {net.interface}{extra}")
    if view.gateway and not any(view.gateway in n.network for n in view.networks):
        specs.append(str(view.gateway))
    if view.gateway and not quiet:
        err.print(f"exposcan: default gateway {view.gateway} (the internet box) included")
    return specs


def _port_scan_only(args: argparse.Namespace) -> bool:
    """A scan that :mod:`exposcan.port_scan` runs without the engine: a
    port scan (--no-probes) of named targets, with no live progress line,
    no -v log, no baseline and no notification (what those show or
    compare is the engine's: they take the engine's path)."""
    return bool(
        args.no_probes
        and args.targets
        and not args.verbose
        and not args.baseline
        and not args.notify
        and (args.quiet or not sys.stderr.isatty())
    )


def _error(message: str) -> int:
    print(f"exposcan: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _targets(args: argparse.Namespace, specs: list[str]) -> TargetSet:
    """The targets, exclusions applied (TargetError: bad, or none left)."""
    targets = static_targets(specs, args.exclude, args.max_hosts)
    if targets is None:  # a host name: the resolver, in an event loop
        import asyncio

        targets = asyncio.run(build_targets(specs, args.exclude, max_hosts=args.max_hosts))
    if not targets.addresses:
        raise TargetError("nothing to scan (every target excluded)")
    return targets


def run_port_scan(args: argparse.Namespace) -> int:
    """``scan --no-probes`` of named targets (:func:`_port_scan_only`)."""
    from exposcan.audit.history import History, HistoryError
    from exposcan.catalogue_files import CatalogueError
    from exposcan.net.synscan import syn_available
    from exposcan.port_scan import PortScanRequest, run_port_scan
    from exposcan.portlist import default_ports, read_port_list
    from exposcan.report.write import write_document

    history: History | None = None
    try:
        for path in args.output:
            check_output(path)
        guesses = read_port_list()
        ports = _ports(args, lambda: default_ports(guesses))
        if args.scan_type == "syn" and not syn_available():
            raise ValueError("--scan-type syn needs root (raw sockets); use connect")
        hub = None if args.no_hub else push.resolve(args.hub, args.hub_ca, args.hub_pin)
        targets = _targets(args, list(args.targets))
    except (
        ReportFormatError,
        push.HubConfigError,
        PortSpecError,
        CatalogueError,
        TargetError,
        OSError,
        ValueError,
    ) as exc:
        return _error(str(exc))
    try:
        history, history_problem = History.open(args.db), ""
    except HistoryError as exc:
        history_problem = str(exc)
    view = None
    if not args.no_discovery and Vantage(args.vantage) is Vantage.LAN:
        from exposcan.net.localview import local_view

        try:
            view = local_view()
        except (OSError, ValueError):
            view = None  # discovery without ARP: TCP pings
    request = PortScanRequest(
        targets.addresses,
        targets.labels,
        ports,
        format_ports(ports),
        guesses,
        vantage=Vantage(args.vantage),
        scan_type=args.scan_type,
        concurrency=args.concurrency,
        scan_timeout=args.scan_timeout,
        rate=args.rate,
        discovery=not args.no_discovery,
    )
    outcome = run_port_scan(request, view)
    document = outcome.document
    report: Report | None = None
    for path in args.output:
        if path.lower().endswith(".json"):
            write_document(document, path)
        else:
            report = report or _report_of(document)
            _write_report(report, path, args.lang)
    if not args.quiet:
        report = report or _report_of(document)
        _print_summary(report, args.output, args.lang)
    if hub is not None:  # neither the exit code nor the files depend on the hub
        line, warn = push.describe(push.push(report or _report_of(document), hub))
        if warn or not args.quiet:
            print(line, file=sys.stderr)
    if history is None:
        print(f"exposcan: warning: this run is not recorded: {history_problem}", file=sys.stderr)
    else:
        try:
            with history:
                history.record_document(document)
        except HistoryError as exc:
            print(f"exposcan: warning: this run is not recorded: {exc}", file=sys.stderr)
    # A port scan has no finding: its exit code says whether it ended.
    return EXIT_CLEAN if outcome.complete else EXIT_ERROR


def _report_of(document: dict[str, Any]) -> Report:
    from exposcan.models import Report

    return Report.model_validate(document)


def _write_report(report: Report, path: str, lang: str) -> None:
    from exposcan.report.write import write_report

    write_report(report, path, lang)


def _print_summary(report: Report, outputs: list[str], lang: str) -> None:
    from rich.console import Console

    from exposcan.report.terminal import render_summary

    # Without a terminal (cron mail, a pipe) rich would wrap at 80 columns.
    out = Console() if sys.stdout.isatty() else Console(width=120)
    out.print(render_summary(report, outputs, lang))


def run_scan(args: argparse.Namespace) -> int:
    if _port_scan_only(args):
        return run_port_scan(args)
    import asyncio
    import dataclasses
    import logging

    from rich.console import Console

    from exposcan.audit.diff import diff_reports, load_report, render_diff
    from exposcan.audit.history import HistoryError
    from exposcan.audit.run import BASELINE_LAST, Audit, AuditError
    from exposcan.catalogue import CatalogueError, default_catalogue
    from exposcan.net.localview import local_view
    from exposcan.net.synscan import syn_available
    from exposcan.outside.settings import OutsideConfigError, resolve_public
    from exposcan.report.terminal import render_summary
    from exposcan.report.write import write_report
    from exposcan.service import ScanRequest

    # soft_wrap: an error stays one line whatever the width (no terminal: 80).
    err = Console(stderr=True, soft_wrap=True)
    # Without a terminal (cron mail, a pipe) rich would wrap at 80 columns.
    out = Console() if sys.stdout.isatty() else Console(width=120)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Libraries' warnings (cryptography on a 64 KiB certificate CN, pydicom
    # on a peer's odd UID) are the peer's doing, not the user's: logged as
    # py.warnings (shown at -vv only), never printed in quiet mode.
    logging.captureWarnings(True)
    if args.verbose < 2:
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
    if args.quiet:
        logging.getLogger().setLevel(logging.CRITICAL)
    try:
        for path in args.output:
            check_output(path)
        catalogue = default_catalogue()
        if not args.no_probes:
            # Every file validated before the first packet; a port scan
            # reads only the kinds it uses (the port list, the words).
            catalogue.read_all()
        config = _config(args, catalogue)
        if args.scan_type == "syn" and not syn_available():
            raise ValueError("--scan-type syn needs root (raw sockets); use connect")
        baseline = (
            load_report(args.baseline) if args.baseline and args.baseline != BASELINE_LAST else None
        )
        audit = Audit.prepare(
            args.db, args.baseline, args.notify, args.notify_always, args.fail_on, args.lang
        )
        outside = _outside_settings(args, config)
        # The config file is read only where the outside view may be.
        declared_public = (
            resolve_public(args.outside_public)
            if not args.no_outside and config.vantage is Vantage.LAN
            else None
        )
        hub = None if args.no_hub else push.resolve(args.hub, args.hub_ca, args.hub_pin)
    except (
        ReportFormatError,
        OutsideConfigError,
        push.HubConfigError,
        PortSpecError,
        CatalogueError,
        OSError,
        ValueError,
        AuditError,
        HistoryError,
    ) as exc:
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
        targets = asyncio.run(build_targets(specs, args.exclude, max_hosts=args.max_hosts))
    except TargetError as exc:
        err.print(f"exposcan: error: {exc}", markup=False)
        return EXIT_ERROR
    if not targets.addresses:
        err.print("exposcan: error: nothing to scan (every target excluded)")
        return EXIT_ERROR

    if targets.excluded:
        config = dataclasses.replace(config, excluded=frozenset(str(a) for a in targets.excluded))
    if args.targets:
        # Named targets are the scope: no box, no forward's host beyond them
        # unless --follow-box.
        config = dataclasses.replace(
            config,
            scope=frozenset(str(a) for a in targets.addresses),
            follow_box=args.follow_box,
        )
    if not args.targets and config.vantage is Vantage.LAN and config.discovery:
        # IPv6: a LAN's /64 cannot be swept; its hosts answer all-nodes.
        config = dataclasses.replace(config, neighbour_discovery=True)
        if not args.quiet:
            err.print("exposcan: IPv6 hosts of the same networks by neighbour discovery (no sweep)")
    # What start-up built (modules, the catalogue) lives until exit: frozen,
    # it is not walked again by the collections the scan's allocations set
    # off (a full-range SYN sweep, 65,535 answers: 0.2-0.25 s less here).
    gc.freeze()
    request = ScanRequest(
        config,
        catalogue,
        targets.addresses,
        labels=targets.labels,
        view=view,
        probes=not args.no_probes,
        outside=None
        if args.no_probes
        else _outside_check(outside, config, catalogue, declared_public),
        answer_cancellation=True,
    )
    outcome = _run(request, show_progress=err.is_terminal and not args.quiet, console=err)
    complete, report = outcome.complete, outcome.report
    if outside is not None and report.outside is not None and report.outside.error:
        err.print(f"exposcan: the outside view failed: {report.outside.error}", markup=False)
    for path in args.output:
        write_report(report, path, args.lang, catalogue)
    if not args.quiet:
        out.print(render_summary(report, args.output, args.lang, catalogue))
    if hub is not None:  # neither the exit code nor the files depend on the hub
        line, warn = push.describe(push.push(report, hub))
        if warn or not args.quiet:
            err.print(line, markup=False)
    # The history records every run; "last" is looked up before this one is.
    baseline = audit.conclude(report, baseline, err, args.quiet)
    if not complete:
        return EXIT_ERROR
    if baseline is not None:
        diff = diff_reports(baseline, report)
        if not args.quiet:
            out.print(f"compared with {audit.baseline_label}:", markup=False)
            out.print(render_diff(diff), markup=False, end="")
        report = report.model_copy(update={"findings": diff.new})
    return exit_code(report, args.fail_on)


def exit_code(report: Report, fail_on: str) -> int:
    from exposcan.models import at_or_above

    return EXIT_FINDINGS if at_or_above(report.findings, fail_on) else EXIT_CLEAN


def _outside_settings(args: argparse.Namespace, config: ScanConfig) -> OutsideSettings | None:
    from exposcan.outside.settings import resolve

    if args.no_outside:
        return None
    if config.vantage is not Vantage.LAN:
        if args.outside:
            raise ValueError("--outside is for a scan from inside the practice (--vantage lan)")
        return None  # a reflector named by the environment is for the LAN scans
    return resolve(args.outside, args.outside_ca, args.outside_pin)


def _outside_check(
    outside: OutsideSettings | None,
    config: ScanConfig,
    catalogue: Catalogue,
    declared_public: str | None,
) -> OutsideCheck:
    # Imported only for a scan that probes: a port scan's start-up does not
    # pay for the outside view.
    from exposcan.outside.view import OutsideCheck

    return OutsideCheck(outside, config, catalogue, declared_public=declared_public)


def _run(request: ScanRequest, show_progress: bool, console: Console) -> ScanOutcome:
    """The scan service under ^C and SIGTERM: either ends it with the report
    of what was gathered, marked incomplete."""
    import asyncio
    import signal

    from exposcan.report.terminal import LiveProgress
    from exposcan.service import run_scan as run_scan_service
    from exposcan.service import scanner_for

    scanner = scanner_for(request)

    async def main() -> ScanOutcome:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await run_scan_service(request, scanner)

    if show_progress:
        with LiveProgress(console, scanner.state.progress):
            return asyncio.run(main())
    return asyncio.run(main())
    return asyncio.run(main())
