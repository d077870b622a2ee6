"""Which fast paths this system allows, decided at run time.

Linux gives exposcan three fast paths: one ``epoll`` set for the connect
sweep (:mod:`exposcan.net.portscan`), ``AF_PACKET`` sockets for ARP and
IPv6 neighbour discovery as root (:mod:`exposcan.net.arp`,
:mod:`exposcan.net.ndp`), and raw TCP sockets for the SYN scan as root
(:mod:`exposcan.net.synscan`).  Elsewhere (macOS, the BSDs) or with
``EXPOSCAN_PORTABLE=1`` the portable path runs instead: a ``selectors``
sweep, TCP pings for discovery, the connect scan.  Nothing Linux-only is
touched at import, so exposcan imports unprivileged on any POSIX system;
the tests run the portable path here by setting the variable.
"""

from __future__ import annotations

import os
import select
import socket
import sys

#: Set to 1 to disable Linux's fast paths (the portable path runs).
PORTABLE_ENV = "EXPOSCAN_PORTABLE"


def fast_paths() -> bool:
    """Linux with its calls (epoll, AF_PACKET), and the fast paths not
    disabled by ``EXPOSCAN_PORTABLE``."""
    return (
        sys.platform.startswith("linux")
        and hasattr(select, "epoll")
        and hasattr(socket, "AF_PACKET")
        and os.environ.get(PORTABLE_ENV, "") in ("", "0")
    )
