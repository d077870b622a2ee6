"""The UPnP probe's catalogue kind: ``upnp-igd-locations``
(``probes/upnp/igd-locations.yaml``), where a box's IGD description usually
lives when no box answers SSDP."""

from __future__ import annotations

from pydantic import Field

from exposcan.catalogue import CatalogueModel, catalogue_kind


class IgdPort(CatalogueModel):
    port: int = Field(ge=1, le=65535)
    #: Tried on scanned hosts too, not only on the default gateway (a NAS or
    #: a PACS web server on 80 or 5000 is no reason to knock on every path).
    igd_specific: bool = False


@catalogue_kind("upnp-igd-locations")
class IgdLocationsFile(CatalogueModel):
    ports: list[IgdPort] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
