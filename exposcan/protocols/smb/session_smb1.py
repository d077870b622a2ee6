"""Anonymous and guest SMB1 (NT LM 0.12) sessions through impacket (blocking).

Old NAS boxes and the Windows XP/7-era workstations that drive modalities
often speak SMB1 only; scapy's client (:mod:`exposcan.protocols.smb.session`)
speaks SMB2/3 only.  impacket's SMB1 client takes an already connected
socket (``nmb.NetBIOSTCPSession(sock=...)``, ``smb.SMB(session=...)``), so
it runs on the thread's end of the same bounded relay as the SMB2 client
(:mod:`exposcan.protocols.smb.relay`): frames capped, each whole within one
read deadline, every connection closed at the probe's deadline.  impacket's
own timeout is set too: each of its reads waits at most ``timeout``.

:class:`Smb1Session` offers the methods :func:`session.explore` and the share
walk call on the SMB2 session (enum_shares, tree_connect, list_folder,
read_head, tree_disconnect), so the same exploration walks both.

Read-only by construction: files are opened with FILE_OPEN (never created),
FILE_READ_DATA access only; folder listings are TRANS2_FIND_FIRST2/NEXT2
([MS-CIFS] §2.2.6.2, §2.2.6.3), capped at the walk's entry budget (impacket's
``listPath`` reads a folder whole); the only write is the DCE/RPC request
into the srvsvc pipe of IPC$, which is how shares are listed ([MS-SRVS]
§3.1.4.8 NetrShareEnum).  No name found in a share leaves this module, not
even in a log: impacket's logger is silenced.
"""

from __future__ import annotations

import importlib
import logging
from contextlib import suppress
from typing import Any

from exposcan.protocols.smb import wire
from exposcan.protocols.smb.session import Connector, LoginRefused, ShareInfo
from exposcan.protocols.smb.walk import Entry, ShareAccessDenied, ShareSessionLost

# impacket logs protocol details (and, at debug, names) on its own logger.
logging.getLogger("impacket").setLevel(logging.CRITICAL + 1)


def _untyped(module: str) -> Any:
    """impacket ships no annotations: treat its modules as untyped."""
    return importlib.import_module(module)


_nmb = _untyped("impacket.nmb")
_smb = _untyped("impacket.smb")
_smbconnection = _untyped("impacket.smbconnection")

#: The dialect this client speaks ([MS-CIFS] §2.2.4.52.1).
DIALECT = wire.NT_LM_012
#: Entries asked per TRANS2_FIND request, and request rounds per listing.
FIND_BATCH = 512
MAX_FIND_ROUNDS = 64
#: TRANS2 reply parts assembled per request ([MS-CIFS] §3.2.5.11: a reply
#: larger than the client's buffer comes in parts).
MAX_TRANS_PARTS = 32
# [MS-CIFS] §2.2.1.2.3 SMB_EXT_FILE_ATTR: a folder; a reparse point (a link,
# not followed: the walk must not loop or leave the share).
ATTR_DIRECTORY = 0x10
ATTR_REPARSE_POINT = 0x400
# [MS-CIFS] §2.2.1.2.4 SMB_FILE_ATTRIBUTE search attributes: everything but
# volume labels.
SEARCH_ALL = 0x0001 | 0x0002 | 0x0004 | 0x0010 | 0x0020
# [MS-SMB2] §2.2.13.1.1 / [MS-CIFS] §2.2.4.64.1 access and share modes.
FILE_READ_DATA = 0x00000001
FILE_SHARE_ALL = 0x00000001 | 0x00000002 | 0x00000004
FILE_OPEN = 0x00000001
FILE_DIRECTORY_FILE = 0x00000001
FILE_NON_DIRECTORY_FILE = 0x00000040
# A search that matched nothing ([MS-ERREF] §2.3.1; [MS-CIFS] §2.2.2.4).
STATUS_NO_SUCH_FILE = 0xC000000F
ERRDOS = 0x01
ERR_NO_FILES = 18
# NT status of a refused login ([MS-ERREF] §2.3.1).
LOGIN_REFUSALS = frozenset(
    {
        0xC000006D,  # STATUS_LOGON_FAILURE
        0xC0000022,  # STATUS_ACCESS_DENIED
        0xC000006E,  # STATUS_ACCOUNT_RESTRICTION
        0xC0000072,  # STATUS_ACCOUNT_DISABLED
    }
)


def _refused(exc: BaseException) -> bool:
    """The server answered with an error status (as opposed to no answer)."""
    return isinstance(exc, _smb.SessionError | _smbconnection.SessionError)


