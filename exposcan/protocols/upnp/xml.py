"""The XML of a UPnP IGD: its device description and the SOAP control messages.

Parsed with defusedxml with DTDs forbidden: whoever answers SSDP controls
this XML, and a DTD is how a billion-laughs entity bomb or an XXE (external
entity reading local files) gets in.  UPnP descriptions never need a DTD.
Only device strings (maker, model, names) and mapping fields are kept, each
cleaned and capped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as StdET  # only for the ParseError and Element types
from dataclasses import dataclass
from ipaddress import IPv4Address
from urllib.parse import urljoin
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

# IGD:1 and :2 (UPnP IGD v1 2001, v2 2010): the services that list forwards.
_WAN_CONNECTION = re.compile(r"^urn:schemas-upnp-org:service:WAN(IP|PPP)Connection:\d+$")
# IGD:2 only: the box's IPv6 firewall (WANIPv6FirewallControl:1, 2010).
_IPV6_FIREWALL = re.compile(r"^urn:schemas-upnp-org:service:WANIPv6FirewallControl:\d+$")
STRING_CAP = 80

# UPnP IGD WANIPConnection:2 §2.5: error 713 SpecifiedArrayIndexInvalid ends
# a GetGenericPortMappingEntry walk.
ARRAY_INDEX_INVALID = 713


class UnsafeXml(ValueError):
    """The XML holds a DTD or entities: refused (billion laughs, XXE)."""


class NotAnIgd(ValueError):
    """Well-formed XML, but no WAN connection service to ask."""


class UpnpFault(Exception):
    """A SOAP fault carrying a UPnPError (UDA 1.1 §3.2.2)."""

    def __init__(self, code: int | None, description: str) -> None:
        super().__init__(f"UPnPError {code}: {description}")
        self.code = code
        self.description = description


@dataclass(frozen=True)
class WanService:
    service_type: str
    control_url: str


@dataclass(frozen=True)
class IgdDescription:
    device_type: str
    friendly_name: str
    manufacturer: str
    model_name: str
    model_number: str
    services: tuple[WanService, ...]
    #: WANIPv6FirewallControl, when the box (IGD:2) has one.
    ipv6_firewall: WanService | None = None

    @property
    def product(self) -> str | None:
        parts = [p for p in (self.manufacturer, self.model_name) if p]
        return " ".join(parts) or None

    @property
    def igd_version(self) -> str:
        return self.device_type.rsplit(":", 1)[-1] if "InternetGateway" in self.device_type else ""


@dataclass(frozen=True)
class PortMapping:
    remote_host: str
    external_port: int
    protocol: str  # TCP or UDP
    internal_client: str
    internal_port: int
    enabled: bool
    description: str
    lease_duration: int


def clean(text: str | None, cap: int = STRING_CAP) -> str:
    """Printable, single-line, capped: device strings go into reports as is."""
    if not text:
        return ""
    out = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(out.split())[:cap]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes) -> StdET.Element:
    try:
        return SafeET.fromstring(body, forbid_dtd=True)  # type: ignore[no-any-return]
    except DefusedXmlException as exc:
        raise UnsafeXml(type(exc).__name__) from None
    except StdET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from None


def _child_text(element: StdET.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return ""


def parse_description(body: bytes, location: str) -> IgdDescription:
    """A device description (UDA 1.1 §2.3); control URLs resolved against
    URLBase, else the description's own URL."""
    root = parse_xml(body)
    if _local(root.tag) != "root":
        raise NotAnIgd("not a UPnP device description")
    base = clean(_child_text(root, "URLBase"), 300) or location
    device = next((c for c in root if _local(c.tag) == "device"), None)
    if device is None:
        raise NotAnIgd("no device element")
    services: list[WanService] = []
    firewall: WanService | None = None
    for element in root.iter():
        if _local(element.tag) != "service":
            continue
        service_type = _child_text(element, "serviceType").strip()
        control = _child_text(element, "controlURL").strip()
        if _WAN_CONNECTION.match(service_type) and control:
            services.append(WanService(service_type, urljoin(base, control)))
        elif _IPV6_FIREWALL.match(service_type) and control and firewall is None:
            firewall = WanService(service_type, urljoin(base, control))
    if not services:
        raise NotAnIgd("no WANIPConnection or WANPPPConnection service")
    return IgdDescription(
        device_type=clean(_child_text(device, "deviceType"), 120),
        friendly_name=clean(_child_text(device, "friendlyName")),
        manufacturer=clean(_child_text(device, "manufacturer")),
        model_name=clean(_child_text(device, "modelName")),
        model_number=clean(_child_text(device, "modelNumber")),
        services=tuple(dict.fromkeys(services)),
        ipv6_firewall=firewall,
    )


