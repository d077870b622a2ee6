"""impacket against pysmb as exposcan's SMB1 client, on a real Samba (root).

``python -m bench.smb1_clients`` starts smbd (Debian's samba) on
127.0.0.1:44595 (bind interfaces only), NT1 only (server min/max protocol =
NT1), with a guest share of one DICOM-like file and a folder of
``BIG_FOLDER`` entries, then prints for each library:

- whether it can run on a socket it is given (exposcan's bounded relay hands
  the worker thread one end of a socketpair);
- guest login, share list (srvsvc NetrShareEnum), root listing and a 132-byte
  read: median of ``ROUNDS`` runs;
- a walk that wants ``WANTED`` entries of the big folder: how long, and how
  many entries the library read to give them.

Loopback only; the server is stopped (by its pid) at the end.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import import_module
from importlib.metadata import version
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PORT = 44595
ROUNDS = 10
BIG_FOLDER = 20000
WANTED = 256
SHARE = "images"

CONF = """[global]
   server role = standalone server
   netbios name = BENCH-NT1
   map to guest = Bad User
   guest account = nobody
   disable netbios = yes
   interfaces = {host}
   bind interfaces only = yes
   smb ports = {port}
   server min protocol = NT1
   server max protocol = NT1
   ntlm auth = yes
   load printers = no
   printcap name = /dev/null
   disable spoolss = yes
   passdb backend = tdbsam:{root}/private/passdb.tdb
   private dir = {root}/private
   lock directory = {root}/lock
   state directory = {root}/state
   cache directory = {root}/cache
   pid directory = {root}/run
   ncalrpc dir = {root}/ncalrpc
   log file = {root}/log.%m
[{share}]
   path = {root}/share
   guest ok = yes
   read only = yes
"""


@contextlib.contextmanager
def samba() -> Iterator[None]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for d in ("private", "lock", "state", "cache", "run", "ncalrpc"):
            (root / d).mkdir()
        share = root / "share"
        (share / "big").mkdir(parents=True)
        (share / "IM000001").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 64)
        for n in range(BIG_FOLDER):
            (share / "big" / f"f{n:05d}.txt").write_text("x")
        # smbd serves the share as its guest account (nobody): let it in.
        os.chmod(tmp, 0o755)  # noqa: S103
        conf = root / "smb.conf"
        conf.write_text(CONF.format(host=HOST, port=PORT, root=root, share=SHARE))
        proc = subprocess.Popen(
            ["/usr/sbin/smbd", "--foreground", "--no-process-group", "--configfile", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # smbd signals its process group when it stops: not ours.
            start_new_session=True,
        )
        try:
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection((HOST, PORT), 1):
                    break
                time.sleep(0.1)
            yield
        finally:
            proc.terminate()
            proc.wait(10)


def impacket_session(user: str = "guest") -> Any:
    from exposcan.protocols.smb.relay import Link
    from exposcan.protocols.smb.session_smb1 import Smb1Session

    def connect() -> tuple[socket.socket, Link]:
        # The socket is made here and handed over, as the relay does.
        return socket.create_connection((HOST, PORT), timeout=5), Link()

    return Smb1Session(connect, 445, user, 5.0)


def impacket_round() -> None:
    session = impacket_session()
    try:
        session.enum_shares()
        tid = session.tree_connect(SHARE)
        session.list_folder(tid, "", 100)
        assert session.read_head(tid, "IM000001", 132)[128:132] == b"DICM"
    finally:
        session.close()


def impacket_big() -> int:
    session = impacket_session()
    try:
        tid = session.tree_connect(SHARE)
        entries, _ = session.list_folder(tid, "big", WANTED)
        return len(entries)
    finally:
        session.close()


def impacket_listpath_big() -> int:
    """impacket's own listPath, as a client would call it: the whole folder."""
    session = impacket_session()
    try:
        return len(session.conn.listPath(SHARE, "big\\*"))
    finally:
        session.close()


def pysmb_connection() -> Any:
    conn = import_module("smb.SMBConnection").SMBConnection(
        "guest", "", "EXPOSCAN", "BENCH-NT1", is_direct_tcp=True
    )
    # pysmb makes its own socket in connect(): no public way to hand it one.
    assert conn.connect(HOST, PORT, timeout=5)
    return conn


def pysmb_round() -> None:
    conn = pysmb_connection()
    try:
        conn.listShares(timeout=5)
        conn.listPath(SHARE, "/", timeout=5)
        out = io.BytesIO()
        conn.retrieveFileFromOffset(SHARE, "/IM000001", out, 0, 132, timeout=5)
        assert out.getvalue()[128:132] == b"DICM"
    finally:
        conn.close()


def pysmb_big() -> int:
    conn = pysmb_connection()
    try:
        return len(conn.listPath(SHARE, "/big", timeout=30))
    finally:
        conn.close()


def timed(work: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = work()
    return (time.perf_counter() - start) * 1000, value


def main() -> None:
    versions = f"impacket {version('impacket')}, pysmb {version('pysmb')}"
    with samba():
        print(f"Samba NT1-only on {HOST}:{PORT} ({versions})")
        print("runs on a given socket: impacket yes (NetBIOSTCPSession(sock=)), pysmb no")
        rounds: tuple[tuple[str, Callable[[], None]], ...] = (
            ("impacket", impacket_round),
            ("pysmb", pysmb_round),
        )
        for name, work in rounds:
            work()  # warm up (imports, first connection)
            times = [timed(work)[0] for _ in range(ROUNDS)]
            print(
                f"  {name:9s} login+shares+list+132-byte read: median "
                f"{statistics.median(times):6.1f} ms over {ROUNDS}"
            )
        print(f"a walk wanting {WANTED} entries of a {BIG_FOLDER}-entry folder:")
        walks: tuple[tuple[str, Callable[[], int]], ...] = (
            ("exposcan (impacket, bounded FIND)", impacket_big),
            ("impacket listPath", impacket_listpath_big),
            ("pysmb listPath", pysmb_big),
        )
        for name, big in walks:
            ms, count = timed(big)
            print(f"  {name:34s} {ms:8.1f} ms, {count} entries read")


if __name__ == "__main__":
    main()
