"""The DICOM probe against real pynetdicom SCPs and hostile TCP servers on
127.0.0.1, through the real engine (tests.helpers.scan_local)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import ssl
import struct
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    MRImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from exposcan.catalogue import default_catalogue
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.limits import Deadlines
from exposcan.models import ErrorReason, Report, Vantage
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.protocols.dicom.probe import AE_DEFAULT, AE_FROM_HINT, DicomProbe
from exposcan.report.html import render_html
from exposcan.report.terminal import tls_cell
from exposcan.state import ServiceState
from exposcan_lab.topology import CANARY_PATIENTS, CANARY_STRINGS, CANARY_UID_ROOT
from tests.certs import server_context
from tests.helpers import scan_local
from tests.inprocess.http_servers import self_signed
from tests.inprocess.servers import tarpit, tcp_server

# --- helpers: what other probes would have done before phase 60 ------------------


def hinting(*titles: str, after: float = 0.0) -> type[ServiceProbe]:
    """A phase-20 probe that discloses AE titles, as the HTTP probe does from
    Orthanc's /system DicomAet (``after`` seconds late: a loaded PACS)."""

    class Hint(ServiceProbe):
        name = "hint"
        protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "dicom"})
        phase = 20

        async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
            await asyncio.sleep(after)
            for title in titles:
                ctx.host.add_hint("dicom.ae_title", title)

    return Hint


def guessed_dicom(tls: bool = False) -> type[ServiceProbe]:
    """Phase 5: what the port list does for 104/11112 (2762 with tls): name the
    protocol "dicom" before any probe confirmed it."""

    class Guess(ServiceProbe):
        name = "guess"
        protocols: ClassVar[frozenset[str]] = frozenset({"unknown"})
        phase = 5

        async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
            service.protocol, service.tls = "dicom", tls

    return Guess


def canary_identifier(i: int, study: int | None = None) -> Dataset:
    """A C-FIND response identifier full of what must never leak."""
    patient = CANARY_PATIENTS[i % len(CANARY_PATIENTS)]
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = f"{CANARY_UID_ROOT}.77.{i if study is None else study}"
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    return ds


class Scp:
    """A pynetdicom SCP on an ephemeral loopback port, and what it saw."""

    def __init__(self) -> None:
        self.stores = 0
        self.finds = 0
        self.yielded = 0
        self.cancelled = False
        self.port = 0
        #: Connections opened to it (each of ours carries one A-ASSOCIATE-RQ).
        self.connections = 0


@contextmanager
def pynetdicom_scp(
    *,
    studies: int = 5,
    find: bool = True,
    find_status: int | None = None,
    storage: bool = True,
    ae_title: str = "ANY-SCP",
    require_called: bool = False,
    require_calling: list[str] | None = None,
    delay: float = 0.0,
    ssl_context: ssl.SSLContext | None = None,
    per_instance: int = 1,
) -> Iterator[Scp]:
    """``per_instance``: responses per study (a server answering a STUDY
    level C-FIND once per instance, as pynetdicom's qrscp app does)."""
    scp = Scp()
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(Verification)
    if find:
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    if storage:
        ae.add_supported_context(CTImageStorage)
        ae.add_supported_context(MRImageStorage)
    ae.require_called_aet = require_called
    if require_calling:
        ae.require_calling_aet = require_calling
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        scp.finds += 1
        if find_status is not None:
            yield find_status, None
            return
        for i in range(studies):
            if event.is_cancelled:
                scp.cancelled = True
                yield 0xFE00, None
                return
            if delay:
                time.sleep(delay)
            scp.yielded += 1
            yield 0xFF00, canary_identifier(i, i // per_instance)

    def on_store(event: Any) -> int:
        scp.stores += 1
        return 0x0000

    def on_open(event: Any) -> None:
        scp.connections += 1

    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        ssl_context=ssl_context,
        evt_handlers=[
            (evt.EVT_C_FIND, on_find),
            (evt.EVT_C_STORE, on_store),
            (evt.EVT_CONN_OPEN, on_open),
        ],
    )
    scp.port = server.server_address[1]
    try:
        yield scp
    finally:
        server.shutdown()


def rules(report: Report) -> list[str]:
    return [f.rule for f in report.findings]


def finding(report: Report, rule: str) -> dict[str, Any]:
    [found] = [f for f in report.findings if f.rule == rule]
    return dict(found.evidence)


