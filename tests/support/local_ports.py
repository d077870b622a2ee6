"""In-process scans of a protocol on an unprivileged port.

The engine names an open port's protocol from the catalogue's port list
(``probes/ports.yaml``: 445 is smb, 21 ftp), and picks the probes by that
name. A test server cannot bind 445 or 21 without root, so it listens on a
free port and the scan is given a catalogue whose port list names that port,
as a practice's own catalogue would for a NAS on an odd port: in-process, a
:class:`Catalogue` (:func:`scan_as`); for the CLI, a catalogue folder given
through ``EXPOSCAN_CATALOGUE`` (:func:`catalogue_dir_naming`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from exposcan.catalogue import Catalogue, PortEntry, catalogue_dir
from exposcan.models import Report
from exposcan.probe import ServiceProbe
from tests.helpers import scan_local

LOOPBACK = "127.0.0.1"


def catalogue_naming(entries: Iterable[PortEntry]) -> Catalogue:
    """The shipped catalogue (a fresh copy: the cached default is shared),
    its port list naming ``entries`` too."""
    catalogue = Catalogue.load(lazy=True)
    for entry in entries:
        catalogue.ports[entry.port] = entry
    return catalogue


def catalogue_dir_naming(tmp_path: Path, entries: Iterable[PortEntry]) -> Path:
    """A copy of the shipped catalogue folder whose ports.yaml names
    ``entries`` too, for ``EXPOSCAN_CATALOGUE``."""
    root = tmp_path / "probes"
    shutil.copytree(catalogue_dir(), root)
    ports = root / "ports.yaml"
    doc = yaml.safe_load(ports.read_text())
    doc["ports"] += [e.model_dump(exclude_defaults=True) | {"default": False} for e in entries]
    ports.write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


async def scan_as(
    entries: Iterable[PortEntry],
    service_probes: list[type[ServiceProbe]],
    *,
    host: str = LOOPBACK,
    timeout: float = 2.0,
    total: float | None = None,
    options: Mapping[str, object] | None = None,
) -> Report:
    """Scan ``host`` (loopback only) on the ports of ``entries`` with the
    real engine, each port taken for the protocol its entry names;
    ``options``: protocol options by protocol name (defaults otherwise)."""
    named = list(entries)
    return await scan_local(
        [e.port for e in named],
        service_probes,
        host=host,
        timeout=timeout,
        total=total,
        catalogue=catalogue_naming(named),
        options=options,
    )