class Smb1Session:
    """One TCP connection, one SMB1 session (anonymous or guest).

    The socket is a relay's: the event loop holds the real connection, caps
    its frames and closes it at the deadline, so no call here can outlive
    the probe."""

    def __init__(self, connect: Connector, port: int, user: str, timeout: float) -> None:
        self.timeout = timeout
        self._tcp, self.link = connect()
        self.conn: Any = None
        try:
            if port == 139:
                # RFC 1002 §4.3.2, done here: impacket would first ask the
                # server's name over UDP 137 (*SMBSERVER look-up).
                _netbios_session(self._tcp)
            # sess_port 445 below: the NetBIOS session, if any, is made.
            nbt = _nmb.NetBIOSTCPSession(
                "", "*SMBSERVER", "*SMBSERVER", sess_port=445, timeout=timeout, sock=self._tcp
            )
            smb1 = _smb.SMB("*SMBSERVER", "*SMBSERVER", sess_port=445, timeout=timeout, session=nbt)
            self.conn = _smbconnection.SMBConnection(existingConnection=smb1)
            try:
                self.conn.login(user, "")
            except Exception as exc:
                if _refused(exc) and _status(exc) in LOGIN_REFUSALS:
                    raise LoginRefused(type(exc).__name__) from None
                raise
        except _nmb.NetBIOSTimeout:
            self.close()
            raise TimeoutError("SMB1 answer timed out") from None
        except _nmb.NetBIOSError:
            self.close()
            raise ConnectionError("SMB1 connection closed") from None
        except BaseException:
            self.close()
            raise

    @property
    def is_guest(self) -> bool:
        return bool(self.conn.isGuestSession())

    @property
    def _server(self) -> Any:
        return self.conn.getSMBServer()

    def server_name(self) -> str | None:
        """The NetBIOS computer name the server gave in its NTLM challenge."""
        try:
            name = str(self.conn.getServerName() or "")
        except Exception:
            return None
        name = "".join(ch for ch in name if ch.isprintable()).strip()
        return name[:64] or None

    def close(self) -> None:
        if self.conn is not None:
            with suppress(Exception):
                self.conn.logoff()
        with suppress(OSError):
            self._tcp.close()

    # -- requests, each bounded by ``timeout`` and the relay ------------------

    def _call(self, what: str, function: Any, *args: Any) -> Any:
        """Run one impacket request: an error status is a refusal, anything
        else (no answer, a closed link, garbage) a lost session."""
        try:
            return function(*args)
        except ShareAccessDenied:
            raise
        except Exception as exc:
            if _refused(exc):
                raise ShareAccessDenied(what) from None
            raise ShareSessionLost(f"{what}: {type(exc).__name__}") from None

    def tree_connect(self, share: str) -> int:
        server = self.server_name() or "*SMBSERVER"
        # A UNC path: impacket's connectTree keeps it as given.
        return int(self._call("tree connect", self.conn.connectTree, f"\\\\{server}\\{share}"))

    def tree_disconnect(self, tid: int) -> None:
        with suppress(Exception):
            self.conn.disconnectTree(tid)

    def list_folder(self, tid: int, path: str, max_entries: int) -> tuple[list[Entry], bool]:
        pattern = f"{path}\\*" if path else "*"
        return self._call("find", self._find, tid, pattern, max_entries)  # type: ignore[no-any-return]

    def read_head(self, tid: int, path: str, size: int) -> bytes:
        fid = self._call(
            "open",
            self.conn.openFile,
            tid,
            path,
            FILE_READ_DATA,
            FILE_SHARE_ALL,  # the practice's software keeps working meanwhile
            FILE_NON_DIRECTORY_FILE,
            FILE_OPEN,
            0,
        )
        try:
            data = self._call("read", self.conn.readFile, tid, fid, 0, size, True)
            return bytes(data)[:size]
        finally:
            with suppress(Exception):
                self.conn.closeFile(tid, fid)

    def enum_shares(self) -> list[ShareInfo]:
        shares = self._call("share list", self.conn.listShares)
        return [
            ShareInfo(
                name=_text(item["shi1_netname"]),
                type=int(item["shi1_type"]),
                remark=_text(item["shi1_remark"]),
            )
            for item in shares
        ]

    # -- TRANS2_FIND_FIRST2 / FIND_NEXT2, bounded ([MS-CIFS] §2.2.6.2-3) -------

    def _find(self, tid: int, pattern: str, max_entries: int) -> tuple[list[Entry], bool]:
        server = self._server
        unicode = bool(server.get_flags()[1] & _smb.SMB.FLAGS2_UNICODE)
        encoding = "utf-16le" if unicode else "cp437"
        terminator = b"\x00\x00" if unicode else b"\x00"
        first = _smb.SMBFindFirst2_Parameters(server.get_flags()[1])
        first["SearchAttributes"] = SEARCH_ALL
        first["SearchCount"] = min(FIND_BATCH, max_entries + 2)  # "." and ".."
        first["Flags"] = _smb.SMB_FIND_RETURN_RESUME_KEYS | _smb.SMB_FIND_CLOSE_AT_EOS
        first["InformationLevel"] = _smb.SMB_FIND_FILE_BOTH_DIRECTORY_INFO
        first["SearchStorageType"] = 0
        first["FileName"] = pattern.encode(encoding) + terminator
        server.send_trans2(tid, _smb.SMB.TRANS2_FIND_FIRST2, "\x00", first, "")
        try:
            params, data = self._trans2_reply()
        except Exception as exc:
            # A folder with nothing to match (a Windows share root has no "."
            # or ".."): an empty listing, not a refusal.
            if _refused(exc) and _no_match(exc):
                return [], False
            raise
        reply = _smb.SMBFindFirst2Response_Parameters(params)
        sid = reply["SID"]
        entries: list[Entry] = []
        for _ in range(MAX_FIND_ROUNDS):
            last: Any = None
            for record in _records(data, int(reply["SearchCount"]), unicode):
                last = record
                # Samba counts the name's terminator in FileNameLength.
                name = record["FileName"].decode(encoding, "replace").rstrip("\x00")
                attributes = int(record["ExtFileAttributes"])
                if name in (".", "..") or attributes & ATTR_REPARSE_POINT:
                    continue
                if len(entries) >= max_entries:
                    return entries, True
                entries.append(Entry(name, bool(attributes & ATTR_DIRECTORY)))
            if reply["EndOfSearch"] or last is None:
                return entries, False
            if len(entries) >= max_entries:
                return entries, True
            following = _smb.SMBFindNext2_Parameters()
            following["SID"] = sid
            following["SearchCount"] = min(FIND_BATCH, max_entries - len(entries) + 1)
            following["InformationLevel"] = _smb.SMB_FIND_FILE_BOTH_DIRECTORY_INFO
            following["ResumeKey"] = last["FileIndex"]
            following["Flags"] = _smb.SMB_FIND_RETURN_RESUME_KEYS | _smb.SMB_FIND_CLOSE_AT_EOS
            resume = last["FileName"].decode(encoding, "replace").rstrip("\x00")
            following["FileName"] = resume.encode(encoding) + terminator
            server.send_trans2(tid, _smb.SMB.TRANS2_FIND_NEXT2, "\x00", following, "")
            params, data = self._trans2_reply()
            reply = _smb.SMBFindNext2Response_Parameters(params)
        return entries, True

    def _trans2_reply(self) -> tuple[bytes, bytes]:
        """One TRANS2 reply, its parts joined ([MS-CIFS] §2.2.4.46.2)."""
        server = self._server
        params = b""
        data = b""
        total = 1
        for _ in range(MAX_TRANS_PARTS):
            if len(data) >= total:
                return params, data
            answer = server.recvSMB()
            # isValidAnswer raises impacket's SessionError on an error status.
            if not answer.isValidAnswer(_smb.SMB.SMB_COM_TRANSACTION2):
                continue
            part = _smb.SMBCommand(answer["Data"][0])
            header = _smb.SMBTransaction2Response_Parameters(part["Parameters"])
            total = int(header["TotalDataCount"])
            # Offsets count from the SMB header; part["Data"] starts 55 bytes
            # in (32-byte header, word count, 10 words of parameters, byte
            # count), as impacket's own list_path reads them.
            body = part["Data"]
            params += body[header["ParameterOffset"] - 55 :][: header["ParameterCount"]]
            data += body[header["DataOffset"] - 55 :][: header["DataCount"]]
        if len(data) >= total:
            return params, data
        raise ShareSessionLost("TRANS2 reply in too many parts")


