"""Port lists in nmap syntax: ``104,4242,8000-8100``, ``-`` for all."""

from __future__ import annotations

ALL_PORTS = "1-65535"


class PortSpecError(ValueError):
    pass


def parse_ports(spec: str) -> list[int]:
    """Parse an nmap-style port list into sorted unique ports.

    ``-`` alone means every port (as nmap's ``-p-``); an open range such as
    ``-1024`` or ``60000-`` runs from 1 or to 65535.
    """
    spec = spec.strip()
    if spec == "-":
        spec = ALL_PORTS
    if not spec:
        raise PortSpecError("empty port list")
    ports: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if part.upper().startswith("T:"):
            part = part[2:]
        if not part:
            raise PortSpecError(f"empty item in port list {spec!r}")
        if "-" in part:
            low_s, _, high_s = part.partition("-")
            low = _port(low_s) if low_s else 1
            high = _port(high_s) if high_s else 65535
            if low > high:
                raise PortSpecError(f"reversed port range {part!r}")
            ports.update(range(low, high + 1))
        else:
            ports.add(_port(part))
    return sorted(ports)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise PortSpecError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise PortSpecError(f"port out of range 1-65535: {value}")
    return value


def format_ports(ports: list[int]) -> str:
    """The shortest nmap-style spelling of a sorted port list."""
    if not ports:
        return ""
    parts: list[str] = []
    start = prev = ports[0]
    for port in [*ports[1:], None]:
        if port is not None and port == prev + 1:
            prev = port
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if port is not None:
            start = prev = port
    return ",".join(parts)
