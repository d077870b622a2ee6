"""``exposcan catalogue ...``: commands over the catalogue itself (not a scan).

``import-advisories FILE...`` writes advisory files from NVD CVE JSON 2.0 and
CISA KEV CSV downloads (:mod:`exposcan.software.importer`).  A command is one
sub-parser here and one function; ``check`` (validate a catalogue folder, as
nuclei's ``-validate``) has its place next to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

EXIT_CLEAN, EXIT_ERROR = 0, 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("catalogue", help="work on the catalogue (probes/): import advisories")
    commands = group.add_subparsers(dest="catalogue_command", required=True, metavar="COMMAND")
    imp = commands.add_parser(
        "import-advisories",
        help="write advisory files from NVD CVE JSON 2.0 and CISA KEV CSV files "
        "downloaded beforehand (offline)",
    )
    imp.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="NVD CVE JSON 2.0 (API answer or feed) or CISA KEV CSV, told apart by content",
    )
    imp.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write them [the catalogue's advisories/imported/]",
    )


def run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    if args.catalogue_command == "import-advisories":
        return _import(args, err)
    return EXIT_ERROR  # pragma: no cover - argparse requires a known command


def _import(args: argparse.Namespace, err: Console) -> int:
    # Imported here: a scan's start-up does not pay for the importer.
    from exposcan.catalogue import CatalogueError, catalogue_dir, default_catalogue
    from exposcan.software.importer import AdvisoryImportError, import_advisories

    try:
        catalogue = default_catalogue()
        out = args.out or catalogue_dir() / "advisories" / "imported"
        result = import_advisories(catalogue, list(args.files), out)
    except (OSError, AdvisoryImportError, CatalogueError, ValueError) as exc:
        err.print(f"exposcan: error: {exc}", markup=False)
        return EXIT_ERROR
    # One plain line (rich would wrap it at the terminal's width): scripts read it.
    sys.stdout.write(
        f"{len(result.written)} advisories written to {out} from {result.cves_read} CVEs "
        f"({result.skipped_unknown_product} for products the catalogue does not name, "
        f"{result.skipped_unbounded} ranges without an upper bound left out); "
        f"KEV: {result.kev_cves} CVEs, {len(result.marked_exploited)} earlier imports marked "
        "known exploited\n"
    )
    return EXIT_CLEAN
