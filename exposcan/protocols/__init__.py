"""The protocol registry: a new protocol is one module plus one entry here."""

from __future__ import annotations

from exposcan.probe import NetworkProbe, ServiceProbe

#: Modules that declare what a protocol adds: its catalogue kinds
#: (:func:`exposcan.catalogue.catalogue_kind`) and its fact kinds
#: (:func:`exposcan.facts.fact_kind`).  Imported before a catalogue loads, so
#: that every kind is known and every rule checked.  A new protocol adds its
#: ``facts`` module (and its catalogue module, if it has a kind) here.
DECLARATIONS: tuple[str, ...] = (
    "exposcan.protocols.dicom.catalogue",
    "exposcan.protocols.dicom.facts",
    "exposcan.protocols.ftp.catalogue",
    "exposcan.protocols.ftp.facts",
    "exposcan.protocols.http.facts",
    "exposcan.protocols.http.fingerprints",
    "exposcan.protocols.http.listing",
    "exposcan.protocols.ipv6.facts",
    "exposcan.protocols.smb.facts",
    "exposcan.protocols.upnp.catalogue",
    "exposcan.protocols.upnp.facts",
)


def service_probes() -> list[type[ServiceProbe]]:
    from exposcan.protocols.dicom.probe import DicomProbe
    from exposcan.protocols.ftp.probe import FtpProbe
    from exposcan.protocols.http.probe import HttpProbe
    from exposcan.protocols.identify import IdentifyProbe
    from exposcan.protocols.smb.probe import SmbProbe

    return [IdentifyProbe, HttpProbe, SmbProbe, FtpProbe, DicomProbe]


def network_probes() -> list[type[NetworkProbe]]:
    from exposcan.protocols.ipv6.probe import Ipv6PathProbe
    from exposcan.protocols.upnp.probe import UpnpProbe

    return [UpnpProbe, Ipv6PathProbe]
