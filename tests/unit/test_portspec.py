import pytest

from exposcan.net.portspec import PortSpecError, format_ports, parse_ports


def test_nmap_syntax_lists_and_ranges() -> None:
    # Given an nmap-style list with single ports, a range and duplicates
    # When it is parsed
    ports = parse_ports("104,4242,8000-8003,104")
    # Then it is sorted, unique and ranges are expanded
    assert ports == [104, 4242, 8000, 8001, 8002, 8003]


def test_dash_alone_means_every_port() -> None:
    assert parse_ports("-") == list(range(1, 65536))


def test_open_ranges() -> None:
    assert parse_ports("-3") == [1, 2, 3]
    assert parse_ports("65534-") == [65534, 65535]


@pytest.mark.parametrize("spec", ["", "0", "65536", "80-70", "abc", "80,,81"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(PortSpecError):
        parse_ports(spec)


def test_format_round_trips() -> None:
    ports = [21, 22, 80, 104, 105, 106, 445]
    assert format_ports(ports) == "21-22,80,104-106,445"
    assert parse_ports(format_ports(ports)) == ports
