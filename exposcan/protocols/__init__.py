"""The protocol registry: a new protocol is one module plus one entry here."""

from __future__ import annotations

from exposcan.probe import NetworkProbe, ServiceProbe


def service_probes() -> list[type[ServiceProbe]]:
    from exposcan.protocols.dicom.probe import DicomProbe
    from exposcan.protocols.http.probe import HttpProbe
    from exposcan.protocols.identify import IdentifyProbe
    from exposcan.protocols.smb.probe import SmbProbe

    return [IdentifyProbe, HttpProbe, SmbProbe, DicomProbe]


def network_probes() -> list[type[NetworkProbe]]:
    from exposcan.protocols.upnp.probe import UpnpProbe

    return [UpnpProbe]