def assert_no_canary(text: str) -> None:
    leaked = [s for s in CANARY_STRINGS if s in text]
    assert not leaked, f"patient data in output: {leaked}"


# --- positive cases: real SCPs ----------------------------------------------------------


async def test_an_open_scp_gives_query_open_with_the_study_count() -> None:
    # Given a pynetdicom PACS holding 5 canary studies, open to any caller
    with pynetdicom_scp(studies=5) as scp:
        # When the DICOM probe scans it
        report = await scan_local([scp.port], [DicomProbe])
    # Then the study count is proven, with the AE used and how it was chosen
    evidence = finding(report, "dicom.query-open")
    assert evidence["study_count"] == 5 and evidence["capped"] is False
    assert evidence["called_ae"] == "ANY-SCP" and evidence["calling_ae"] == "EXPOSCAN"
    assert evidence["ae_source"] == AE_DEFAULT
    assert set(rules(report)) == {"dicom.query-open", "dicom.store-open", "dicom.cleartext"}
    assert finding(report, "dicom.store-open")["storage_contexts_accepted"] == 2
    # And the service is fingerprinted from the A-ASSOCIATE-AC
    [service] = report.hosts[0].services
    assert (service.protocol, service.product, service.version) == ("dicom", "pynetdicom", "3.0.4")
    assert service.details["classification"] == "open to any caller"
    class_uid = str(service.details["implementation_class_uid"])
    assert class_uid.startswith("1.2.826.0.1.3680043.9.3811.")
    # And no dataset was sent, and no patient data reached the report
    assert scp.stores == 0 and scp.finds == 1
    assert_no_canary(report.to_json())


async def test_the_count_is_capped_with_a_c_cancel() -> None:
    # Given a PACS with more studies than the find cap (50)
    with pynetdicom_scp(studies=400, delay=0.002) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then the count stops at the cap, says so, and the SCP saw the C-CANCEL
    evidence = finding(report, "dicom.query-open")
    assert evidence == {**evidence, "study_count": 50, "capped": True, "find_cap": 50}
    assert scp.cancelled and scp.yielded < 400


async def test_a_server_answering_per_instance_counts_studies_not_responses() -> None:
    # Given a PACS answering a STUDY-level C-FIND once per instance: 4 studies
    # of 3 instances each, 12 responses
    with pynetdicom_scp(studies=12, per_instance=3) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then 4 studies are counted, from 12 responses, none capped
    evidence = finding(report, "dicom.query-open")
    assert (evidence["study_count"], evidence["responses"], evidence["capped"]) == (4, 12, False)
    assert scp.yielded == 12
    # and nothing of the identifiers is in the report
    assert_no_canary(json.dumps(report.model_dump(mode="json")))


async def test_a_per_instance_flood_is_capped_by_responses_too() -> None:
    # Given one study of 2,000 instances, answered once per instance
    with pynetdicom_scp(studies=2000, per_instance=2000) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then the count stops at cap x 4 responses with a C-CANCEL: one study, capped
    evidence = finding(report, "dicom.query-open")
    assert (evidence["study_count"], evidence["capped"]) == (1, True)
    assert evidence["responses"] == 50 * 4
    # and the server stopped producing (the C-CANCEL, or the release/abort
    # behind it: which of the two pynetdicom's handler sees first depends on
    # its threads, so only the effect is asserted)
    assert scp.yielded < 2000


async def test_a_storage_only_node_gives_store_open_and_association_open() -> None:
    # Given a storescp-like SCP: storage and echo, no query
    with pynetdicom_scp(find=False) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then write exposure is proven by negotiation only
    assert "dicom.query-open" not in rules(report)
    assert finding(report, "dicom.store-open")["storage_contexts_accepted"] == 2
    association = finding(report, "dicom.association-open")
    assert association["proof"] == [
        "association accepted",
        "C-ECHO answered",
        "storage contexts accepted",
    ]
    assert scp.stores == 0


async def test_a_refused_c_find_gives_association_open_only() -> None:
    # Given a PACS that accepts associations but fails every C-FIND (0xC000)
    with pynetdicom_scp(find_status=0xC000, storage=False) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then the association is the only exposure
    assert set(rules(report)) == {"dicom.association-open", "dicom.cleartext"}
    assert scp.finds == 1


