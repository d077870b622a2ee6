"""IPv6 hosts of the LAN without a sweep: who answers all-nodes, and which
prefix the router announces (RFC 4861 neighbour discovery, RFC 4443 echo).

A LAN's /64 cannot be swept (2**64 addresses, RFC 7707 §3), yet every IPv6
host answers an echo request sent to the all-nodes group ff02::1 (Linux,
macOS and most embedded stacks do; Windows does not), and the router
answers a router solicitation with the LAN's prefix.  So, on each
interface, in about a second:

- echo requests to ff02::1 from our link-local address and from each of our
  global and ULA addresses: a host answers each from the address of the same
  scope (RFC 6724 source selection), so its global address comes back too;
- a router solicitation to ff02::2: the advertisement names the prefix and
  the router (the internet box);
- what the kernel's neighbour cache already holds (``ip -6 neigh``).

As root this is one ``AF_PACKET`` socket per interface, like exposcan.net.arp:
frames are built with ``struct``, and every answer comes with the sender's
MAC, which joins a device's IPv6 addresses to its IPv4 one.  Without root:
ICMPv6 "ping" sockets where ``net.ipv4.ping_group_range`` allows them (no
router solicitation: the prefix is read from this machine's own addresses),
else the neighbour cache alone; the result says what could not be done.
scapy is not used: its import alone costs about a second.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import select
import socket
import struct
import subprocess
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Interface, IPv6Network
from typing import Literal

from exposcan.models import Notice
from exposcan.net.platform import fast_paths
from exposcan.notes import declare_note, notice, render_note

ETH_P_IPV6 = 0x86DD
ICMPV6 = 58
ECHO_REQUEST, ECHO_REPLY = 128, 129
ROUTER_SOLICIT, ROUTER_ADVERT, NEIGHBOUR_SOLICIT, NEIGHBOUR_ADVERT = 133, 134, 135, 136
OPT_SOURCE_LLADDR, OPT_PREFIX_INFO = 1, 3
ALL_NODES = IPv6Address("ff02::1")
ALL_ROUTERS = IPv6Address("ff02::2")
#: RFC 4861 §6.2.6: a router may delay its solicited answer by up to 0.5 s.
DEFAULT_WAIT = 1.0

Kind = Literal["global", "ula", "link-local", "loopback", "multicast", "other"]

_LINK_LOCAL = IPv6Network("fe80::/10")
_ULA = IPv6Network("fc00::/7")
_GLOBAL_UNICAST = IPv6Network("2000::/3")


def classify(address: IPv6Address | str) -> Kind:
    """Global unicast (2000::/3), unique local (fc00::/7, RFC 4193),
    link-local (fe80::/10)...  Not ``ipaddress.is_global``: it calls the
    documentation range of the lab (2001:db8::/32) not global, and a real
    provider's prefix is what the lab's stands for."""
    ip = IPv6Address(str(address).split("%", 1)[0])
    if ip.is_loopback:
        return "loopback"
    if ip.is_multicast:
        return "multicast"
    if ip in _LINK_LOCAL:
        return "link-local"
    if ip in _ULA:
        return "ula"
    if ip in _GLOBAL_UNICAST:
        return "global"
    return "other"


@dataclass(frozen=True)
class Neighbour:
    address: str
    mac: str | None
    interface: str
    kind: Kind
    router: bool = False
    found_by: str = "echo"  # echo, router-advert, solicit, cache


@dataclass(frozen=True)
class Prefix:
    network: str
    interface: str
    kind: Kind
    #: "router-advert" (the router said so) or "own-address" (read from this
    #: machine's addresses: no solicitation could be sent).
    source: str
    router: str | None = None
    autonomous: bool = True


NOTE_NO_LINKS = declare_note("note.ipv6.links-unreadable")
NOTE_NO_IPV6 = declare_note("note.ipv6.no-address")
NOTE_NO_ROOT = declare_note("note.ipv6.no-root")
NOTE_NO_ROOT_NO_PING = declare_note("note.ipv6.no-root-no-ping")


@dataclass
class NdpResult:
    neighbours: list[Neighbour] = field(default_factory=list)
    prefixes: list[Prefix] = field(default_factory=list)
    method: str = "none"  # raw, ping, cache, none
    seconds: float = 0.0
    #: What could not be done (for the report's notes).
    notices: list[Notice] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """The notices in English."""
        return [render_note(n, "en") or n.code for n in self.notices]


@dataclass(frozen=True)
class Ipv6Link:
    """One interface of this machine with IPv6."""

    name: str
    index: int
    mac: bytes | None
    link_local: IPv6Address | None
    addresses: tuple[IPv6Interface, ...]  # global and ULA
    #: Addresses the kernel formed from router advertisements (``dynamic``).
    autoconfigured: tuple[IPv6Interface, ...] = ()


# --- this machine's IPv6 interfaces -----------------------------------------


def _ip_json(*args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ip", "-j", *args], check=True, capture_output=True, text=True, timeout=5
    ).stdout
    data = json.loads(out or "[]")
    return data if isinstance(data, list) else []


def local_links(names: Iterable[str] | None = None) -> list[Ipv6Link]:
    """Interfaces that are up, not loopback, with an IPv6 address."""
    wanted = set(names) if names is not None else None
    links: list[Ipv6Link] = []
    for link in _ip_json("-6", "addr", "show", "up"):
        name = str(link.get("ifname", ""))
        flags = link.get("flags", [])
        if name == "lo" or (isinstance(flags, list) and "LOOPBACK" in flags):
            continue
        if wanted is not None and name not in wanted:
            continue
        mac_text = link.get("address")
        mac = (
            bytes.fromhex(mac_text.replace(":", ""))
            if isinstance(mac_text, str) and link.get("link_type") == "ether"
            else None
        )
        link_local: IPv6Address | None = None
        others: list[IPv6Interface] = []
        auto: list[IPv6Interface] = []
        infos = link.get("addr_info", [])
        for info in infos if isinstance(infos, list) else []:
            if info.get("family") != "inet6" or info.get("tentative"):
                continue
            iface = IPv6Interface(f"{info['local']}/{info['prefixlen']}")
            kind = classify(iface.ip)
            if kind == "link-local":
                link_local = link_local or iface.ip
            elif kind in ("global", "ula"):
                others.append(iface)
                if info.get("dynamic"):
                    auto.append(iface)
        if link_local is None and not others:
            continue
        index = link.get("ifindex")
        links.append(
            Ipv6Link(
                name,
                int(index) if isinstance(index, int) else 0,
                mac,
                link_local,
                tuple(others),
                tuple(auto),
            )
        )
    return links


def neighbour_cache(names: Iterable[str] | None = None) -> list[Neighbour]:
    """What the kernel already knows (``ip -6 neigh``), reachable or stale."""
    wanted = set(names) if names is not None else None
    out: list[Neighbour] = []
    for entry in _ip_json("-6", "neigh", "show"):
        dev = str(entry.get("dev", ""))
        dst = entry.get("dst")
        state = entry.get("state", [])
        if not isinstance(dst, str) or (wanted is not None and dev not in wanted):
            continue
        if isinstance(state, list) and ({"FAILED", "INCOMPLETE", "NOARP"} & set(state)):
            continue
        mac = entry.get("lladdr")
        kind = classify(dst)
        if kind in ("multicast", "loopback"):
            continue
        out.append(
            Neighbour(
                dst,
                mac.lower() if isinstance(mac, str) else None,
                dev,
                kind,
                router="router" in entry,
                found_by="cache",
            )
        )
    return out


# --- frames -------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def multicast_mac(group: IPv6Address) -> bytes:
    """RFC 2464 §7: 33:33 and the group's last 32 bits."""
    return b"\x33\x33" + group.packed[-4:]


