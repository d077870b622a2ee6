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
from ipaddress import IPv4Address
from pathlib import Path

import yaml

from exposcan.catalogue import Catalogue, PortEntry, catalogue_dir
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.limits import Deadlines
from exposcan.models import Report
from exposcan.net.portspec import format_ports
from exposcan.probe import ServiceProbe
from tests.helpers import assert_valid_report

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
    assert IPv4Address(host).is_loopback, "in-process tests scan loopback only"
    named = list(entries)
    ports = [e.port for e in named]
    config = ScanConfig(
        ports=ports,
        ports_spec=format_ports(ports),
        deadlines=Deadlines(connect=timeout, read=timeout, total=total or timeout * 4),
        scan_timeout=1.0,
        discovery=False,
        options=options or {},
    )
    scanner = Scanner(config, catalogue_naming(named), service_probes, [])
    await scanner.run([IPv4Address(host)], [host])
    report = scanner.report(complete=True)
    assert_valid_report(report)
    return report