async def test_a_called_ae_filter_hides_the_studies_from_guesses() -> None:
    # Given a PACS that checks the called AE, with a title no default matches
    with pynetdicom_scp(ae_title="CABINETX9", require_called=True) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then DICOM is confirmed by the A-ASSOCIATE-RJ, but nothing is exposed
    assert set(rules(report)) == {"dicom.cleartext"}
    assert finding(report, "dicom.cleartext")["classification"] == "filtered on the called AE"
    [service] = report.hosts[0].services
    assert service.protocol == "dicom" and service.details["ae_title"] is None
    assert scp.finds == 0 and not report.errors


async def test_a_called_ae_learned_from_another_service_opens_the_query() -> None:
    # Given the same PACS, and its AE title disclosed by another service (the
    # HTTP probe's Orthanc /system DicomAet) before the DICOM probe runs
    with pynetdicom_scp(ae_title="CABINETX9", require_called=True, studies=3) as scp:
        report = await scan_local([scp.port], [hinting("CABINETX9"), DicomProbe])
    # Then the hinted AE is tried first and the query is proven
    evidence = finding(report, "dicom.query-open")
    assert evidence["study_count"] == 3 and evidence["called_ae"] == "CABINETX9"
    assert evidence["ae_source"] == AE_FROM_HINT
    assert scp.finds == 1


async def test_an_ae_disclosed_after_the_read_deadline_still_opens_the_query() -> None:
    # Given the same PACS whose web API discloses its AE title only after the
    # read deadline (1 s here), when the engine has started the DICOM phase
    # so that a straggler does not hold the host
    with pynetdicom_scp(ae_title="CABINETX9", require_called=True, studies=3) as scp:
        report = await scan_local(
            [scp.port], [hinting("CABINETX9", after=1.5), DicomProbe], timeout=1.0, total=6.0
        )
    # Then the default guesses are refused, the probe waits for the late
    # hint, and the conclusion is the same as when the hint came first
    evidence = finding(report, "dicom.query-open")
    assert evidence["called_ae"] == "CABINETX9" and evidence["ae_source"] == AE_FROM_HINT
    assert scp.finds == 1


@pytest.mark.parametrize("late_hints", [(), ("PACS_A", "PACS_B", "PACS_C")])
async def test_ae_guessing_makes_at_most_max_ae_guesses_associations(
    late_hints: tuple[str, ...],
) -> None:
    # Given a node that rejects every called AE it is given ("called AE
    # title not recognised"), whose host's web API discloses three more AE
    # titles only after the DICOM phase has started (or none)
    with pynetdicom_scp(ae_title="NOBODYKNOWS", require_called=True) as scp:
        # When it is scanned with a cap of 8 guesses
        report = await scan_local(
            [scp.port],
            [hinting(*late_hints, after=1.5), DicomProbe],
            timeout=1.0,
            total=6.0,
            max_ae_guesses=8,
        )
    # Then 8 associations were made, not one more (the late hints take the
    # last of them, they do not come on top)
    assert scp.connections == 8
    assert finding(report, "dicom.cleartext")["classification"] == "filtered on the called AE"


async def test_ae_guessing_stops_at_the_first_accepted_title() -> None:
    # Given a node that accepts any called AE
    with pynetdicom_scp() as scp:
        # When it is scanned with a cap of 8 guesses
        await scan_local([scp.port], [DicomProbe], max_ae_guesses=8)
    # Then one association was accepted and one more, under a random called
    # AE, told whether it checks the title: 2 in all
    assert scp.connections == 2


async def test_a_calling_ae_filter_stops_the_guessing() -> None:
    # Given a PACS that only accepts its known modality as caller
    with pynetdicom_scp(require_calling=["MODALITY1"]) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then it is classified as such, with no exposure but clear text
    assert set(rules(report)) == {"dicom.cleartext"}
    [service] = report.hosts[0].services
    assert service.details["classification"] == "filtered on the calling AE"
    assert scp.finds == 0


async def test_from_the_internet_an_open_node_is_imaging_exposure() -> None:
    # Given the same open PACS, seen from the internet side
    with pynetdicom_scp(studies=2) as scp:
        report = await scan_local([scp.port], [DicomProbe], vantage=Vantage.INTERNET)
    # Then the engine's internet rule fires on the probe's imaging fact, with
    # the strongest read proof
    evidence = finding(report, "exposure.internet-imaging")
    assert evidence == {
        "service": "dicom",
        "product": "pynetdicom",
        "version": "3.0.4",
        "proof": "C-FIND answered",
    }


