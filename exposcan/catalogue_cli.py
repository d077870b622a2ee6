"""``exposcan catalogue ...``: commands over the catalogue itself, not a scan.

- ``check [DIR]``: validate a catalogue without scanning, as nuclei's
  ``-validate``: every file is checked against its kind's model, one line
  per error, exit 2 when there is any (0 when the catalogue is sound).  The
  JSON Schema of a catalogue file is checked in at
  ``exposcan/schema/catalogue.schema.json`` (``python -m exposcan.schema``
  writes it) for editors and other tools.
- ``import-advisories FILE...``: write advisory files from NVD CVE JSON 2.0
  and CISA KEV CSV downloads (:mod:`exposcan.software.importer`), offline.

A command is one sub-parser here and one function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CLEAN, EXIT_ERROR = 0, 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "catalogue", help="work on the catalogue (probes/): check it, import advisories"
    )
    commands = group.add_subparsers(dest="catalogue_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="validate a catalogue: one line per error, exit 2 when there is any",
    )
    check.add_argument(
        "directory",
        nargs="?",
        type=Path,
        metavar="DIR",
        help="the catalogue folder [$EXPOSCAN_CATALOGUE, else the shipped one]",
    )
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
    if args.catalogue_command == "check":
        return _check(args)
    if args.catalogue_command == "import-advisories":
        return _import(args)
    return EXIT_ERROR  # pragma: no cover - argparse requires a known command


def _error(message: str) -> int:
    print(f"exposcan: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _check(args: argparse.Namespace) -> int:
    from exposcan.catalogue import CatalogueError, catalogue_dir, check_catalogue

    try:
        root = args.directory or catalogue_dir()
    except CatalogueError as exc:
        return _error(str(exc))
    errors = check_catalogue(root)
    for line in errors:
        print(line)
    if errors:
        print(f"{len(errors)} error(s) in {root}", file=sys.stderr)
        return EXIT_ERROR
    print(f"catalogue {root}: sound")
    return EXIT_CLEAN


def _import(args: argparse.Namespace) -> int:
    # Imported here: a scan's start-up does not pay for the importer.
    from exposcan.catalogue import CatalogueError, catalogue_dir, default_catalogue
    from exposcan.software.importer import AdvisoryImportError, import_advisories

    try:
        catalogue = default_catalogue().read_all()
        out = args.out or catalogue_dir() / "advisories" / "imported"
        result = import_advisories(catalogue, list(args.files), out)
    except (OSError, AdvisoryImportError, CatalogueError, ValueError) as exc:
        return _error(str(exc))
    # One plain line (a terminal library would wrap it): scripts read it.
    sys.stdout.write(
        f"{len(result.written)} advisories written to {out} from {result.cves_read} CVEs "
        f"({result.skipped_unknown_product} for products the catalogue does not name, "
        f"{result.skipped_unbounded} ranges without an upper bound left out); "
        f"KEV: {result.kev_cves} CVEs, {len(result.marked_exploited)} earlier imports marked "
        "known exploited\n"
    )
    return EXIT_CLEAN