def icmpv6_frame(
    src_mac: bytes,
    dst_mac: bytes,
    src: IPv6Address,
    dst: IPv6Address,
    message: bytes,
    hop_limit: int = 255,
) -> bytes:
    """Ethernet + IPv6 + ICMPv6 with its checksum (RFC 4443 §2.3: over the
    pseudo-header of RFC 8200 §8.1)."""
    pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(message), ICMPV6)
    body = message[:2] + struct.pack("!H", _checksum(pseudo + message)) + message[4:]
    header = struct.pack("!IHBB", 0x60000000, len(body), ICMPV6, hop_limit)
    return (
        dst_mac + src_mac + struct.pack("!H", ETH_P_IPV6) + header + src.packed + dst.packed + body
    )


def echo_request(ident: int, seq: int) -> bytes:
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq) + b"exposcan"


def router_solicitation(src_mac: bytes | None) -> bytes:
    """RFC 4861 §4.1, with our link-layer address when we have one."""
    message = struct.pack("!BBHI", ROUTER_SOLICIT, 0, 0, 0)
    if src_mac is not None:
        message += struct.pack("!BB", OPT_SOURCE_LLADDR, 1) + src_mac
    return message


@dataclass(frozen=True)
class Answer:
    src_mac: bytes
    src: IPv6Address
    kind: str  # echo-reply, router-advert, solicit
    prefixes: tuple[tuple[IPv6Network, bool], ...] = ()  # (prefix, autonomous)


