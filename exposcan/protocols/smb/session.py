"""Anonymous and guest SMB2/3 sessions through scapy's client (blocking).

Runs in a worker thread (``ctx.limits.run_blocking``).  scapy's high-level
``smbclient`` prints to stdout and some of its helpers wait without a timeout
(the srvsvc pipe transceive, ``SMB_SOCKET.ioctl``), so this module uses only
the automaton (``SMB_Client``) and ``SMB_SOCKET`` for the handshake, then
sends every request itself through ``sr1(..., timeout=...)``: each blocking
call is bounded by the library's own timeout.

Read-only by construction: files and folders are opened with FILE_OPEN (never
created) and read access only; no lease, no durable handle; the only write is
the DCE/RPC request into the srvsvc pipe of IPC$, which is how shares are
listed ([MS-SRVS] §3.1.4.8 NetrShareEnum).  No name found in a share leaves
this module, not even in a log: scapy's loggers are silenced.
"""

from __future__ import annotations

import importlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from exposcan.healthdata import HealthSignatures
from exposcan.imaging import ImagingSignatures
from exposcan.protocols.smb import wire
from exposcan.protocols.smb.relay import Link
from exposcan.protocols.smb.walk import (
    Entry,
    ShareAccessDenied,
    ShareSessionLost,
    WalkLimits,
    WalkResult,
    walk_share,
)
from exposcan.walk import FolderScores

# scapy logs dissection warnings and NTLM details at WARNING, on its own
# stderr handler: a share walk must print nothing, even at -vv.
logging.getLogger("scapy").setLevel(logging.CRITICAL + 1)
log = logging.getLogger("exposcan.smb")


def _untyped(module: str) -> Any:
    """scapy's annotations are partial (mypy --strict rejects its calls):
    treat its modules as untyped."""
    return importlib.import_module(module)


_dcerpc = _untyped("scapy.layers.dcerpc")
_srvs = _untyped("scapy.layers.msrpce.raw.ms_srvs")
_ntlm = _untyped("scapy.layers.ntlm")
_smb2 = _untyped("scapy.layers.smb2")
_smbclient = _untyped("scapy.layers.smbclient")
_spnego = _untyped("scapy.layers.spnego")

#: The logins tried, in order, and the NTLM user each sends (empty password).
#: An empty user name is the null session ("smbclient -N"); "guest" is what a
#: server with "map to guest = Bad User" (or an enabled Windows Guest
#: account) lets in.  Neither is a credential guess: no brute force.
LOGINS: tuple[tuple[str, str], ...] = (("anonymous", ""), ("guest", "guest"))

# [MS-SRVS] §2.2.2.4: share types (low bits); STYPE_SPECIAL is bit 31.
STYPE_DISK = 0x0
STYPE_IPC = 0x3
#: Shares tried per server, and the reply sizes accepted.
MAX_SHARES = 32
#: How often the handshake wait looks at the relay and scapy's automaton.
HANDSHAKE_POLL = 0.02
RPC_CAP = 256 * 1024
MAX_FRAGMENTS = 64
DIRECTORY_CHUNK = 65536
MAX_DIRECTORY_ROUNDS = 64
#: Unlisted share names tried at most per session (catalogue folder names).
MAX_HIDDEN_NAMES = 24
SHARE_NAME_CAP = 80

# [MS-FSCC] §2.6: file attribute of a folder; of a reparse point (a link,
# not followed: the walk must not loop or leave the share).
FILE_ATTRIBUTE_DIRECTORY = 0x10
FILE_ATTRIBUTE_REPARSE_POINT = 0x400

_SAMBA_IPC = re.compile(r"^IPC Service \(")


@dataclass(frozen=True)
class ShareInfo:
    name: str
    type: int
    remark: str

    @property
    def is_disk(self) -> bool:
        return self.type & 0x0FFFFFFF == STYPE_DISK


@dataclass
class ShareReport:
    name: str
    session: str  # "anonymous" or "guest"
    walk: WalkResult
    #: False: not in the share listing (``browseable = no``), found by name.
    listed: bool = True