async def rejecting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A hand-made node: A-ASSOCIATE-RJ, transient, temporary congestion."""
    await reader.read(4096)
    writer.write(b"\x03\x00\x00\x00\x00\x04\x00\x02\x03\x01")
    await writer.drain()


async def aborting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)
    writer.write(b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x00")
    await writer.drain()


async def test_a_real_reject_confirms_dicom_on_an_odd_port() -> None:
    # Given a node on a port nobody named, answering with a valid A-ASSOCIATE-RJ
    async with tcp_server(rejecting) as port:
        report = await scan_local([port], [DicomProbe])
    # Then it is DICOM (refused, once: a transient reject is not guessed past)
    [service] = report.hosts[0].services
    assert service.protocol == "dicom" and service.details["classification"] == "refused"
    assert rules(report) == ["dicom.cleartext"] and not report.errors


async def malformed_abort(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)
    writer.write(b"\x07\x00\x00\x00\x00\x04\x00\x00\x01\x03")  # source 1, reason 3: reserved
    await writer.drain()


async def test_a_well_formed_abort_is_a_dicom_refusal() -> None:
    # Given a DICOM port answering the A-ASSOCIATE-RQ with an A-ABORT as PS3.8
    # writes one (service-provider, reason not specified)
    async with tcp_server(aborting) as port:
        report = await scan_local([port], [guessed_dicom(), DicomProbe])
    # Then it is DICOM, refused: an answer, not an error
    [service] = report.hosts[0].services
    assert service.protocol == "dicom" and service.details["classification"] == "refused"
    assert rules(report) == ["dicom.cleartext"] and not report.errors


async def test_a_malformed_abort_confirms_nothing() -> None:
    # Given a DICOM port whose answer is 4 plausible A-ABORT bytes with
    # reserved values in them
    async with tcp_server(malformed_abort) as port:
        report = await scan_local([port], [guessed_dicom(), DicomProbe])
    # Then: an error record naming the abort, no finding, no confirmation
    assert report.findings == [] and report.hosts[0].services[0].details == {}
    [error] = report.errors
    assert error.reason is ErrorReason.PROTOCOL and "A-ABORT" in error.detail


# --- DICOM over TLS -------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    return self_signed(tmp_path, "pacs.lab.invalid")


# pynetdicom's TLS server leaks accepted SSL sockets (server side, not ours;
# the clear-text attempt's above all): Python reports them as unraisable.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_dicom_over_tls_is_found_on_a_dicom_port_and_described(tmp_path: Path) -> None:
    # Given a PACS speaking DICOM only over TLS on a port guessed as clear DICOM
    with pynetdicom_scp(studies=2, ssl_context=_self_signed(tmp_path)) as scp:
        report = await scan_local([scp.port], [guessed_dicom(), DicomProbe])
    gc.collect()  # let the server's leaked socket be reported here, not later
    # Then the probe falls back to TLS, proves the query, and records the
    # handshake and certificate facts, and raises no clear-text finding
    assert "dicom.cleartext" not in rules(report)
    assert finding(report, "dicom.query-open")["study_count"] == 2
    [service] = report.hosts[0].services
    assert service.tls is True and service.protocol == "dicom"
    assert not report.errors
    # and the service's details (JSON), the terminal's table and the HTML in
    # both languages show the handshake and the certificate
    details = report.model_dump(mode="json")["hosts"][0]["services"][0]["details"]
    assert str(details["tls_version"]).startswith("TLSv1.")
    assert details["tls_cipher"] and details["cert_not_after"]
    assert details["cert_self_signed"] is True and details["cert_expired"] is False
    assert (details["cert_key_type"], details["cert_key_bits"]) == ("EC secp256r1", 256)
    assert tls_cell(service) == f"{details['tls_version']} EC secp256r1 256"
    english, french = render_html(report, "en"), render_html(report, "fr")
    assert "self-signed certificate: yes" in english and "key size (bits): 256" in english
    assert "certificat auto-signé: oui" in french
    assert "client certificate required" not in english


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_tls_facts_are_recorded(tmp_path: Path) -> None:
    # Given the same TLS PACS on a port known to be DICOM over TLS (2762)
    with pynetdicom_scp(studies=1, ssl_context=_self_signed(tmp_path)) as scp:
        config = ScanConfig(
            ports=[scp.port],
            ports_spec=str(scp.port),
            discovery=False,
            deadlines=Deadlines(2, 2, 8),
        )
        scanner = Scanner(config, default_catalogue(), [guessed_dicom(tls=True), DicomProbe], [])
        await scanner.run([IPv4Address("127.0.0.1")], ["127.0.0.1"])
    gc.collect()  # the server's leaked sockets are reported here, not later
    # Then the transport fact holds the handshake and the certificate
    [transport] = [f for f in scanner.state.facts() if f.kind == "dicom.transport"]
    assert transport.data["tls"] is True
    assert str(transport.data["tls_version"]).startswith("TLSv1.")
    assert transport.data["tls_cipher"]
    assert transport.data["cert_subject_cn"] == "pacs.lab.invalid"
    assert transport.data["cert_self_signed"] is True
    assert transport.data["cert_not_after"] and transport.data["cert_not_before"]
    assert transport.data["cert_expired"] is False
    assert (transport.data["cert_key_type"], transport.data["cert_key_bits"]) == (
        "EC secp256r1",
        256,
    )
    # and it asked no client certificate: no such claim, no such finding
    assert transport.data.get("client_certificate_required") is None


# --- negative cases: not DICOM, hostile ---------------------------------------------


async def dicom_looking_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """As the lab's junk host: an A-ASSOCIATE-AC header announcing 2 GiB."""
    await reader.read(4096)
    writer.write(b"\x02\x00" + struct.pack(">I", 0x7FFFFFF0) + os.urandom(200))
    await writer.drain()


