"""Network namespaces, veths and the LAN bridge of a lab.

Each host is a network namespace named ``exl-<lab>-<host>``; a namespace
``exl-<lab>-sw`` holds the LAN bridge. Veths are created *inside* their
namespaces (``ip -n NS link add IF type veth peer name P netns SW``), so no
interface ever exists in the root namespace under a name two labs could
share: interface names only have to be unique per namespace, and the lab
name lives only in namespace names.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from . import topology as t


class NetnsError(RuntimeError):
    pass


#: Called with each namespace name as soon as it exists.
Callback = Callable[[str], None]


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15)
    if check and p.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {p.stderr.strip()}")
    return p


def existing_namespaces() -> set[str]:
    out = ip("netns", "list").stdout
    # Lines look like "NAME" or "NAME (id: 3)".
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def namespace_pids(ns: str) -> list[int]:
    p = ip("netns", "pids", ns, check=False)
    return [int(x) for x in p.stdout.split() if x.isdigit()]


def _port_name(host: str) -> str:
    # Bridge-side veth end, in the switch namespace: "p-<host>" (<= 15 chars).
    return f"p-{host}"[:15]


def build(lab: str, on_namespace: Callback) -> None:
    """Create every namespace and link of ``lab``. ``on_namespace`` is called
    right after each namespace exists, so that the caller records it before
    anything can fail (a half-built lab must still be torn down)."""
    ns = {role: t.netns_name(lab, role) for role in t.NAMESPACE_ROLES}
    for role in t.NAMESPACE_ROLES:
        ip("netns", "add", ns[role])
        on_namespace(ns[role])
        _ipv6_defaults(ns[role], autoconf=role in t.IPV6_HOSTS)
        ip("-n", ns[role], "link", "set", "lo", "up")

    sw = ns[t.SWITCH]
    # Snooping off: the bridge floods multicast to every port, so SSDP
    # (239.255.255.250) from the workstation reaches the box's miniupnpd
    # without IGMP joins being tracked. STP stays off (the default), so
    # ports forward at once.
    ip("-n", sw, "link", "add", t.BRIDGE_IF, "type", "bridge", "mcast_snooping", "0")
    ip("-n", sw, "link", "set", t.BRIDGE_IF, "up")

    for h in t.HOSTS:
        if h.side != "lan":
            continue
        ifname = t.BOX_LAN_IF if h is t.BOX else t.HOST_IF
        port = _port_name(h.name)
        ip(
            "-n",
            ns[h.name],
            "link",
            "add",
            ifname,
            # A fixed MAC: the SLAAC address follows from it (topology).
            "address",
            t.host_mac(h),
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            sw,
        )
        ip("-n", sw, "link", "set", port, "master", t.BRIDGE_IF, "up")
        ip("-n", ns[h.name], "addr", "add", f"{h.ip}/{t.LAN_PREFIXLEN}", "dev", ifname)
        ip("-n", ns[h.name], "link", "set", ifname, "up")
        if h is not t.BOX:
            ip("-n", ns[h.name], "route", "add", "default", "via", str(t.BOX_LAN_IP))

    # The WAN: one veth straight from the box to the internet host.
    box, inet = ns[t.BOX.name], ns[t.INET.name]
    ip(
        "-n",
        box,
        "link",
        "add",
        t.BOX_WAN_IF,
        "type",
        "veth",
        "peer",
        "name",
        t.HOST_IF,
        "netns",
        inet,
    )
    ip("-n", box, "addr", "add", f"{t.BOX_WAN_IP}/{t.WAN_PREFIXLEN}", "dev", t.BOX_WAN_IF)
    ip("-n", box, "link", "set", t.BOX_WAN_IF, "up")
    ip("-n", inet, "addr", "add", f"{t.INET_IP}/{t.WAN_PREFIXLEN}", "dev", t.HOST_IF)
    ip("-n", inet, "link", "set", t.HOST_IF, "up")
    ip("-n", inet, "route", "add", "default", "via", str(t.BOX_WAN_IP))
    # IPv6: static on both sides of the box; the LAN hosts learn the LAN
    # prefix from the box's router advertisements (radvd, started by lab.py).
    for addr, dev in (
        (f"{t.BOX_LAN_IP6}/{t.LAN6_NET.prefixlen}", t.BOX_LAN_IF),
        (f"{t.BOX_WAN_IP6}/{t.WAN6_NET.prefixlen}", t.BOX_WAN_IF),
    ):
        ip("-n", box, "-6", "addr", "add", addr, "dev", dev, "nodad")
    ip("-n", inet, "-6", "addr", "add", f"{t.INET_IP6}/{t.WAN6_NET.prefixlen}", "dev", t.HOST_IF)
    ip("-n", inet, "-6", "route", "add", "default", "via", str(t.BOX_WAN_IP6))


def _ipv6_defaults(ns: str, autoconf: bool) -> None:
    """Per-namespace IPv6 settings, before any interface exists (``default``
    is what new interfaces copy): no duplicate address detection (a lab of
    unique MACs; it would delay every address by a second), and an address
    from router advertisements only on the hosts of IPV6_HOSTS."""
    conf = "/proc/sys/net/ipv6/conf"
    script = f"echo 0 > {conf}/default/accept_dad; echo {int(autoconf)} > {conf}/default/autoconf"
    run_in(ns, ["sh", "-c", script])


def run_in(ns: str, argv: Sequence[str], stdin: str | None = None) -> str:
    p = subprocess.run(
        ["ip", "netns", "exec", ns, *argv], input=stdin, capture_output=True, text=True, timeout=30
    )
    if p.returncode != 0:
        raise NetnsError(f"in {ns}: {' '.join(argv)}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def delete(names: Sequence[str]) -> None:
    present = existing_namespaces()
    for n in names:
        if n in present:
            # Deleting a namespace destroys its veths, the bridge and its
            # iptables tables with it.
            ip("netns", "del", n, check=False)