def parse_frame(frame: bytes, ident: int) -> Answer | None:
    """An echo reply to ``ident``, a router advertisement, or a neighbour
    solicitation/advertisement from a real source, else None."""
    if len(frame) < 14 + 40 + 4 or frame[12:14] != b"\x86\xdd" or frame[20] != ICMPV6:
        return None
    src = IPv6Address(frame[22:38])
    if src.is_unspecified or src.is_multicast:
        return None
    icmp = frame[54 : 54 + struct.unpack_from("!H", frame, 18)[0]]
    if len(icmp) < 4:
        return None
    kind = icmp[0]
    if kind == ECHO_REPLY and len(icmp) >= 8 and struct.unpack_from("!H", icmp, 4)[0] == ident:
        return Answer(frame[6:12], src, "echo-reply")
    if kind in (NEIGHBOUR_SOLICIT, NEIGHBOUR_ADVERT) and frame[21] == 255:
        return Answer(frame[6:12], src, "solicit")
    if kind == ROUTER_ADVERT and frame[21] == 255 and len(icmp) >= 16:
        prefixes: list[tuple[IPv6Network, bool]] = []
        offset = 16
        while offset + 2 <= len(icmp):
            opt_type, opt_len = icmp[offset], icmp[offset + 1] * 8
            if opt_len == 0 or offset + opt_len > len(icmp):
                break  # RFC 4861 §4.6: a zero length ends the parse
            if opt_type == OPT_PREFIX_INFO and opt_len == 32:
                length, flags = icmp[offset + 2], icmp[offset + 3]
                raw = icmp[offset + 16 : offset + 32]
                with contextlib.suppress(ValueError):
                    net = IPv6Network((IPv6Address(raw), min(length, 128)), strict=False)
                    prefixes.append((net, bool(flags & 0x40)))
            offset += opt_len
        return Answer(frame[6:12], src, "router-advert", tuple(prefixes))
    return None


def _mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


# --- the privileged way: AF_PACKET ------------------------------------------------


