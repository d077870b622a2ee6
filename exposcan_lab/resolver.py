"""The practice's DNS as the lab's dcmtk servers meet it: drops, refuses or NXDOMAIN.

dcmtk's servers (storescp, dcmqrscp, and Horos/OsiriX built on dcmtk) look
up the caller's name (PTR) before they read the A-ASSOCIATE-RQ, in their
main process, one connection at a time (docs/lab.md, "Servers that look
their callers up"). How long that takes is the practice's resolver's doing: a resolver
that drops the query costs the caller glibc's whole timeout x attempts per
look-up, one that refuses or answers NXDOMAIN costs a round trip. This
server gives each client address its own behaviour, so that one lab address
(``topology.DNS``) serves the three cases.

Standalone and stdlib only (it runs under ``ip netns exec`` and in a Debian
container); it never forwards anything anywhere: every answer is made here.

  resolver.py --listen IP [--drop IP]... [--refuse IP]... [--nxdomain IP]...
Clients not named get NXDOMAIN.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys

RCODE_NXDOMAIN = 3
RCODE_REFUSED = 5
#: A DNS message over UDP is at most 512 bytes without EDNS (RFC 1035 §4.2.1).
MAX_QUERY = 4096


def answer(query: bytes, rcode: int) -> bytes | None:
    """The header and question of ``query`` sent back with ``rcode`` and no
    records (RFC 1035 §4.1.1); None for what is not a query."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack(">HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:  # an answer, or not one question
        return None
    # Find the end of the one question: labels, then QTYPE and QCLASS.
    pos = 12
    while pos < len(query) and query[pos] != 0:
        if query[pos] & 0xC0:
            return None
        pos += 1 + query[pos]
    end = pos + 5
    if end > len(query):
        return None
    rd = flags & 0x0100
    out_flags = 0x8000 | (flags & 0x7800) | rd | 0x0080 | rcode  # QR, opcode, RD, RA
    return struct.pack(">HHHHHH", ident, out_flags, 1, 0, 0, 0) + query[12:end]


def serve(listen: str, behaviour: dict[str, str]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((listen, 53))
    print(f"resolver on {listen}:53: {behaviour or 'NXDOMAIN for all'}", flush=True)
    while True:
        query, (client, port) = sock.recvfrom(MAX_QUERY)
        mode = behaviour.get(client, "nxdomain")
        if mode == "drop":
            continue  # the caller waits its whole timeout, as with a dead resolver
        reply = answer(query, RCODE_REFUSED if mode == "refuse" else RCODE_NXDOMAIN)
        if reply is not None:
            sock.sendto(reply, (client, port))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    for mode in ("drop", "refuse", "nxdomain"):
        ap.add_argument(f"--{mode}", action="append", default=[], metavar="IP")
    a = ap.parse_args(argv)
    behaviour = {ip: mode for mode in ("nxdomain", "refuse", "drop") for ip in getattr(a, mode)}
    serve(a.listen, behaviour)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
