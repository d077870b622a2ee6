"""The protocol registry: a new protocol is one package plus one entry here.

A leaf: this module imports nothing of exposcan when it loads.  Each entry
names its probe classes and the modules that declare its catalogue and fact
kinds, and its options type, by path; they are imported only when a scan
needs them (the engine asks for the probes, a catalogue load for the
declarations, a scan's configuration for the options), so a run that
probes nothing (a port scan, ``catalogue check``, a report) loads no probe,
and no module below imports its way back up to the registry.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exposcan.probe import NetworkProbe, ServiceProbe


@dataclass(frozen=True)
class ProtocolEntry:
    """One protocol: what the engine loads and what a catalogue load imports."""

    name: str
    #: Probe classes as ``module:Class``, service probes (one per open
    #: port) in the order the engine runs them.
    service_probes: tuple[str, ...] = ()
    #: Probes of the network as a whole (the box, the IPv6 path).
    network_probes: tuple[str, ...] = ()
    #: Modules that register the protocol's catalogue kinds
    #: (:func:`exposcan.catalogue.catalogue_kind`) and fact kinds
    #: (:func:`exposcan.facts.fact_kind`).
    declarations: tuple[str, ...] = ()
    #: The protocol's options type as ``module:Class`` (a frozen dataclass,
    #: validated when built, every field with a default, a ``protocol``
    #: class attribute naming this entry); its probes read it through
    #: :meth:`exposcan.config.ScanConfig.options_for`.  None: no options.
    options: str | None = None


PROTOCOLS: tuple[ProtocolEntry, ...] = (
    ProtocolEntry("identify", service_probes=("exposcan.protocols.identify:IdentifyProbe",)),
    ProtocolEntry(
        "http",
        service_probes=("exposcan.protocols.http.probe:HttpProbe",),
        declarations=(
            "exposcan.protocols.http.facts",
            "exposcan.protocols.http.fingerprints",
            "exposcan.protocols.http.listing",
        ),
    ),
    ProtocolEntry(
        "smb",
        service_probes=("exposcan.protocols.smb.probe:SmbProbe",),
        declarations=("exposcan.protocols.smb.facts",),
        options="exposcan.protocols.smb.options:SmbOptions",
    ),
    ProtocolEntry(
        "ftp",
        service_probes=("exposcan.protocols.ftp.probe:FtpProbe",),
        declarations=("exposcan.protocols.ftp.catalogue", "exposcan.protocols.ftp.facts"),
        options="exposcan.protocols.ftp.options:FtpOptions",
    ),
    ProtocolEntry(
        "dicom",
        service_probes=("exposcan.protocols.dicom.probe:DicomProbe",),
        declarations=("exposcan.protocols.dicom.catalogue", "exposcan.protocols.dicom.facts"),
        options="exposcan.protocols.dicom.options:DicomOptions",
    ),
    ProtocolEntry(
        "upnp",
        network_probes=("exposcan.protocols.upnp.probe:UpnpProbe",),
        declarations=("exposcan.protocols.upnp.catalogue", "exposcan.protocols.upnp.facts"),
    ),
    ProtocolEntry(
        "ipv6",
        network_probes=("exposcan.protocols.ipv6.probe:Ipv6PathProbe",),
        declarations=("exposcan.protocols.ipv6.facts",),
    ),
)

#: Modules outside the protocol packages that register catalogue or fact
#: kinds: the facts every protocol shares, the imaging and health-data
#: signatures, the report's guides and labels, the software identities
#: (products, advisories, decoys).
CORE_DECLARATIONS: tuple[str, ...] = (
    "exposcan.facts",
    "exposcan.notes",
    "exposcan.proofs",
    "exposcan.imaging",
    "exposcan.walk.scores",
    "exposcan.healthdata",
    "exposcan.report.guides",
    "exposcan.report.labels",
    "exposcan.report.i18n",
    "exposcan.software.advisories",
    "exposcan.software.decoys",
    "exposcan.software.facts",
    "exposcan.software.products",
)


def declarations() -> tuple[str, ...]:
    """Every module to import before a catalogue loads, core ones first."""
    return CORE_DECLARATIONS + tuple(m for p in PROTOCOLS for m in p.declarations)


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    loaded: type = getattr(importlib.import_module(module), name)
    return loaded


def service_probes() -> list[type[ServiceProbe]]:
    """The service probe classes, imported now, in the engine's order."""
    return [_load(path) for p in PROTOCOLS for path in p.service_probes]


def network_probes() -> list[type[NetworkProbe]]:
    """The network probe classes (the box, the IPv6 path), imported now."""
    return [_load(path) for p in PROTOCOLS for path in p.network_probes]


def options_types() -> dict[str, type]:
    """Protocol name -> its options type, imported now."""
    return {p.name: _load(p.options) for p in PROTOCOLS if p.options is not None}


def default_options() -> dict[str, object]:
    """Protocol name -> its options with every default (what a scan is given
    when its caller sets none)."""
    return {name: kind() for name, kind in options_types().items()}