def raw_probe(link: Ipv6Link, wait: float) -> tuple[list[Neighbour], list[Prefix]]:
    """Blocking: echo to all-nodes from each of our addresses and a router
    solicitation on ``link``; answers for ``wait`` seconds.  Raises OSError
    without raw sockets."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    try:
        sock.bind((link.name, ETH_P_IPV6))
        mac: bytes = sock.getsockname()[4]
        sock.setblocking(False)
        ident = int.from_bytes(os.urandom(2), "big")
        sources = [a for a in (link.link_local, *(i.ip for i in link.addresses)) if a is not None]
        for seq, src in enumerate(sources):
            frame = icmpv6_frame(
                mac, multicast_mac(ALL_NODES), src, ALL_NODES, echo_request(ident, seq), 64
            )
            with contextlib.suppress(BlockingIOError):
                sock.send(frame)
        if link.link_local is not None:
            solicit = router_solicitation(mac)
            with contextlib.suppress(BlockingIOError):
                sock.send(
                    icmpv6_frame(
                        mac, multicast_mac(ALL_ROUTERS), link.link_local, ALL_ROUTERS, solicit
                    )
                )
        return _collect(sock, mac, ident, link, wait)
    finally:
        sock.close()


def _collect(
    sock: socket.socket, own_mac: bytes, ident: int, link: Ipv6Link, wait: float
) -> tuple[list[Neighbour], list[Prefix]]:
    own = {i.ip for i in link.addresses} | ({link.link_local} if link.link_local else set())
    neighbours: dict[str, Neighbour] = {}
    prefixes: dict[str, Prefix] = {}
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        if not poller.poll(left * 1000):
            continue
        while True:
            try:
                frame = sock.recv(2048)
            except BlockingIOError:
                break
            if frame[6:12] == own_mac:
                continue  # our own frames, looped back to the packet socket
            answer = parse_frame(frame, ident)
            if answer is None or answer.src in own:
                continue
            router = answer.kind == "router-advert"
            key = str(answer.src)
            old = neighbours.get(key)
            if old is None or (router and not old.router):
                found_by = "router-advert" if router else answer.kind.replace("-reply", "")
                neighbours[key] = Neighbour(
                    key,
                    _mac_text(answer.src_mac),
                    link.name,
                    classify(answer.src),
                    router,
                    found_by,
                )
            for net, autonomous in answer.prefixes:
                prefixes.setdefault(
                    str(net),
                    Prefix(
                        str(net),
                        link.name,
                        classify(net.network_address),
                        "router-advert",
                        key,
                        autonomous,
                    ),
                )
    return list(neighbours.values()), list(prefixes.values())


# --- the unprivileged way: ICMPv6 ping sockets -----------------------------------


def ping_probe(link: Ipv6Link, wait: float) -> list[Neighbour]:
    """Blocking: echo to all-nodes through ping sockets (no MAC: the
    neighbour cache supplies it).  Raises OSError where they are refused."""
    found: dict[str, Neighbour] = {}
    socks: list[socket.socket] = []
    try:
        sources = [a for a in (link.link_local, *(i.ip for i in link.addresses)) if a is not None]
        for seq, src in enumerate(sources):
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
            socks.append(sock)
            scope = link.index if classify(src) == "link-local" else 0
            sock.bind((str(src), 0, 0, scope))
            sock.setblocking(False)
            sock.sendto(echo_request(0, seq), (str(ALL_NODES), 0, 0, link.index))
        poller = select.poll()
        for sock in socks:
            poller.register(sock, select.POLLIN)
        by_fd = {s.fileno(): s for s in socks}
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            for fd, _ in poller.poll(left * 1000):
                with contextlib.suppress(BlockingIOError):
                    data, peer = by_fd[fd].recvfrom(256)
                    if data[:1] == bytes([ECHO_REPLY]):
                        address = str(peer[0]).split("%", 1)[0]
                        found.setdefault(
                            address, Neighbour(address, None, link.name, classify(address))
                        )
    finally:
        for sock in socks:
            sock.close()
    return list(found.values())


# --- all interfaces ----------------------------------------------------------------


def discover(
    names: Iterable[str] | None = None, wait: float = DEFAULT_WAIT, privileged: bool | None = None
) -> NdpResult:
    """Blocking: the IPv6 neighbours and announced prefixes of every
    interface (or of ``names``), about ``wait`` seconds whatever their count
    (interfaces are probed at once)."""
    started = time.monotonic()
    result = NdpResult()
    try:
        links = local_links(names)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        result.notices.append(notice(NOTE_NO_LINKS, error=type(exc).__name__))
        return result
    if not links:
        result.notices.append(notice(NOTE_NO_IPV6))
        result.seconds = time.monotonic() - started
        return result
    if privileged is None:
        # AF_PACKET as root on Linux only (exposcan.net.platform).
        privileged = fast_paths() and hasattr(os, "geteuid") and os.geteuid() == 0
    found: dict[str, Neighbour] = {}
    prefixes: dict[str, Prefix] = {}
    with ThreadPoolExecutor(max_workers=len(links)) as pool:
        if privileged:
            jobs = [pool.submit(raw_probe, link, wait) for link in links]
            for job in jobs:
                try:
                    neighbours, announced = job.result()
                    result.method = "raw"
                except OSError:
                    neighbours, announced = [], []
                    privileged = False
                for n in neighbours:
                    found.setdefault(n.address, n)
                for p in announced:
                    prefixes.setdefault(p.network, p)
        if not privileged:
            pings = [pool.submit(ping_probe, link, wait) for link in links]
            refused = False
            for ping_job in pings:
                try:
                    for n in ping_job.result():
                        found.setdefault(n.address, n)
                    result.method = "ping" if result.method == "none" else result.method
                except OSError:
                    refused = True
            result.notices.append(notice(NOTE_NO_ROOT_NO_PING if refused else NOTE_NO_ROOT))
    # The cache: MACs for what the ping sockets found, and hosts that did not
    # answer the echo but talked to us recently.
    try:
        cached = neighbour_cache([link.name for link in links])
    except (OSError, ValueError, subprocess.SubprocessError):
        cached = []
    for n in cached:
        old = found.get(n.address)
        if old is None:
            found[n.address] = n
        elif old.mac is None and n.mac:
            found[n.address] = Neighbour(
                old.address, n.mac, old.interface, old.kind, old.router or n.router, old.found_by
            )
    if result.method == "none" and cached:
        result.method = "cache"
    for link in links:
        for iface in link.addresses:
            if iface.network.prefixlen <= 64 and str(iface.network) not in prefixes:
                prefixes[str(iface.network)] = Prefix(
                    str(iface.network),
                    link.name,
                    classify(iface.ip),
                    "own-address",
                    autonomous=iface in link.autoconfigured,
                )
    result.neighbours = sorted(
        found.values(), key=lambda n: (n.interface, int(ipaddress.ip_address(n.address)))
    )
    result.prefixes = list(prefixes.values())
    result.seconds = time.monotonic() - started
    return result
