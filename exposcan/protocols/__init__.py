"""The protocol registry: a new protocol is one module plus one entry here."""

from __future__ import annotations

from exposcan.probe import NetworkProbe, ServiceProbe

#: Modules that declare what a protocol adds to the catalogue (its kinds:
#: :func:`exposcan.catalogue.catalogue_kind`); imported before a catalogue
#: loads, so that every kind is known and checked.  A new protocol whose
#: catalogue files are of a new kind adds its module here.
DECLARATIONS: tuple[str, ...] = (
    "exposcan.protocols.dicom.catalogue",
    "exposcan.protocols.ftp.catalogue",
    "exposcan.protocols.http.fingerprints",
    "exposcan.protocols.http.listing",
    "exposcan.protocols.upnp.catalogue",
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
