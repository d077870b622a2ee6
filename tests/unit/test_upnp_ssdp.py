"""SSDP answers: parsing, and which LOCATION the scanner may follow."""

from __future__ import annotations

from ipaddress import IPv4Network

from exposcan.protocols.upnp import ssdp

MINIUPNPD_ANSWER = (
    b"HTTP/1.1 200 OK\r\n"
    b"CACHE-CONTROL: max-age=120\r\n"
    b"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
    b"USN: uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::urn:schemas-upnp-org:device:"
    b"InternetGatewayDevice:2\r\n"
    b"EXT:\r\n"
    b"SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
    b"LOCATION: http://198.18.0.1:49152/rootDesc.xml\r\n"
    b'OPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01\r\n'
    b"\r\n"
)
LAN = [IPv4Network("198.18.0.0/24")]


def test_m_search_names_the_igd_and_the_group() -> None:
    # Given the IGD:1 search target
    # When the request is built
    msg = ssdp.m_search(ssdp.IGD_SEARCH_TARGETS[0]).decode()
    # Then it is a UDA 1.1 M-SEARCH to the SSDP group with MAN and MX
    assert msg.startswith("M-SEARCH * HTTP/1.1\r\n")
    assert "HOST: 239.255.255.250:1900\r\n" in msg
    assert 'MAN: "ssdp:discover"\r\n' in msg
    assert f"MX: {ssdp.MX_SECONDS}\r\n" in msg
    assert 1 <= ssdp.MX_SECONDS <= 5  # UDA 2.0 §1.3.2
    assert "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" in msg
    assert msg.endswith("\r\n\r\n")


def test_parse_miniupnpd_answer() -> None:
    # Given miniupnpd's answer to an IGD:2 search
    # When it is parsed
    answer = ssdp.parse_response(MINIUPNPD_ANSWER, "198.18.0.1")
    # Then location, search target and server are read, and it is an IGD answer
    assert answer is not None
    assert answer.location == "http://198.18.0.1:49152/rootDesc.xml"
    assert answer.st.endswith("InternetGatewayDevice:2")
    assert answer.server == "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1"
    assert answer.responder == "198.18.0.1"
    assert ssdp.is_igd_answer(answer)


def test_parse_tolerates_bare_newlines_and_header_case() -> None:
    # Given an answer with LF line ends and lower-case header names
    data = b"HTTP/1.1 200 OK\nst: upnp:rootdevice\nlocation: http://198.18.0.7/d.xml\n\n"
    # When parsed
    answer = ssdp.parse_response(data, "198.18.0.7")
    # Then headers are found, but a rootdevice answer is not an IGD answer
    assert answer is not None and answer.location == "http://198.18.0.7/d.xml"
    assert not ssdp.is_igd_answer(answer)


def test_parse_rejects_non_answers_and_oversize() -> None:
    # Given: another M-SEARCH seen on the group, an error status, no LOCATION,
    # and a datagram over the cap
    search = ssdp.m_search(ssdp.IGD_SEARCH_TARGETS[0])
    error = b"HTTP/1.1 404 Not Found\r\nLOCATION: http://198.18.0.1/x\r\n\r\n"
    no_location = b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n"
    huge = MINIUPNPD_ANSWER + b"X-PAD: " + b"a" * ssdp.MAX_DATAGRAM + b"\r\n\r\n"
    # When / Then: none is an answer
    for data in (search, error, no_location, huge, b"", b"\x00\xff garbage"):
        assert ssdp.parse_response(data, "198.18.0.1") is None


def test_location_must_be_the_responder_on_a_connected_network() -> None:
    # Given answers from 198.18.0.1 on the connected 198.18.0.0/24
    ok = "http://198.18.0.1:49152/rootDesc.xml"
    # When / Then: the responder's own http URL is followed
    assert ssdp.trusted_location(ok, "198.18.0.1", LAN) == ok
    # another host named by the answer is not (SSRF through SSDP)
    assert ssdp.trusted_location("http://198.18.0.10:8042/x", "198.18.0.1", LAN) is None
    assert ssdp.trusted_location("http://203.0.113.9/x", "203.0.113.9", LAN) is None
    # nor a host name, https, credentials, port 0 or another scheme
    assert ssdp.trusted_location("http://box.lan:49152/x", "198.18.0.1", LAN) is None
    assert ssdp.trusted_location("https://198.18.0.1/x", "198.18.0.1", LAN) is None
    assert ssdp.trusted_location("http://u:p@198.18.0.1/x", "198.18.0.1", LAN) is None
    assert ssdp.trusted_location("http://198.18.0.1:0/x", "198.18.0.1", LAN) is None
    assert ssdp.trusted_location("file:///etc/passwd", "198.18.0.1", LAN) is None
    assert ssdp.trusted_location("http://198.18.0.1:99999/x", "198.18.0.1", LAN) is None