def soap_envelope(service_type: str, action: str, arguments: dict[str, str]) -> bytes:
    """A SOAP 1.1 action request (UDA 1.1 §3.2.1)."""
    args = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in arguments.items())
    return (
        '<?xml version="1.0"?>\r\n'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
        f'<s:Body><u:{action} xmlns:u="{escape(service_type)}">{args}</u:{action}>'
        "</s:Body></s:Envelope>"
    ).encode()


def parse_action_response(body: bytes, action: str) -> dict[str, str]:
    """The out arguments of ``<u:ACTIONResponse>`` (UDA 1.1 §3.2.1)."""
    root = parse_xml(body)
    for element in root.iter():
        if _local(element.tag) == f"{action}Response":
            return {_local(child.tag): (child.text or "").strip() for child in element}
    raise ValueError(f"no {action}Response in the answer")


def parse_fault(body: bytes) -> UpnpFault:
    """The UPnPError of a SOAP fault (UDA 1.1 §3.2.2), as an exception to raise."""
    root = parse_xml(body)
    code_text = ""
    description = ""
    for element in root.iter():
        name = _local(element.tag)
        if name == "errorCode":
            code_text = (element.text or "").strip()
        elif name == "errorDescription":
            description = clean(element.text)
    try:
        code: int | None = int(code_text)
    except ValueError:
        code = None
    return UpnpFault(code, description)


def parse_mapping(values: dict[str, str]) -> PortMapping:
    """One GetGenericPortMappingEntry answer (WANIPConnection:2 §2.4.14)."""
    protocol = values.get("NewProtocol", "").strip().upper()
    if protocol not in ("TCP", "UDP"):
        raise ValueError("mapping with an unknown protocol")
    external = int(values.get("NewExternalPort", ""))
    internal = int(values.get("NewInternalPort", ""))
    if not (0 <= external <= 65535 and 0 < internal <= 65535):
        raise ValueError("mapping with a port out of range")
    client = str(IPv4Address(values.get("NewInternalClient", "").strip()))
    enabled_text = values.get("NewEnabled", "1").strip().lower()
    try:
        lease = int(values.get("NewLeaseDuration", "0") or 0)
    except ValueError:
        lease = 0
    return PortMapping(
        remote_host=clean(values.get("NewRemoteHost"), 64),
        external_port=external,
        protocol=protocol,
        internal_client=client,
        internal_port=internal,
        enabled=enabled_text in ("1", "true", "yes"),
        description=clean(values.get("NewPortMappingDescription"), 64),
        lease_duration=lease,
    )


@dataclass(frozen=True)
class FirewallStatus:
    """GetFirewallStatus (WANIPv6FirewallControl:1 §2.4.1): whether the box
    filters inbound IPv6, and whether programs may open pinholes in it."""

    enabled: bool | None
    inbound_pinhole_allowed: bool | None


def _flag(text: str | None) -> bool | None:
    value = (text or "").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    return None


def firewall_status(values: dict[str, str]) -> FirewallStatus:
    return FirewallStatus(
        _flag(values.get("FirewallEnabled")), _flag(values.get("InboundPinholeAllowed"))
    )


def external_ip(values: dict[str, str]) -> str | None:
    """NewExternalIPAddress, or None when empty or not an IPv4 address (a box in
    a test range, or behind carrier-grade NAT, may answer nothing)."""
    try:
        return str(IPv4Address(values.get("NewExternalIPAddress", "").strip()))
    except ValueError:
        return None