@dataclass
class Exploration:
    logins: dict[str, bool] = field(default_factory=dict)
    guest_flag: dict[str, bool] = field(default_factory=dict)
    shares_listed: int = 0
    disk_shares: int = 0
    readable: list[ShareReport] = field(default_factory=list)
    refused: int = 0  # disk shares whose tree connect or root listing failed
    samba: bool = False
    problems: list[str] = field(default_factory=list)
    #: A login that failed after the server answered it (malformed answer),
    #: as opposed to one that got no answer at all.
    answered_badly: bool = False
    #: The server's NetBIOS computer name from its NTLM challenge
    #: ([MS-NLMP] §2.2.2.1 MsvAvNbComputerName): Horos's AE title is its
    #: host's name, so the DICOM probe tries it.
    server_name: str | None = None


def clean_share_name(name: str) -> str:
    """Share names come from the server: keep them printable and short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in name)
    return text[:SHARE_NAME_CAP]


#: Opens one connection to the server and returns the thread's end of it
#: (a socket whose timeout is the read deadline) and its relay's counters.
Connector = Callable[[], tuple[socket.socket, Link]]


class LoginRefused(Exception):
    """The server answered the session setup with a refusal status: a clean
    "no", not a malformed answer."""


class ShareSession(Protocol):
    """What :func:`explore` asks of a session, whatever its dialect: the SMB2/3
    session below, or the SMB1 one (:mod:`exposcan.protocols.smb.session_smb1`)."""

    timeout: float

    @property
    def is_guest(self) -> bool: ...

    def server_name(self) -> str | None: ...

    def enum_shares(self) -> list[ShareInfo]: ...

    def tree_connect(self, share: str) -> int: ...

    def tree_disconnect(self, tid: int) -> None: ...

    def list_folder(self, tid: int, path: str, max_entries: int) -> tuple[list[Entry], bool]: ...

    def read_head(self, tid: int, path: str, size: int) -> bytes: ...

    def close(self) -> None: ...


#: Opens one session (connector, port, NTLM user, timeout): raises when the
#: login fails.
SessionOpener = Callable[[Connector, int, str, float], ShareSession]


class SmbSession:
    """One TCP connection, one SMB2/3 session (anonymous or guest).

    The socket is a relay's (:mod:`exposcan.protocols.smb.relay`): the event
    loop holds the real connection, caps its frames and closes it at the
    deadline, so no call here can outlive the probe."""

    def __init__(self, connect: Connector, port: int, user: str, timeout: float) -> None:
        self.timeout = timeout
        #: Requests sent in this session (each one answer awaited).
        self.messages = 0
        self._tcp, self.link = connect()
        self._link: Any = None
        self.smb: Any = None
        try:
            if port == 139:
                self._netbios_session()
            ssp = _spnego.SPNEGOSSP([_ntlm.NTLMSSP(UPN=user, HASHNT=b"")])
            # REQUIRE_SIGNATURE False: a guest session cannot sign ([MS-SMB2]
            # §3.2.5.3.1); a server that demands signing refuses it anyway.
            self._link = _smbclient.SMB_Client.from_tcpsock(
                self._tcp, ssp=ssp, timeout=timeout, REQUIRE_SIGNATURE=False, debug=0
            )
            self._await_handshake(timeout)
            self.smb = _smbclient.SMB_SOCKET(self._link, timeout=timeout)
        except BaseException:
            self.close()
            raise

    def _await_handshake(self, timeout: float) -> None:
        """Wait for the session setup as scapy's SMB_SOCKET does, but end
        the wait as soon as the relay has cut the link (a frame too large or
        dripped) or scapy's automaton has stopped (the server closed, or
        answered what it could not use): SMB_SOCKET alone waits its whole
        timeout on an event nobody will set.  On the lab's 16 MiB SMB frame
        that was 5 s of one of the host's two connection slots per login;
        the answer is known after milliseconds."""
        ready = self._link.atmt.smb_sock_ready
        end = time.monotonic() + timeout
        while not ready.wait(HANDSHAKE_POLL):
            if self.link.refused:
                raise ConnectionAbortedError("relay refused a frame")
            if not self._link.atmt.isrunning():
                raise ConnectionError("session setup ended without a session")
            if time.monotonic() >= end:
                raise TimeoutError("SMB handshake timed out")

    def _netbios_session(self) -> None:
        self._tcp.sendall(wire.session_request())
        header = self._recv_exactly(4)
        kind, length = wire.parse_frame_header(header)
        if length:
            self._recv_exactly(min(length, 64))
        if kind != wire.NBSS_POSITIVE:
            raise ConnectionError("NetBIOS session refused")

    def _recv_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self._tcp.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    @property
    def is_guest(self) -> bool:
        return bool(self.smb.session.IsGuest)

    def close(self) -> None:
        if self.smb is not None:
            with suppress(Exception):
                self.smb.close()
        elif self._link is not None:
            with suppress(Exception):
                self._link.close()
        with suppress(OSError):
            self._tcp.close()

    # -- requests, each bounded by ``timeout`` ---------------------------------

    def _sr1(self, request: Any) -> Any:
        self.messages += 1
        try:
            answer = self.smb.ins.sr1(request, chainCC=True, verbose=0, timeout=self.timeout)
        except Exception as exc:  # scapy's own types, from a closed or dead link
            raise ShareSessionLost(type(exc).__name__) from None
        if answer is None:
            raise ShareSessionLost("no answer")
        return answer

    def server_name(self) -> str | None:
        """The NetBIOS computer name the server gave in its NTLM challenge."""
        try:
            name = _text(self.smb.session.sspcontext.ServerHostname)
        except AttributeError:
            return None
        name = "".join(ch for ch in name if ch.isprintable()).strip()
        return name[:64] or None

    def tree_connect(self, share: str) -> int:
        server = self.smb.session.sspcontext.ServerHostname or "*SMBSERVER"
        answer = self._sr1(
            _smb2.SMB2_Tree_Connect_Request(Buffer=[("Path", f"\\\\{server}\\{share}")])
        )
        if _smb2.SMB2_Tree_Connect_Response not in answer:
            raise ShareAccessDenied(str(getattr(answer, "NTStatus", "refused")))
        return int(self.smb.get_TID())

    def tree_disconnect(self, tid: int) -> None:
        self.smb.set_TID(tid)
        with suppress(ShareSessionLost):
            self._sr1(_smb2.SMB2_Tree_Disconnect_Request())

    def open(self, tid: int, path: str, folder: bool, pipe: bool = False) -> Any:
        """[MS-SMB2] §2.2.13 CREATE with FILE_OPEN: never creates, never
        truncates; read access only (a pipe also needs write, for RPC)."""
        self.smb.set_TID(tid)
        access = "FILE_READ_DATA+FILE_READ_ATTRIBUTES+SYNCHRONIZE"
        if pipe:
            access = "FILE_READ_DATA+FILE_WRITE_DATA+FILE_READ_ATTRIBUTES+SYNCHRONIZE"
        answer = self._sr1(
            _smb2.SMB2_Create_Request(
                ImpersonationLevel="Impersonation",
                DesiredAccess=access,
                CreateDisposition="FILE_OPEN",
                CreateOptions="FILE_DIRECTORY_FILE" if folder else "FILE_NON_DIRECTORY_FILE",
                # Share everything: the practice's software keeps working meanwhile.
                ShareAccess="FILE_SHARE_READ+FILE_SHARE_WRITE+FILE_SHARE_DELETE",
                FileAttributes=0,
                RequestedOplockLevel=0,
                Name=path,
            )
        )
        if _smb2.SMB2_Create_Response not in answer:
            raise ShareAccessDenied(str(getattr(answer, "NTStatus", "refused")))
        return answer[_smb2.SMB2_Create_Response].FileId

    def close_handle(self, tid: int, file_id: Any) -> None:
        self.smb.set_TID(tid)
        with suppress(ShareSessionLost):
            self._sr1(_smb2.SMB2_Close_Request(FileId=file_id))

    def list_folder(self, tid: int, path: str, max_entries: int) -> tuple[list[Entry], bool]:
        file_id = self.open(tid, path, folder=True)
        entries: list[Entry] = []
        cut = False
        try:
            flags: Any = "SMB2_RESTART_SCANS"
            for _ in range(MAX_DIRECTORY_ROUNDS):
                answer = self._sr1(
                    _smb2.SMB2_Query_Directory_Request(
                        FileInformationClass="FileIdBothDirectoryInformation",
                        FileId=file_id,
                        FileName="*",
                        Flags=flags,
                        OutputBufferLength=DIRECTORY_CHUNK,
                    )
                )
                flags = 0
                if _smb2.SMB2_Query_Directory_Response not in answer:
                    # STATUS_NO_MORE_FILES ends a listing ([MS-SMB2] §3.3.5.18).
                    status = str(getattr(answer, "NTStatus", ""))
                    if status != "STATUS_NO_MORE_FILES" and not entries:
                        raise ShareAccessDenied("query directory refused")
                    break
                for name, attributes in wire.directory_entries(bytes(answer.Output)):
                    if name in (".", ".."):
                        continue
                    if attributes & FILE_ATTRIBUTE_REPARSE_POINT:
                        continue
                    if len(entries) >= max_entries:
                        cut = True
                        break
                    entries.append(Entry(name, bool(attributes & FILE_ATTRIBUTE_DIRECTORY)))
                if cut:
                    break
            else:
                cut = True
        finally:
            self.close_handle(tid, file_id)
        return entries, cut

    def read_head(self, tid: int, path: str, size: int) -> bytes:
        file_id = self.open(tid, path, folder=False)
        try:
            answer = self._sr1(_smb2.SMB2_Read_Request(FileId=file_id, Length=size, Offset=0))
            if _smb2.SMB2_Read_Response not in answer:
                # STATUS_END_OF_FILE: an empty file is no image.
                return b""
            return bytes(answer.Data)[:size]
        finally:
            self.close_handle(tid, file_id)

    # -- shares: NetrShareEnum over \PIPE\srvsvc ([MS-SRVS] §3.1.4.8) ---------

    def enum_shares(self) -> list[ShareInfo]:
        tid = self.tree_connect("IPC$")
        try:
            pipe = self.open(tid, "srvsvc", folder=False, pipe=True)
            try:
                return self._net_share_enum(tid, pipe)
            finally:
                self.close_handle(tid, pipe)
        finally:
            self.tree_disconnect(tid)

    def _transceive(self, tid: int, pipe: Any, pdu: bytes) -> tuple[int, bytes]:
        """FSCTL_PIPE_TRANSCEIVE ([MS-FSCC] §2.3.49), then pipe reads until the
        DCE/RPC last fragment, within the reply cap.  Returns the first
        fragment's packet type and every fragment's body after the 24-byte
        response header (C706 §12.6.4.10), joined."""
        self.smb.set_TID(tid)
        answer = self._sr1(
            _smb2.SMB2_IOCTL_Request(
                FileId=pipe,
                Flags="SMB2_0_IOCTL_IS_FSCTL",
                CtlCode="FSCTL_PIPE_TRANSCEIVE",
                Input=pdu,
                MaxOutputResponse=DIRECTORY_CHUNK,
            )
        )
        if _smb2.SMB2_IOCTL_Response not in answer:
            raise ShareAccessDenied("srvsvc refused")
        data = bytes(answer.Output)
        kind: int | None = None
        bodies: list[bytes] = []
        received = len(data)
        for _ in range(MAX_FRAGMENTS):
            while len(data) >= 16:
                frag_len = int.from_bytes(data[8:10], "little")
                if frag_len < 16:
                    raise ShareSessionLost("malformed DCE/RPC fragment")
                if len(data) < frag_len:
                    break
                fragment, data = data[:frag_len], data[frag_len:]
                kind = fragment[2] if kind is None else kind
                bodies.append(fragment[24:])
                if fragment[3] & 0x02:  # PFC_LAST_FRAG (C706 §12.6.3.1)
                    return kind, b"".join(bodies)
            if received > RPC_CAP:
                raise ShareSessionLost("srvsvc reply too large")
            self.smb.set_TID(tid)
            more = self._sr1(_smb2.SMB2_Read_Request(FileId=pipe, Length=DIRECTORY_CHUNK))
            if _smb2.SMB2_Read_Response not in more:
                raise ShareSessionLost("srvsvc reply cut")
            chunk = bytes(more.Data)
            received += len(chunk)
            data += chunk
        raise ShareSessionLost("too many DCE/RPC fragments")

    def _net_share_enum(self, tid: int, pipe: Any) -> list[ShareInfo]:
        interface = _dcerpc.find_dcerpc_interface("srvsvc")
        whole = "PFC_FIRST_FRAG+PFC_LAST_FRAG"
        bind = _dcerpc.DceRpc5(call_id=1, pfc_flags=whole) / _dcerpc.DceRpc5Bind(
            max_xmit_frag=4280,
            max_recv_frag=4280,
            context_elem=[
                _dcerpc.DceRpc5Context(
                    cont_id=0,
                    abstract_syntax=_dcerpc.DceRpc5AbstractSyntax(
                        if_uuid=interface.uuid, if_version=interface.if_version
                    ),
                    transfer_syntaxes=[
                        _dcerpc.DceRpc5TransferSyntax(if_uuid="NDR 2.0", if_version=2)
                    ],
                )
            ],
        )
        kind, _ = self._transceive(tid, pipe, bytes(bind))
        if kind != 12:  # bind_ack (C706 §12.6.4.4)
            raise ShareAccessDenied("srvsvc bind refused")
        request = _srvs.NetrShareEnum_Request(
            InfoStruct=_srvs.LPSHARE_ENUM_STRUCT(
                Level=1,
                ShareInfo=_dcerpc.NDRUnion(tag=1, value=_srvs.SHARE_INFO_1_CONTAINER(Buffer=None)),
            ),
            PreferedMaximumLength=0xFFFFFFFF,
            ndr64=False,
        )
        pdu = (
            _dcerpc.DceRpc5(call_id=2, pfc_flags=whole)
            / _dcerpc.DceRpc5Request(cont_id=0, opnum=15, alloc_hint=len(request))
            / request
        )
        kind, stub = self._transceive(tid, pipe, bytes(pdu))
        if kind != 2:  # response, not fault (C706 §12.6.4.10)
            raise ShareAccessDenied("NetrShareEnum refused")
        parsed = _srvs.NetrShareEnum_Response(stub, ndr64=False)
        if parsed.status != 0:
            raise ShareAccessDenied("NetrShareEnum failed")
        shares: list[ShareInfo] = []
        for item in parsed.valueof("InfoStruct.ShareInfo.Buffer") or []:
            shares.append(
                ShareInfo(
                    name=_text(item.valueof("shi1_netname")),
                    type=int(item.valueof("shi1_type")),
                    remark=_text(item.valueof("shi1_remark")),
                )
            )
        return shares


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return str(value or "").rstrip("\x00")


class _TreeReader:
    """The walk's view of one connected share."""

    def __init__(self, session: ShareSession, tid: int) -> None:
        self.session = session
        self.tid = tid

    def list_folder(self, path: str, max_entries: int) -> tuple[list[Entry], bool]:
        return self.session.list_folder(self.tid, path, max_entries)

    def read_head(self, path: str, size: int) -> bytes:
        return self.session.read_head(self.tid, path, size)


