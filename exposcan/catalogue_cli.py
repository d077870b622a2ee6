"""``exposcan catalogue check [DIR]``: validate a catalogue without scanning.

As nuclei's ``-validate``: every file is checked against its kind's model,
one line per error, exit 2 when there is any (0 when the catalogue is
sound). The JSON Schema of a catalogue file is checked in at
``exposcan/schema/catalogue.schema.json`` (``python -m exposcan.schema``
writes it) for editors and other tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CLEAN = 0
EXIT_ERROR = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    catalogue = sub.add_parser("catalogue", help="work on a catalogue of checks (probes/)")
    actions = catalogue.add_subparsers(dest="catalogue_command", required=True)
    check = actions.add_parser(
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


def run(args: argparse.Namespace) -> int:
    from exposcan.catalogue import CatalogueError, catalogue_dir, check_catalogue

    if args.catalogue_command == "check":
        try:
            root = args.directory or catalogue_dir()
        except CatalogueError as exc:
            print(f"exposcan: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        errors = check_catalogue(root)
        for line in errors:
            print(line)
        if errors:
            print(f"{len(errors)} error(s) in {root}", file=sys.stderr)
            return EXIT_ERROR
        print(f"catalogue {root}: sound")
        return EXIT_CLEAN
    return EXIT_ERROR  # pragma: no cover - argparse requires a command
