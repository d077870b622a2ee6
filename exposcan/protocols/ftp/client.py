"""A bounded, read-only FTP client (RFC 959, RFC 2428 EPSV, RFC 4217 TLS).

Why our own and not aioftp (installed, and a fine client for friendly
servers): measured with ``python -m bench.ftp_clients`` (aioftp 0.28.3,
Python 3.11), a server sending ``220-`` greeting lines forever keeps aioftp
reading 3 s past a 5 s ``asyncio.timeout`` (it was killed there, its memory
still growing: every line of a multi-line reply goes into an uncapped list,
and its per-read ``socket_timeout`` never trips on a steady sender); this
client gives up at the reply cap in 0.01 s.  aioftp does ignore the address
of a PASV reply by default, as this client does.  Here:

- every reply is bounded in line length, line count, bytes and time;
- data connections go to the control connection's peer, whatever PASV says;
- a listing or a file read is capped in bytes and in time, and a file is
  never read past its first bytes (the data connection is closed);
- only an allow-list of read-only commands can be sent, and no argument may
  hold CR or LF (a listed name cannot smuggle a second command);
- no error message quotes what the server sent (it may hold file names).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass

from exposcan.limits import Deadlines, progressed
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError, classify, insecure_tls_context

#: RFC 959 §4.1: access control, parameter and service commands that read
#: only.  STOR, APPE, DELE, RNFR/RNTO, MKD, RMD, SITE, ... can never be sent.
READ_ONLY_COMMANDS = frozenset(
    {
        "USER",
        "PASS",
        "AUTH",
        "PBSZ",
        "PROT",
        "FEAT",
        "SYST",
        "PWD",
        "CWD",
        "TYPE",
        "EPSV",
        "PASV",
        "LIST",
        "MLSD",
        "RETR",
        "QUIT",
    }
)

#: Caps of one reply (a banner is a reply): a real greeting is a few lines.
LINE_CAP = 2048
REPLY_LINES_CAP = 64
REPLY_BYTES_CAP = 16384

_PASV = re.compile(rb"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPSV = re.compile(rb"\((.)\1\1(\d{1,5})\1\)")


@dataclass(frozen=True)
class Reply:
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def preliminary(self) -> bool:
        return 100 <= self.code < 200


@dataclass(frozen=True)
class Transfer:
    data: bytes
    #: True: the cap was reached and the rest was never read.
    capped: bool
    complete: bool  # the server's final reply was positive
    #: False: the final reply never came; the control connection may hold a
    #: late answer and must not be used for another command.
    final: bool = True


class FtpClient:
    """One control connection.  Use ``async with FtpClient(...) as ftp``."""

    def __init__(
        self,
        host: str,
        port: int,
        deadlines: Deadlines,
        *,
        implicit_tls: bool = False,
        line_cap: int = LINE_CAP,
        lines_cap: int = REPLY_LINES_CAP,
        bytes_cap: int = REPLY_BYTES_CAP,
    ) -> None:
        self.host = host
        self.port = port
        self.deadlines = deadlines
        self.implicit_tls = implicit_tls
        self.line_cap = line_cap
        self.lines_cap = lines_cap
        self.bytes_cap = bytes_cap
        self.tls = implicit_tls
        self.protected_data = False
        self.greeting: Reply | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._peer: str = host

    # --- control connection --------------------------------------------------------

    async def __aenter__(self) -> FtpClient:
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> Reply:
        try:
            async with asyncio.timeout(
                self.deadlines.connect + (self.deadlines.read if self.implicit_tls else 0)
            ):
                self._reader, self._writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=insecure_tls_context() if self.implicit_tls else None,
                    server_hostname="" if self.implicit_tls else None,
                    limit=self.line_cap,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ProbeError(classify(exc), f"connect: {type(exc).__name__}") from None
        peer = self._writer.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._peer = str(peer[0])
        self.greeting = await self.reply()
        return self.greeting

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            if not writer.is_closing():
                writer.write(b"QUIT\r\n")
            writer.close()
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass

    async def _line(self) -> bytes:
        assert self._reader is not None
        try:
            line = await self._reader.readuntil(b"\n")
            progressed(len(line))
        except asyncio.LimitOverrunError:
            raise ProbeError(
                ErrorReason.TOO_LARGE, f"reply line longer than {self.line_cap} bytes"
            ) from None
        except asyncio.IncompleteReadError:
            raise ProbeError(ErrorReason.RESET, "control connection closed") from None
        except ValueError:  # the buffer went past the limit
            raise ProbeError(
                ErrorReason.TOO_LARGE, f"reply line longer than {self.line_cap} bytes"
            ) from None
        return line

    async def reply(self) -> Reply:
        """One reply (RFC 959 §4.2: "123-" lines up to "123 "), within the
        read deadline as a whole, and within the line and byte caps."""
        lines: list[str] = []
        size = 0
        try:
            async with asyncio.timeout(self.deadlines.read):
                code: bytes | None = None
                while True:
                    raw = await self._line()
                    size += len(raw)
                    if size > self.bytes_cap or len(lines) >= self.lines_cap:
                        raise ProbeError(
                            ErrorReason.TOO_LARGE,
                            f"reply over {self.lines_cap} lines or {self.bytes_cap} bytes",
                        )
                    line = raw.rstrip(b"\r\n")
                    lines.append(line.decode("utf-8", "replace"))
                    if code is None:
                        if len(line) < 3 or not line[:3].isdigit():
                            raise ProbeError(ErrorReason.PROTOCOL, "not an FTP reply")
                        code = line[:3]
                        if line[3:4] != b"-":
                            break
                    elif line[:3] == code and line[3:4] != b"-":
                        break
        except TimeoutError:
            raise ProbeError(ErrorReason.TIMEOUT, "no complete reply in time") from None
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError(classify(exc), f"control: {type(exc).__name__}") from None
        return Reply(int(code), tuple(lines))

    async def command(self, verb: str, argument: str = "") -> Reply:
        verb = verb.upper()
        if verb not in READ_ONLY_COMMANDS:
            raise ValueError(f"{verb} is not a read-only FTP command")
        if "\r" in argument or "\n" in argument:
            raise ValueError("an FTP argument cannot hold CR or LF")
        await self._send(f"{verb} {argument}" if argument else verb)
        return await self.reply()

    async def _send(self, line: str) -> None:
        assert self._writer is not None
        try:
            self._writer.write(line.encode("utf-8") + b"\r\n")
            async with asyncio.timeout(self.deadlines.read):
                await self._writer.drain()
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ProbeError(classify(exc), f"control send: {type(exc).__name__}") from None

    async def start_tls(self) -> Reply:
        """RFC 4217 §4: AUTH TLS, then the handshake on the control connection."""
        answer = await self.command("AUTH", "TLS")
        if answer.code != 234:
            return answer
        assert self._writer is not None
        try:
            async with asyncio.timeout(self.deadlines.read):
                await self._writer.start_tls(insecure_tls_context(), server_hostname="")
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ProbeError(classify(exc), f"AUTH TLS handshake: {type(exc).__name__}") from None
        self.tls = True
        return answer

    async def protect_data(self) -> bool:
        """RFC 4217 §8-9: PBSZ 0, PROT P; True if data connections use TLS."""
        if not self.tls:
            return False
        if (await self.command("PBSZ", "0")).positive and (
            await self.command("PROT", "P")
        ).positive:
            self.protected_data = True
        return self.protected_data

    # --- data connections ----------------------------------------------------------

    async def _passive_port(self) -> int:
        answer = await self.command("EPSV")
        if answer.code == 229:
            m = _EPSV.search(answer.text.encode("utf-8", "replace"))
            if m:
                return _port(int(m.group(2)))
        answer = await self.command("PASV")
        if answer.code != 227:
            raise ProbeError(ErrorReason.PROTOCOL, f"no passive mode (reply {answer.code})")
        m = _PASV.search(answer.text.encode("utf-8", "replace"))
        if m is None:
            raise ProbeError(ErrorReason.PROTOCOL, "unreadable PASV reply")
        # The address in the reply is ignored: data goes to the peer we
        # already talk to (RFC 2577 §3: a server must not send us elsewhere).
        return _port(int(m.group(5)) * 256 + int(m.group(6)))

    async def transfer(self, verb: str, argument: str, cap: int) -> Transfer:
        """Run a LIST, MLSD or RETR and read at most ``cap`` bytes of its data,
        each read within the read deadline; past the cap the data connection
        is closed and the transfer aborted."""
        if verb.upper() not in ("LIST", "MLSD", "RETR"):
            raise ValueError("not a transfer command")
        port = await self._passive_port()
        try:
            async with asyncio.timeout(self.deadlines.connect):
                reader, writer = await asyncio.open_connection(self._peer, port, limit=65536)
        except (OSError, TimeoutError) as exc:
            raise ProbeError(classify(exc), f"data connect: {type(exc).__name__}") from None
        try:
            first = await self.command(verb, argument)
            if not first.preliminary:
                return Transfer(b"", False, False)
            if self.protected_data:
                async with asyncio.timeout(self.deadlines.read):
                    await writer.start_tls(insecure_tls_context(), server_hostname="")
            chunks: list[bytes] = []
            size = 0
            capped = False
            while True:
                try:
                    async with asyncio.timeout(self.deadlines.read):
                        chunk = await reader.read(min(65536, cap + 1 - size))
                except TimeoutError:
                    raise ProbeError(ErrorReason.TIMEOUT, "data connection stalled") from None
                if not chunk:
                    break
                progressed(len(chunk))
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    capped = True
                    break
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError(classify(exc), f"data: {type(exc).__name__}") from None
        finally:
            writer.close()
        data = b"".join(chunks)[:cap]
        # Exactly one final reply follows a transfer (RFC 959 §5.4): 226 when
        # the server wrote all before it saw the close, else 426. No ABOR:
        # whether a server answers it once or twice varies, and one reply
        # too many would shift every later answer.
        try:
            final = await self.reply()
        except ProbeError as exc:
            if not capped or exc.reason is not ErrorReason.TIMEOUT:
                raise
            return Transfer(data, True, False, final=False)
        return Transfer(data, capped, final.positive and not capped)


def _port(value: int) -> int:
    if not 0 < value < 65536:
        raise ProbeError(ErrorReason.PROTOCOL, "passive port out of range")
    return value