def explore(
    connect: Connector,
    port: int,
    connect_timeout: float,
    timeout: float,
    deadline: float,
    walk_limits: WalkLimits,
    signatures: ImagingSignatures,
    health: HealthSignatures,
    stop: threading.Event,
    opener: SessionOpener | None = None,
    scores: FolderScores | None = None,
) -> Exploration:
    """Try the null session then guest; in each, list the shares and walk
    every disk share not yet proven readable.  ``opener`` makes the sessions
    (the SMB2/3 one by default).

    Proof of access is a share listing plus a listing of the share's root:
    a server that maps any user to guest accepts any login, so a successful
    session setup alone proves nothing."""
    result = Exploration()
    proven: set[str] = set()
    open_session: SessionOpener = opener or SmbSession
    for label, user in LOGINS:
        if stop.is_set() or time.monotonic() + connect_timeout + timeout > deadline:
            result.problems.append("time")
            break
        link: Link | None = None

        def connect_noting() -> tuple[socket.socket, Link]:
            nonlocal link
            sock, link = connect()
            return sock, link

        try:
            session = open_session(connect_noting, port, user, timeout)
        except LoginRefused as exc:
            # The server said no to this login: guest is still tried.
            result.logins[label] = False
            result.problems.append(f"{label} login: {exc}")
            continue
        except Exception as exc:  # scapy raises its own exception types
            result.logins[label] = False
            problem = f"{label} login: {type(exc).__name__}"
            if link is not None and link.refused:
                problem = f"{label} login: {link.refused}"
            elif link is not None and link.frames_down - (port == 139) >= 2:
                # NEGOTIATE answered, then a SESSION_SETUP answer came that
                # the client could not use: not a silent server.
                result.answered_badly = True
            result.problems.append(problem)
            if (link is not None and link.refused) or type(exc).__name__.endswith("TimeoutError"):
                # The relay cut a frame (too large, dripped) or the server
                # stalled: the next login would meet the same server and burn
                # one more read deadline of this host (the lab's
                # SMB drip cost two of them, 11 s).  A refused login is no
                # stall: guest is still tried after it.  scapy's timeout
                # types are its own; their names end the same way.
                break
            continue
        result.logins[label] = True
        if result.server_name is None:
            result.server_name = session.server_name()
        try:
            result.guest_flag[label] = session.is_guest
            _explore_session(
                session,
                label,
                result,
                proven,
                deadline,
                walk_limits,
                signatures,
                health,
                stop,
                scores or FolderScores(),
            )
        except Exception as exc:  # what scapy raises on odd replies: keep what we have
            result.problems.append(f"{label}: {type(exc).__name__}")
        finally:
            session.close()
    return result