async def plausible_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An A-ASSOCIATE-AC header with a matching length, then random bytes."""
    await reader.read(4096)
    writer.write(b"\x02\x00" + struct.pack(">I", 200) + os.urandom(200))
    await writer.drain()


async def garbage_rj(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An A-ASSOCIATE-RJ-shaped PDU whose source/reason no table has."""
    await reader.read(4096)
    writer.write(b"\x03\x00\x00\x00\x00\x04\x00\x01\x09\x09")
    await writer.drain()


@pytest.mark.parametrize("handler", [dicom_looking_garbage, plausible_garbage, garbage_rj])
async def test_dicom_looking_garbage_is_an_error_never_a_finding(handler: Any) -> None:
    # Given a server on a DICOM port that answers an A-ASSOCIATE-RQ with
    # bytes that start like a PDU (nmap's dicom-ping would call it DICOM)
    async with tcp_server(handler) as port:
        started = time.monotonic()
        report = await scan_local([port], [guessed_dicom(), DicomProbe])
    # Then: no finding, not confirmed, one protocol error, quickly
    assert report.findings == []
    [service] = report.hosts[0].services
    assert service.product is None and service.details == {}
    assert [(e.probe, e.reason) for e in report.errors] == [("dicom", ErrorReason.PROTOCOL)]
    assert time.monotonic() - started < 5


async def test_garbage_on_an_unknown_port_stays_silent() -> None:
    # Given the same garbage on a port nobody named DICOM
    async with tcp_server(plausible_garbage) as port:
        report = await scan_local([port], [DicomProbe])
    # Then the probe tried, failed, and said nothing
    assert report.findings == [] and report.errors == []
    assert report.hosts[0].services[0].protocol == "unknown"


async def test_a_tarpit_costs_bounded_time_and_an_error_record() -> None:
    # Given a DICOM port that accepts and never answers
    async with tcp_server(tarpit) as port:
        started = time.monotonic()
        report = await scan_local(
            [port], [guessed_dicom(), DicomProbe], timeout=1.0, association_timeout=1.5
        )
        elapsed = time.monotonic() - started
    # Then the probe gives up once a DICOM client would (ARTIM, 1.5 s here),
    # not at its total deadline (4 + 1.5 s), and says what the silence may be
    assert report.findings == []
    [error] = report.errors
    assert (error.probe, error.reason) == ("dicom", ErrorReason.TIMEOUT)
    assert "1.5 s" in error.detail and "rather than a dead one" in error.detail
    assert elapsed < 4


