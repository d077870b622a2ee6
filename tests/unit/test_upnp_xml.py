"""IGD XML: device description, SOAP answers and faults, hostile XML."""

from __future__ import annotations

import pytest

from exposcan.protocols.upnp import xml as x

# Trimmed from the lab's miniupnpd 2.3.1 rootDesc.xml (IGD:2).
ROOT_DESC = b"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337">
<specVersion><major>1</major><minor>1</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>
<friendlyName>Box Internet du cabinet</friendlyName><manufacturer>Debian</manufacturer>
<modelName>ExposcanLabBox</modelName><modelNumber>1</modelNumber>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
<serviceList><service>
<serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL>
</service></serviceList></device></deviceList></device></deviceList>
</device></root>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device>
<friendlyName>&lol9;</friendlyName></device></root>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE root [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device>
<friendlyName>&xxe;</friendlyName></device></root>"""

FAULT_713 = b"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault>
<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>
<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>713</errorCode>
<errorDescription>SpecifiedArrayIndexInvalid</errorDescription></UPnPError>
</detail></s:Fault></s:Body></s:Envelope>"""

MAPPING_ANSWER = b"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<u:GetGenericPortMappingEntryResponse
 xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2">
<NewRemoteHost></NewRemoteHost><NewExternalPort>104</NewExternalPort>
<NewProtocol>TCP</NewProtocol><NewInternalPort>104</NewInternalPort>
<NewInternalClient>198.18.0.10</NewInternalClient><NewEnabled>1</NewEnabled>
<NewPortMappingDescription>PACS DICOM</NewPortMappingDescription>
<NewLeaseDuration>0</NewLeaseDuration>
</u:GetGenericPortMappingEntryResponse></s:Body></s:Envelope>"""


def test_description_of_miniupnpd() -> None:
    # Given the lab box's description, fetched from 198.18.0.1:49152
    # When parsed
    desc = x.parse_description(ROOT_DESC, "http://198.18.0.1:49152/rootDesc.xml")
    # Then the device strings and the one WANIPConnection control URL are found
    assert desc.friendly_name == "Box Internet du cabinet"
    assert desc.product == "Debian ExposcanLabBox"
    assert desc.model_number == "1"
    assert desc.igd_version == "2"
    assert desc.services == (
        x.WanService(
            "urn:schemas-upnp-org:service:WANIPConnection:2", "http://198.18.0.1:49152/ctl/IPConn"
        ),
    )


def test_description_urlbase_and_ppp() -> None:
    # Given an IGD:1 with URLBase and a WANPPPConnection (DSL boxes)
    body = b"""<root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://198.18.0.1:5431/</URLBase>
    <device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
    <serviceList><service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>
    <controlURL>upnp/control/WANPPPConn1</controlURL></service></serviceList></device></root>"""
    # When parsed
    desc = x.parse_description(body, "http://198.18.0.1:5431/igd.xml")
    # Then the control URL is resolved against URLBase
    assert desc.services[0].control_url == "http://198.18.0.1:5431/upnp/control/WANPPPConn1"
    assert desc.igd_version == "1"


def test_description_without_wan_service_is_not_an_igd() -> None:
    # Given a media server's description (no WAN connection service)
    body = b"""<root xmlns="urn:schemas-upnp-org:device-1-0"><device>
    <deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType></device></root>"""
    # When / Then
    with pytest.raises(x.NotAnIgd):
        x.parse_description(body, "http://198.18.0.20:5000/description.xml")


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_hostile_xml_is_refused_without_expansion(payload: bytes) -> None:
    # Given a description with an entity bomb or an external entity
    # When parsed
    with pytest.raises(x.UnsafeXml) as info:
        x.parse_description(payload, "http://198.18.0.1:49152/rootDesc.xml")
    # Then it is refused as unsafe (a ValueError the probe records), and the
    # message holds no expanded text or file content
    assert isinstance(info.value, ValueError)
    assert "lol" not in str(info.value) and "root:" not in str(info.value)


def test_malformed_xml_is_a_value_error() -> None:
    # Given truncated XML
    # When / Then: a ValueError, not a crash
    with pytest.raises(ValueError, match="malformed"):
        x.parse_description(b"<root><device>", "http://198.18.0.1/")


def test_fault_713_ends_the_walk() -> None:
    # Given the fault miniupnpd sends past the last mapping
    # When parsed
    fault = x.parse_fault(FAULT_713)
    # Then it carries code 713, the end-of-list code
    assert fault.code == x.ARRAY_INDEX_INVALID == 713
    assert fault.description == "SpecifiedArrayIndexInvalid"


def test_fault_without_code() -> None:
    # Given a fault with no UPnPError detail
    body = b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body><s:Fault>"
    body += b"<faultstring>oops</faultstring></s:Fault></s:Body></s:Envelope>"
    # When / Then: code unknown, not 713
    assert x.parse_fault(body).code is None


def test_mapping_answer() -> None:
    # Given a GetGenericPortMappingEntry answer
    values = x.parse_action_response(MAPPING_ANSWER, "GetGenericPortMappingEntry")
    # When the mapping is read
    m = x.parse_mapping(values)
    # Then every field is typed
    assert m == x.PortMapping("", 104, "TCP", "198.18.0.10", 104, True, "PACS DICOM", 0)


def test_mapping_garbage_is_a_value_error() -> None:
    # Given entries with a host name, a bad protocol, a port out of range
    base = {
        "NewExternalPort": "1",
        "NewProtocol": "TCP",
        "NewInternalPort": "1",
        "NewInternalClient": "198.18.0.10",
    }
    for bad in (
        {"NewInternalClient": "pacs.lan"},
        {"NewProtocol": "SCTP"},
        {"NewInternalPort": "70000"},
        {"NewExternalPort": "x"},
    ):
        # When / Then
        with pytest.raises(ValueError):
            x.parse_mapping({**base, **bad})


def test_strings_are_cleaned_and_capped() -> None:
    # Given a description string with control characters and a huge length
    # When cleaned / Then: one printable line, capped
    assert x.clean("Box\x00\n\tde\x1b[31m cabinet") == "Box de [31m cabinet"
    assert len(x.clean("A" * 10_000)) == x.STRING_CAP


def test_external_ip_empty_or_bad_is_none() -> None:
    # Given miniupnpd in a test range (empty), a garbage value, and a real answer
    # When / Then
    assert x.external_ip({"NewExternalIPAddress": ""}) is None
    assert x.external_ip({"NewExternalIPAddress": "<script>"}) is None
    assert x.external_ip({"NewExternalIPAddress": "203.0.113.1"}) == "203.0.113.1"


def test_soap_envelope_escapes_arguments() -> None:
    # Given an action with an argument
    body = x.soap_envelope(
        "urn:schemas-upnp-org:service:WANIPConnection:1",
        "GetGenericPortMappingEntry",
        {"NewPortMappingIndex": "3<"},
    )
    # When / Then: well-formed, namespaced, escaped
    root = x.parse_xml(body)
    assert root.tag.endswith("Envelope")
    assert b"<NewPortMappingIndex>3&lt;</NewPortMappingIndex>" in body


# The WANIPv6FirewallControl service of the lab's miniupnpd (IGD:2), beside
# its WANIPConnection:2.
IPV6_FC_SERVICE = b"""<service>
<serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPv6Firewall1</serviceId><SCPDURL>/WANIP6FC.xml</SCPDURL>
<controlURL>/ctl/IP6FCtl</controlURL><eventSubURL>/evt/IP6FCtl</eventSubURL></service>"""


def test_description_names_the_ipv6_firewall_service_when_there_is_one() -> None:
    # Given the lab box's description with and without its IPv6 firewall service
    with_fc = ROOT_DESC.replace(
        b"</service></serviceList></device></deviceList>",
        b"</service>" + IPV6_FC_SERVICE + b"</serviceList></device></deviceList>",
    )
    location = "http://198.18.0.1:49152/rootDesc.xml"
    # Then it is found (and is not taken for a WAN connection), or is None
    desc = x.parse_description(with_fc, location)
    assert desc.ipv6_firewall == x.WanService(
        "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1",
        "http://198.18.0.1:49152/ctl/IP6FCtl",
    )
    assert len(desc.services) == 1
    assert x.parse_description(ROOT_DESC, location).ipv6_firewall is None


@pytest.mark.parametrize(
    ("enabled", "pinholes", "expected"),
    [
        ("1", "1", x.FirewallStatus(True, True)),
        ("0", "0", x.FirewallStatus(False, False)),
        ("", "maybe", x.FirewallStatus(None, None)),
    ],
)
def test_get_firewall_status_answer(
    enabled: str, pinholes: str, expected: x.FirewallStatus
) -> None:
    # Given a GetFirewallStatus answer (WANIPv6FirewallControl:1 §2.4.1)
    body = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        "<s:Body><u:GetFirewallStatusResponse "
        'xmlns:u="urn:schemas-upnp-org:service:WANIPv6FirewallControl:1">'
        f"<FirewallEnabled>{enabled}</FirewallEnabled>"
        f"<InboundPinholeAllowed>{pinholes}</InboundPinholeAllowed>"
        "</u:GetFirewallStatusResponse></s:Body></s:Envelope>"
    ).encode()
    # Then both flags are read; what is not a flag stays unknown (None)
    values = x.parse_action_response(body, "GetFirewallStatus")
    assert x.firewall_status(values) == expected
