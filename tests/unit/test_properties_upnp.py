"""Property tests: what an SSDP responder and an IGD send (UPnP DA 1.1).

Anyone on the LAN can answer an M-SEARCH, so every byte here is hostile
input: an answer parses or is dropped; a description, a SOAP answer or a
fault parses or raises ValueError (UnsafeXml, NotAnIgd and malformed XML
are ValueErrors, which the probe records); a LOCATION is trusted only on
the responder itself.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from hypothesis import given
from hypothesis import strategies as st

from exposcan.protocols.upnp import ssdp
from exposcan.protocols.upnp.xml import (
    UpnpFault,
    external_ip,
    parse_action_response,
    parse_description,
    parse_fault,
    parse_mapping,
)
from tests.unit.properties import examples, ran

LAN = [IPv4Network("198.18.0.0/24")]

header_lines = st.lists(
    st.sampled_from(
        [
            "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1",
            "LOCATION: http://198.18.0.1:49152/rootDesc.xml",
            "LOCATION: http://10.0.0.1/x.xml",
            "LOCATION: file:///etc/passwd",
            "LOCATION: http://user:pw@198.18.0.1:1/",
            "LOCATION:",
            "SERVER: " + "S" * 500,
            "USN: uuid:x",
            "location: http://198.18.0.1:0/",
            "LOCATION: http://[::1]:80/",
            "LOCATION: http://198.18.0.1:99999/",
        ]
    )
    | st.text(max_size=60),
    max_size=8,
)
status_lines = st.sampled_from(
    ["HTTP/1.1 200 OK", "HTTP/1.0 200", "NOTIFY * HTTP/1.1", "HTTP/1.1 500 X", ""]
)
datagrams = st.builds(
    lambda status, lines: ("\r\n".join([status, *lines]) + "\r\n\r\n").encode(
        "utf-8", "surrogatepass"
    ),
    status_lines,
    header_lines,
) | st.binary(max_size=3000)


@examples(400)
@given(datagrams, st.sampled_from(["198.18.0.1", "198.18.0.66", "10.0.0.1"]))
def test_ssdp_answers_parse_or_drop(data: bytes, responder: str) -> None:
    ran("upnp: SSDP answer")
    # Given any datagram from any responder
    answer = ssdp.parse_response(data, responder)
    if answer is None:
        return  # Then dropped, ...
    # ... or an answer with a location, capped device strings, and a
    # LOCATION followed only to that responder, on a connected network
    assert answer.location and len(answer.server) <= 120 and len(answer.usn) <= 200
    trusted = ssdp.trusted_location(answer.location, responder, LAN)
    if trusted is not None:
        from urllib.parse import urlsplit

        parts = urlsplit(trusted)
        assert parts.scheme == "http" and parts.hostname == responder
        assert IPv4Address(responder) in LAN[0]


def _element(name: str, body: str) -> str:
    return f"<{name}>{body}</{name}>"


services = st.lists(
    st.builds(
        lambda st_, url: _element(
            "service", _element("serviceType", st_) + _element("controlURL", url)
        ),
        st.sampled_from(
            [
                "urn:schemas-upnp-org:service:WANIPConnection:1",
                "urn:schemas-upnp-org:service:WANPPPConnection:2",
                "urn:x",
                "",
            ]
        ),
        st.sampled_from(["/ctl/IPConn", "http://10.0.0.9/ctl", "", "&amp;", "//x/y"]),
    ),
    max_size=3,
)
descriptions = st.builds(
    lambda prolog, device, svcs, junk: (
        prolog
        + '<root xmlns="urn:schemas-upnp-org:device-1-0">'
        + device
        + "".join(svcs)
        + junk
        + "</root>"
    ).encode(),
    st.sampled_from(
        [
            "",
            '<?xml version="1.0"?>',
            '<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>',
            '<!DOCTYPE r [<!ENTITY x SYSTEM "http://198.18.0.51:49153/xxe">]>',
            '<?xml version="1.0" encoding="utf-16"?>',
        ]
    ),
    st.builds(
        lambda t, n: _element("device", _element("deviceType", t) + _element("friendlyName", n)),
        st.sampled_from(["urn:schemas-upnp-org:device:InternetGatewayDevice:2", "&b;", ""]),
        st.text(max_size=30).map(lambda s: s.replace("<", "").replace("&", "")),
    ),
    services,
    st.sampled_from(["", "&x;", "<URLBase>http://10.1.1.1/</URLBase>", "<", "&#0;"]),
)


@examples(300)
@given(descriptions | st.binary(max_size=400))
def test_descriptions_parse_or_are_refused(body: bytes) -> None:
    ran("upnp: device description")
    # Given any description body (DTDs, entities, foreign URLs, garbage)
    try:
        desc = parse_description(body, "http://198.18.0.1:49152/rootDesc.xml")
    except ValueError:
        return  # Then refused (UnsafeXml, NotAnIgd, malformed) ...
    # ... or an IGD with WAN services and capped, printable device strings
    assert b"<!DOCTYPE" not in body and b"<!ENTITY" not in body
    assert desc.services
    for text in (desc.friendly_name, desc.manufacturer, desc.model_name):
        assert len(text) <= 80 and text.isprintable()


soap = st.builds(
    lambda action, args: (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<u:{action}Response xmlns:u="urn:x">{args}</u:{action}Response></s:Body></s:Envelope>'
    ).encode(),
    st.sampled_from(["GetGenericPortMappingEntry", "GetExternalIPAddress", "Other"]),
    st.lists(
        st.builds(
            _element,
            st.sampled_from(
                [
                    "NewProtocol",
                    "NewExternalPort",
                    "NewInternalPort",
                    "NewInternalClient",
                    "NewEnabled",
                    "NewLeaseDuration",
                    "NewPortMappingDescription",
                    "NewExternalIPAddress",
                    "errorCode",
                ]
            ),
            st.sampled_from(
                ["TCP", "udp", "104", "-1", "65536", "198.18.0.10", "1", "", "x", "9" * 5000, "٣"]
            )
            | st.text(max_size=10).map(lambda s: s.replace("<", "").replace("&", "")),
        ),
        max_size=9,
    ).map("".join),
)


@examples(300)
@given(soap | st.binary(max_size=300))
def test_soap_answers_parse_or_raise_value_error(body: bytes) -> None:
    ran("upnp: SOAP answer and fault")
    # Given any SOAP answer body
    for action in ("GetGenericPortMappingEntry", "GetExternalIPAddress"):
        try:
            values = parse_action_response(body, action)
        except ValueError:
            continue
        # Then its out arguments make a mapping, an address, or a ValueError
        try:
            mapping = parse_mapping(values)
        except ValueError:
            pass
        else:
            assert mapping.protocol in ("TCP", "UDP")
            assert 0 <= mapping.external_port <= 65535 and 0 < mapping.internal_port <= 65535
            IPv4Address(mapping.internal_client)
        address = external_ip(values)
        assert address is None or IPv4Address(address)
    try:
        fault = parse_fault(body)
    except ValueError:
        return
    assert isinstance(fault, UpnpFault)