async def test_a_slow_node_is_confirmed_with_one_association() -> None:
    # Given a storage SCP behind a relay that holds each connection 1.5 s
    # before the SCP sees it (dcmtk looking the caller up with a silent DNS),
    # and a read deadline of 0.5 s: only the ARTIM wait (5 s) lets it answer
    connections: list[float] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(time.monotonic())
        await asyncio.sleep(1.5)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", scp.port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    with pynetdicom_scp(find=False) as scp:
        async with tcp_server(relay) as port:
            report = await scan_local(
                [port], [guessed_dicom(), DicomProbe], timeout=0.5, association_timeout=5.0
            )
    # Then write exposure is proven, with one association only (no random-AE
    # check, no second guess: such a node serves one caller at a time)
    evidence = finding(report, "dicom.store-open")
    assert evidence["storage_contexts_accepted"] == 2
    assert len(connections) == 1 and scp.stores == 0
    [service] = report.hosts[0].services
    assert service.details["classification"] == "open to any caller"
    # and the report says it was slow, and why only one association was made
    association = finding(report, "dicom.association-open")
    assert association["classification"] == "open to any caller"
    assert any("took 2 s to answer" in n and "one association" in n for n in report.scan.notes)
    assert not report.errors


async def test_a_fast_node_accepting_a_random_called_ae_is_open_to_any_caller() -> None:
    # Given an SCP that accepts any called AE, and its AE disclosed by another
    # service of the host
    with pynetdicom_scp(ae_title="CABINETX9", studies=1) as scp:
        report = await scan_local([scp.port], [hinting("CABINETX9"), DicomProbe])
    # Then the random called AE was accepted too: open to any caller
    [service] = report.hosts[0].services
    assert service.details["classification"] == "open to any caller"
    assert finding(report, "dicom.query-open")["called_ae"] == "CABINETX9"


async def test_a_node_checking_its_called_ae_is_open_to_those_who_know_it() -> None:
    # Given an SCP that checks its called AE, disclosed by another service
    with pynetdicom_scp(ae_title="CABINETX9", require_called=True, studies=1) as scp:
        report = await scan_local([scp.port], [hinting("CABINETX9"), DicomProbe])
    # Then the random called AE was rejected: open to those who know its AE
    [service] = report.hosts[0].services
    assert service.details["classification"] == "open to any caller that knows its AE title"
    assert scp.finds == 1


# --- logs ------------------------------------------------------------------------------


async def test_debug_logs_hold_no_patient_data(caplog: pytest.LogCaptureFixture) -> None:
    # Given the most verbose logging, as with -vv
    caplog.set_level(logging.DEBUG)
    with pynetdicom_scp(studies=5) as scp:
        report = await scan_local([scp.port], [DicomProbe])
    # Then the query was proven and nothing logged (by us or pynetdicom,
    # client or server side) quotes a patient
    assert "dicom.query-open" in rules(report)
    assert logging.getLogger("pynetdicom").getEffectiveLevel() >= logging.WARNING
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert_no_canary(text)
    assert_no_canary(json.dumps(report.model_dump(mode="json")))


def test_the_probe_module_silences_pynetdicom() -> None:
    # Given the probe module imported (as the engine does)
    import exposcan.protocols.dicom.probe  # noqa: F401

    # Then pynetdicom's own debug output (datasets) is off whatever -v says
    assert logging.getLogger("pynetdicom").level == logging.WARNING


async def test_a_tls_node_that_hangs_up_without_asking_a_certificate_is_an_error(
    tmp_path: Path,
) -> None:
    # Given a DICOM-over-TLS port whose server completes the TLS 1.3
    # handshake without asking for a client certificate, then closes
    # without a DICOM answer (a broken service, not an access control)
    context = _self_signed(tmp_path)
    context.minimum_version = ssl.TLSVersion.TLSv1_3

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        reports = [await scan_local([port], [guessed_dicom(tls=True), DicomProbe]) for _ in "abc"]
    finally:
        server.close()
        await server.wait_closed()
    # Then it is one error record, the same on every run, and no finding
    # (above all not "requires a client certificate": it asked for none)
    details = [[(e.reason, e.detail) for e in r.errors] for r in reports]
    assert details[0] == details[1] == details[2]
    assert len(details[0]) == 1
    assert all(r.findings == [] for r in reports)


