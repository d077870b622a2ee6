"""The FTP probe against aioftp's server (a real PyPI FTP server) and
against hostile FTP servers written here: an endless greeting line, an
endless multi-line greeting, a huge listing, a stalled data connection, a
PASV reply naming another host. Each listens on a free loopback port that
the scan's catalogue names ftp, as the shipped one names 21: no root needed."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aioftp
import pytest

from exposcan.catalogue import PortEntry
from exposcan.limits import Deadlines
from exposcan.models import Report
from exposcan.protocols.ftp.client import FtpClient
from exposcan.protocols.ftp.options import FtpOptions
from exposcan.protocols.ftp.probe import FtpProbe
from exposcan.protocols.identify import IdentifyProbe
from tests.inprocess.http_servers import self_signed
from tests.inprocess.servers import tcp_server
from tests.support.local_ports import LOOPBACK, scan_as

DICOM = b"\x00" * 128 + b"DICM" + b"\x02\x00\x01\x00OB" + b"\x00" * 200
HPRIM = b"H|^~\\&|LABO|CNRY||||||\r\nP|1||CNRY-0001||CANARY^ALICE||19010101\r\nOBX|1|NM|GLU\r\n"
HL7 = b"MSH|^~\\&|LAB|X|||20240101||ORU^R01|1|P|2.5\rPID|1||CNRY-0002||CANARY^BRUNO\r"
NAMES = ("CNRY-0001", "CNRY-0002", "CANARY", "IM000001", "resultats", "Examens")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def ftp_at(port: int, tls: bool = False) -> PortEntry:
    """``port`` named ftp, as the shipped port list names 21 (and 990, the
    implicit-TLS port, with ``tls``)."""
    return PortEntry(port=port, protocol="ftp", tls=tls)


@asynccontextmanager
async def ftp_server(handler: Handler) -> AsyncIterator[int]:
    """Serve ``handler`` on a free loopback port (no root, no free 21
    needed); yield the port."""
    async with tcp_server(handler, LOOPBACK, 0) as port:
        yield port


@asynccontextmanager
async def aioftp_server(users: list[aioftp.User]) -> AsyncIterator[int]:
    server = aioftp.Server(users, socket_timeout=5)
    await server.start(LOOPBACK, 0)
    try:
        yield server.server_port
    finally:
        await server.close()


def zone(root: Path) -> None:
    files = {
        "Examens/2020/CNRY-0001/IM000001": DICOM,
        "Examens/2020/CNRY-0001/CT0002.dcm": DICOM,
        "resultats/CNRY-0001.hpr": HPRIM,
        "resultats/00042": HL7,
        "LISEZMOI.txt": b"Document de travail - aucune image.\n",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")
    }


async def scan(
    port: int, tls: bool = False, total: float = 20.0, options: FtpOptions | None = None
) -> Report:
    """The real engine's identify and FTP probes on ``port``, named ftp."""
    return await scan_as(
        [ftp_at(port, tls)],
        [IdentifyProbe, FtpProbe],
        total=total,
        options={"ftp": options} if options else None,
    )


def rules(report: Report) -> dict[str, dict[str, object]]:
    return {f.rule: dict(f.evidence) for f in report.findings}


async def test_anonymous_zone_with_images_and_results(tmp_path: Path) -> None:
    # Given aioftp's server with an anonymous user over a zone of DICOM files
    # and laboratory results named after canary patients
    zone(tmp_path)
    before = snapshot(tmp_path)
    async with aioftp_server([aioftp.User(base_path=tmp_path, home_path="/")]) as port:
        # When the real engine runs the FTP probe
        report = await scan(port)
    found = rules(report)
    # Then imaging, health data and cleartext findings, with counts only
    assert found["ftp.anonymous-imaging"]["imaging_files"] == 2
    assert found["ftp.anonymous-health-data"]["health_data_files"] == 2
    assert found["ftp.anonymous-health-data"]["health_data_kinds"] == ["hl7v2", "hprim"]
    assert "ftp.cleartext" in found
    assert "ftp.anonymous-access" not in found  # the high findings say more
    assert report.errors == []
    # and no name found in the zone, nor any canary, is in the report
    text = report.to_json()
    for name in NAMES:
        assert name not in text, name
    # and the zone is unchanged: nothing written, no mtime touched
    assert snapshot(tmp_path) == before


