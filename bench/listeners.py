"""Listening sockets for the scale labs: accept, close, nothing else.

Run inside a bench namespace: ``python -m bench.listeners FILE`` where FILE
holds one ``address port`` a line.  A connect scan's handshakes are
accepted and closed at once, so no accept queue fills and turns later SYNs
into silence; a SYN scan never reaches accept().  Prints ``ready`` once every
socket listens.
"""

from __future__ import annotations

import selectors
import signal
import socket
import sys


def main(path: str) -> int:
    sel = selectors.DefaultSelector()
    with open(path, encoding="ascii") as spec:
        lines = spec.read().splitlines()
    for line in lines:
        if not line.strip():
            continue
        address, port = line.split()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, int(port)))
        sock.listen(512)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            listener = key.fileobj
            assert isinstance(listener, socket.socket)
            while True:
                try:
                    conn, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                conn.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