def _requiring_client_certificate(tmp_path: Path, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    context = _self_signed(tmp_path)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(tmp_path / "cert.pem")
    context.maximum_version = maximum
    return context


# TLS 1.3: the server checks the certificate after the client's Finished
# (alert 116, or a close, or a reset: whichever reaches us first); TLS 1.2:
# the handshake itself fails (handshake_failure after its CertificateRequest).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
async def test_a_node_requiring_a_client_certificate_is_a_good_sign_every_run(
    tmp_path: Path, maximum: ssl.TLSVersion
) -> None:
    # Given a real pynetdicom SCP over TLS that requires a client certificate
    context = _requiring_client_certificate(tmp_path, maximum)
    with pynetdicom_scp(studies=2, ssl_context=context) as scp:
        reports = [
            await scan_local([scp.port], [guessed_dicom(tls=True), DicomProbe]) for _ in "abc"
        ]
        assert scp.finds == 0
    gc.collect()  # the server's leaked sockets are reported here, not later
    # Then each of 3 runs gives the same info finding, with the TLS facts it
    # read, no error record and no other finding
    evidence = [finding(r, "dicom.tls-client-certificate-required") for r in reports]
    assert evidence[0] == evidence[1] == evidence[2]
    assert all(rules(r) == ["dicom.tls-client-certificate-required"] for r in reports)
    assert all(r.errors == [] for r in reports)
    [f] = reports[0].findings
    assert f.severity.value == "info"
    assert evidence[0]["tls_version"] == maximum.name.replace("_", ".")
    assert evidence[0]["cert_self_signed"] is True
    assert (evidence[0]["cert_key_type"], evidence[0]["cert_key_bits"]) == ("EC secp256r1", 256)
    [service] = reports[0].hosts[0].services
    assert service.tls is True and service.details["client_certificate_required"] is True


def _expired(tmp_path: Path) -> ssl.SSLContext:
    """A server context whose self-signed certificate expired yesterday."""
    return server_context(tmp_path, "old-pacs.lab.invalid", days=(-800, -1))


def _tls_1_0(tmp_path: Path) -> ssl.SSLContext:
    """An old PACS's TLS 1.0 (OpenSSL 3 allows it only at security level 0)."""
    context = _self_signed(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_an_expired_certificate_and_an_old_tls_are_low_findings(tmp_path: Path) -> None:
    # Given one TLS PACS with an expired certificate, one speaking TLS 1.0 only
    with (
        pynetdicom_scp(studies=1, ssl_context=_expired(tmp_path)) as expired,
        pynetdicom_scp(studies=1, ssl_context=_tls_1_0(tmp_path)) as old,
    ):
        reports = {
            "expired": await scan_local([expired.port], [guessed_dicom(tls=True), DicomProbe]),
            "old": await scan_local([old.port], [guessed_dicom(tls=True), DicomProbe]),
        }
    gc.collect()  # the server's leaked sockets are reported here, not later
    # Then the expired one is dicom.tls-certificate-expired (and not weak)
    found = rules(reports["expired"])
    assert "dicom.tls-certificate-expired" in found and "dicom.tls-weak" not in found
    evidence = finding(reports["expired"], "dicom.tls-certificate-expired")
    assert evidence["cert_subject_cn"] == "old-pacs.lab.invalid"
    # and the TLS 1.0 one is dicom.tls-weak (its certificate is valid)
    found = rules(reports["old"])
    assert "dicom.tls-weak" in found and "dicom.tls-certificate-expired" not in found
    assert finding(reports["old"], "dicom.tls-weak")["tls_version"] == "TLSv1"
    # and both still prove the query over TLS, with no error record
    for report in reports.values():
        assert "dicom.query-open" in rules(report) and report.errors == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_client_certificate_node_on_a_clear_dicom_port_is_found_by_the_fallback(
    tmp_path: Path,
) -> None:
    # Given a TLS node requiring a client certificate on a port guessed as
    # clear-text DICOM (104, 11112: the probe falls back to TLS)
    context = _requiring_client_certificate(tmp_path, ssl.TLSVersion.TLSv1_3)
    with pynetdicom_scp(ssl_context=context) as scp:
        report = await scan_local([scp.port], [guessed_dicom(), DicomProbe])
    gc.collect()  # the server's leaked sockets are reported here, not later
    # Then it is the info finding, over TLS, with no clear-text claim or error
    assert rules(report) == ["dicom.tls-client-certificate-required"]
    assert report.errors == []
    assert report.hosts[0].services[0].tls is True