async def test_the_walk_depth_is_the_scan_s_ftp_options(tmp_path: Path) -> None:
    # Given the same zone, its DICOM files three folders down
    zone(tmp_path)
    async with aioftp_server([aioftp.User(base_path=tmp_path, home_path="/")]) as port:
        # When the scan's FTP options allow one folder level only
        report = await scan(port, options=FtpOptions(max_depth=1))
    found = rules(report)
    # Then the results one level down are still read, and the walk stops
    # above the DICOM files, saying the depth cut it (with the defaults, the
    # test above, both DICOM files are found)
    assert found["ftp.anonymous-health-data"]["health_data_files"] == 2
    assert "ftp.anonymous-imaging" not in found
    health = found["ftp.anonymous-health-data"]
    assert (health["truncated"], health["cut_by"]) == (True, ["depth"])


async def test_named_users_only_gives_no_zone_finding(tmp_path: Path) -> None:
    # Given aioftp's server with one named account and no anonymous user
    zone(tmp_path)
    users = [aioftp.User("labdoc", "Lab-Ftp-0c1d", base_path=tmp_path, home_path="/")]
    async with aioftp_server(users) as port:
        report = await scan(port)
    found = rules(report)
    # Then no anonymous, imaging or health-data finding: anonymous was refused
    assert not {r for r in found if r.startswith("ftp.anonymous")}
    # but the login is asked for in clear text
    assert "ftp.cleartext" in found
    assert "Lab-Ftp-0c1d" not in report.to_json()


# --- hostile servers -------------------------------------------------------------------