def _records(data: bytes, count: int, unicode: bool) -> list[Any]:
    """The SMB_FIND_FILE_BOTH_DIRECTORY_INFO records of a FIND reply
    ([MS-CIFS] §2.2.8.1.7), at most ``count``, each inside ``data``."""
    records: list[Any] = []
    offset = 0
    flags = _smb.SMB.FLAGS2_UNICODE if unicode else 0
    while len(records) < count and offset < len(data):
        try:
            record = _smb.SMBFindFileBothDirectoryInfo(flags, data=data[offset:])
        except Exception:  # impacket's Structure raises several types on garbage
            raise ShareSessionLost("malformed FIND record") from None
        records.append(record)
        step = int(record["NextEntryOffset"])
        if step <= 0:
            break
        offset += step
    return records


def _no_match(exc: BaseException) -> bool:
    """STATUS_NO_SUCH_FILE ([MS-ERREF] §2.3.1), or its DOS form ERRDOS/
    ERRnofiles ([MS-CIFS] §2.2.2.4) from a server without NT status codes."""
    with suppress(Exception):
        if getattr(exc, "nt_status", 0):
            return _status(exc) == STATUS_NO_SUCH_FILE
        return (exc.get_error_class(), _status(exc)) == (ERRDOS, ERR_NO_FILES)  # type: ignore[attr-defined]
    return False


def _status(exc: BaseException) -> int:
    """The NT status of impacket's SessionError (smb's and smbconnection's
    name the getter differently)."""
    for getter in ("getErrorCode", "get_error_code"):
        with suppress(Exception):
            return int(getattr(exc, getter)())
    return 0


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").rstrip("\x00")


def _netbios_session(tcp: Any) -> None:
    tcp.sendall(wire.session_request())
    header = _recv_exactly(tcp, 4)
    kind, length = wire.parse_frame_header(header)
    if length:
        _recv_exactly(tcp, min(length, 64))
    if kind != wire.NBSS_POSITIVE:
        raise ConnectionError("NetBIOS session refused")


def _recv_exactly(tcp: Any, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = tcp.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