def _explore_session(
    session: ShareSession,
    label: str,
    result: Exploration,
    proven: set[str],
    deadline: float,
    walk_limits: WalkLimits,
    signatures: ImagingSignatures,
    health: HealthSignatures,
    stop: threading.Event,
    scores: FolderScores,
) -> None:
    try:
        shares = session.enum_shares()
    except Exception as exc:
        result.problems.append(f"{label} share list: {type(exc).__name__}")
        return
    result.shares_listed = max(result.shares_listed, len(shares))
    if any(s.type & 0x0FFFFFFF == STYPE_IPC and _SAMBA_IPC.match(s.remark) for s in shares):
        # Samba names its IPC$ "IPC Service (<server string>)"; Windows says
        # "Remote IPC".
        result.samba = True
    disks = [s for s in shares if s.is_disk][:MAX_SHARES]
    result.disk_shares = max(result.disk_shares, len(disks))
    limits = replace(walk_limits, deadline=min(deadline, walk_limits.deadline))
    for share in disks:
        if share.name in proven:
            continue
        if stop.is_set() or time.monotonic() + session.timeout > deadline:
            result.problems.append("time")
            break
        walked = _walk_one(
            session, share.name, label, result, limits, signatures, health, stop, scores
        )
        if walked is _LOST:
            break
        if walked is not None:
            proven.add(share.name)
            result.readable.append(ShareReport(clean_share_name(share.name), label, walked))
    result.refused = result.disk_shares - len(proven)
    # Shares the listing hides (smb.conf "browseable = no") are still open to
    # whoever names them: try the catalogue's imaging folder names, as nmap's
    # smb-enum-shares tries usual names; a connect and a root listing each,
    # read-only.
    listed = {s.name.rstrip("\x00").upper() for s in shares}
    hidden = [n for n in sorted(signatures.folders) if n not in listed][:MAX_HIDDEN_NAMES]
    for name in hidden:
        if stop.is_set() or time.monotonic() + session.timeout > deadline:
            result.problems.append("time")
            break
        if name in proven:
            continue
        walked = _walk_one(session, name, label, result, limits, signatures, health, stop, scores)
        if walked is _LOST:
            break
        if walked is not None:
            proven.add(name)
            result.readable.append(ShareReport(name, label, walked, listed=False))


