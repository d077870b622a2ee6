"""What the UPnP probe knows of one internet box (IGD), and the helpers its
jobs share: where its description usually is, how an answer failed."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from urllib.parse import urlsplit

from exposcan.catalogue import Catalogue
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError
from exposcan.protocols.upnp.catalogue import IgdLocationsFile
from exposcan.protocols.upnp.client import HttpStatus
from exposcan.protocols.upnp.xml import FirewallStatus, IgdDescription, PortMapping, UnsafeXml

#: The probe's name in error records.
PROBE_NAME = "upnp"
#: The facts this probe records (what the outside view reads: the box's
#: public address and its forwards).
IGD_FACT = "upnp.igd"
MAPPING_FACT = "upnp.mapping"


@dataclass(frozen=True)
class IgdLocations:
    """Catalogue ``upnp-igd-locations``: where a box's description usually is."""

    ports: tuple[int, ...]
    igd_specific_ports: tuple[int, ...]
    paths: tuple[str, ...]

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> IgdLocations:
        ports: list[int] = []
        specific: list[int] = []
        paths: list[str] = []
        for entry in catalogue.documents(IgdLocationsFile):
            for item in entry.ports:
                ports.append(item.port)
                if item.igd_specific:
                    specific.append(item.port)
            paths += entry.paths
        return cls(
            tuple(dict.fromkeys(ports)), tuple(dict.fromkeys(specific)), tuple(dict.fromkeys(paths))
        )


@dataclass
class Igd:
    address: str
    port: int
    location: str
    description: IgdDescription
    found_by: str  # ssdp, gateway, scan
    server: str = ""
    external_ip: str | None = None
    mappings: list[PortMapping] = field(default_factory=list)
    ipv6_firewall: FirewallStatus | None = None
    ipv6_firewall_error: str | None = None
    #: The forwards were listed to their end (error 713) or to the cap: a
    #: listing that failed or was cut says "unknown", never "0 forwards".
    listed: bool = False


def ipv4(text: str) -> IPv4Address | None:
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def url_port(url: str) -> int:
    with contextlib.suppress(ValueError):
        port = urlsplit(url).port
        if port:
            return port
    return 80


def describe(exc: BaseException) -> tuple[ErrorReason, str]:
    if isinstance(exc, ProbeError):
        return exc.reason, exc.detail
    if isinstance(exc, UnsafeXml):
        return ErrorReason.PROTOCOL, f"refused XML with a DTD or entities ({exc})"
    if isinstance(exc, HttpStatus):
        return ErrorReason.PROTOCOL, str(exc)
    return ErrorReason.PROTOCOL, type(exc).__name__
