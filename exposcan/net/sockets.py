"""The TCP socket of a connect scan or a probe, and the address family of an
address: what the sweeps and the bounded I/O share, importing nothing but
the standard library (a port scan's start-up, :mod:`exposcan.net.portscan`)."""

from __future__ import annotations

import socket

# SO_LINGER on, 0 s: close() sends a RST.
_LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"


def family_of(address: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 literal (a colon), else AF_INET."""
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def tcp_socket(family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    # RST on close: the scan leaves no TIME_WAIT pile and no half-open state
    # on a fragile device.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    return sock