def scripted(
    data: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    pasv_host: str | None = None,
) -> Handler:
    """A minimal FTP server: anonymous login, one folder, and a passive data
    listener served by ``data`` (a LIST's data connection)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")[0]
        done = asyncio.Event()

        async def tracked(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await data(r, w)
            finally:
                w.close()
                done.set()

        data_server = await asyncio.start_server(tracked, local, 0)
        port = data_server.sockets[0].getsockname()[1]
        writer.write(b"220 hostile FTP\r\n")
        try:
            while line := await reader.readline():
                verb = line.decode().split(" ", 1)[0].strip().upper()
                if verb == "USER":
                    writer.write(b"230 anonymous in\r\n")
                elif verb in ("CWD", "TYPE"):
                    writer.write(b"250 ok\r\n")
                elif verb == "EPSV" and pasv_host is None:
                    writer.write(f"229 passive (|||{port}|)\r\n".encode())
                elif verb == "PASV":
                    a = (pasv_host or local).replace(".", ",")
                    writer.write(f"227 passive ({a},{port // 256},{port % 256})\r\n".encode())
                elif verb in ("LIST", "RETR"):
                    writer.write(b"150 here it comes\r\n")
                    await writer.drain()
                    await done.wait()  # a stalled data connection: never
                    done.clear()
                    writer.write(b"226 done\r\n")
                elif verb == "QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"502 not here\r\n")
                await writer.drain()
        finally:
            data_server.close()

    return handler


async def test_endless_greeting_line_is_a_bounded_error_record() -> None:
    # Given a server whose first line never ends
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 ")
        while True:
            writer.write(b"x" * 65536)
            await writer.drain()

    async with ftp_server(endless) as port:
        report = await scan(port)
    # Then one error record (the line cap), no finding
    assert report.findings == []
    assert [e.reason for e in report.errors if e.probe == "ftp"] == ["too-large"]


async def test_endless_multiline_greeting_is_a_bounded_error_record() -> None:
    # Given a server sending "220-" continuation lines forever
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"220-welcome\r\n" * 1000)
            await writer.drain()

    async with ftp_server(endless) as port:
        report = await scan(port)
    assert report.findings == []
    assert [e.reason for e in report.errors if e.probe == "ftp"] == ["too-large"]


async def test_huge_listing_is_cut_and_recorded() -> None:
    # Given a LIST whose data connection sends entries forever
    async def forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = b"-rw-r--r-- 1 0 0 132 Jan 01 00:00 IM.dcm\r\n"
        try:
            while True:
                writer.write(line * 2000)
                await writer.drain()
        except ConnectionError:
            pass

    async with ftp_server(scripted(forever)) as port:
        report = await scan(port)
    # Then a too-large error record; the zone fact says the walk was cut;
    # what was counted is bounded by the entry cap
    reasons = [e.reason for e in report.errors if e.probe == "ftp"]
    assert "too-large" in reasons
    found = rules(report)
    ev = found.get("ftp.anonymous-imaging")
    assert ev is not None and ev["truncated"] is True
    assert 0 < int(str(ev["imaging_files"])) <= 5000


async def test_stalled_data_connection_is_a_timeout_record() -> None:
    # Given a LIST whose data connection is accepted and never written to
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    async with ftp_server(scripted(stall)) as port:
        report = await scan(port)
    # Then a timeout error record; the anonymous login is still a fact
    assert "timeout" in [e.reason for e in report.errors if e.probe == "ftp"]
    assert set(rules(report)) >= {"ftp.anonymous-access"}


async def test_pasv_naming_another_host_is_not_followed() -> None:
    # Given a server whose PASV reply names an address that is no lab host
    # (and no EPSV): the data connection must go to the server we talk to
    async def one_file(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"-rw-r--r-- 1 0 0 132 Jan 01 00:00 a.dcm\r\n")
        await writer.drain()
        writer.close()

    async with ftp_server(scripted(one_file, pasv_host="192.0.2.99")) as port:
        report = await scan(port)
    # Then the listing was read from the control peer (one imaging file)
    assert rules(report)["ftp.anonymous-imaging"]["imaging_files"] == 1


async def test_the_client_sends_no_write_and_no_smuggled_command() -> None:
    # Given a client (never connected: the checks come before any I/O)
    ftp = FtpClient("127.0.0.1", 1, Deadlines(1, 1, 1))
    # Then write commands and arguments with CR/LF are refused
    for verb in ("STOR", "DELE", "MKD", "RMD", "SITE", "APPE", "RNFR", "RNTO", "STOU"):
        with pytest.raises(ValueError, match="read-only"):
            await ftp.command(verb, "x")
    with pytest.raises(ValueError, match="CR or LF"):
        await ftp.command("CWD", "a\r\nDELE b")


# --- TLS: explicit (AUTH TLS, RFC 4217) and implicit (990) ------------------------------


def ftps(ctx: ssl.SSLContext, implicit: bool) -> Handler:
    """An FTPS server that takes the anonymous login over TLS only, lists one
    DICOM file over a protected data connection (PROT P)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")[0]
        done = asyncio.Event()
        secure = implicit

        async def listing(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b"-rw-r--r-- 1 0 0 132 Jan 01 00:00 IM000001.dcm\r\n")
            await w.drain()
            w.close()
            done.set()

        data_server = await asyncio.start_server(listing, local, 0, ssl=ctx)
        port = data_server.sockets[0].getsockname()[1]
        writer.write(b"220 FTPS ready\r\n")
        try:
            while line := await reader.readline():
                verb = line.decode().split(" ", 1)[0].strip().upper()
                if verb == "FEAT":
                    writer.write(b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n")
                elif verb == "AUTH" and not secure:
                    writer.write(b"234 Proceed with negotiation.\r\n")
                    await writer.drain()
                    await writer.start_tls(ctx)
                    secure = True
                    continue
                elif verb == "USER":
                    # vsftpd with force_anon_logins_ssl: 530 over plain text
                    writer.write(b"230 in\r\n" if secure else b"530 Use TLS.\r\n")
                elif verb in ("PBSZ", "PROT", "CWD", "TYPE"):
                    writer.write(b"200 ok\r\n")
                elif verb == "EPSV":
                    writer.write(f"229 passive (|||{port}|)\r\n".encode())
                elif verb == "LIST":
                    writer.write(b"150 here\r\n")
                    await writer.drain()
                    await done.wait()
                    done.clear()
                    writer.write(b"226 done\r\n")
                elif verb == "QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"502 no\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            data_server.close()
            writer.close()

    return handler


@asynccontextmanager
async def ftps_server(handler: Handler, ctx: ssl.SSLContext | None) -> AsyncIterator[int]:
    """``handler`` on a free loopback port, in TLS from the first byte with
    ``ctx`` (implicit FTPS); yield the port."""
    server = await asyncio.start_server(handler, LOOPBACK, 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
async def test_anonymous_over_tls_is_found_and_not_cleartext(
    tmp_path: Path, implicit: bool
) -> None:
    # Given an FTPS server (explicit AUTH TLS, or implicit TLS as on 990) that takes
    # the anonymous login over TLS only, and serves a DICOM file
    ctx = self_signed(tmp_path, "ftp.cabinet.test")
    async with ftps_server(ftps(ctx, implicit), ctx if implicit else None) as port:
        # When scanned, the port taken for FTP (implicit: FTP in TLS, as 990)
        report = await scan(port, tls=implicit)
    found = rules(report)
    # Then the anonymous zone is found over TLS, and no cleartext finding
    assert found["ftp.anonymous-imaging"]["imaging_files"] == 1
    assert found["ftp.anonymous-imaging"]["tls"] is True
    assert "ftp.cleartext" not in found
    service = report.hosts[0].services[0]
    assert service.protocol == "ftp" and service.tls is implicit
    assert service.details["ftp_auth_tls"] is True
    assert report.errors == []