#: What :func:`_walk_one` returns when the session or its tree is gone.
_LOST = WalkResult()


def _walk_one(
    session: ShareSession,
    name: str,
    label: str,
    result: Exploration,
    limits: WalkLimits,
    signatures: ImagingSignatures,
    health: HealthSignatures,
    stop: threading.Event,
    scores: FolderScores,
) -> WalkResult | None:
    """Connect to share ``name``, prove it readable by a listing of its root,
    and walk it: its walk, None if refused, or ``_LOST`` (a problem noted)
    when the session or the tree connect was lost."""
    try:
        tid = session.tree_connect(name)
    except ShareAccessDenied:
        return None
    except Exception:
        result.problems.append(f"{label} tree connect lost")
        return _LOST
    try:
        try:
            # The root listing is the proof: without it, not readable.
            session.list_folder(tid, "", 1)
        except ShareAccessDenied:
            return None
        # Any session plugs in; one that counts its requests says the cost.
        sent = getattr(session, "messages", 0)
        walked = walk_share(_TreeReader(session, tid), signatures, limits, health, stop, scores)
        log.debug("share walk: %d SMB requests", getattr(session, "messages", 0) - sent)
        return walked
    except ShareSessionLost:
        result.problems.append(f"{label} session lost")
        return _LOST
    finally:
        session.tree_disconnect(tid)
