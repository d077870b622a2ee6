"""dicom probe: confirm a DICOM node by association and prove what it exposes.

Never by an open port alone (docs/imaging-exposure.md: 88 of 4,818 candidate hosts of one
survey completed a handshake): a service is DICOM only once it answered our
A-ASSOCIATE-RQ with a well-formed A-ASSOCIATE-AC or -RJ (PS3.8 §9.3).  The
proof ladder, recorded in the evidence, runs inside one association:

  association accepted -> C-ECHO answered -> C-FIND answered (Study Root,
  STUDY level, the only key an empty StudyInstanceUID; counted, C-CANCEL at
  ``find_cap``, no identifier decoded) -> storage contexts accepted from an
  unknown caller (negotiation only: no C-STORE is ever sent); then what the
  node serves beyond images (leaks.py): the Modality Worklist counted, MPPS,
  storage commitment, C-MOVE and C-GET read from the negotiation alone.

Called AE: first what another service of the host disclosed (hint
``dicom.ae_title``, e.g. Orthanc's /system DicomAet found by the HTTP probe at
phase 20), then the catalogue's defaults, ``max_ae_guesses`` in all; the next
guess is tried only after an A-ASSOCIATE-RJ "called AE title not recognised".
Once accepted, one more association under a random called AE says whether
the node checks the called AE at all: the classification rests on that
evidence, not on which guesses were rejected before.

Slow nodes: dcmtk-based servers (storescp, dcmqrscp, Horos and
OsiriX) look the caller's name up before they read the A-ASSOCIATE-RQ, one
connection at a time; where the practice's DNS drops queries the answer
comes 5-50 s later (measured in the lab: 15 s with glibc's timeout:3
attempts:1, 50 s with its defaults). The answer is awaited as long as a DICOM
client waits (``association_timeout``, the requestor's ARTIM, PS3.8 §9.1.4,
30 s as dcmtk's ACSE timeout), on a known DICOM port; the probe runs
alongside every other probe, so only this port waits. Such a node serves
one association at a time: once an answer was slow, no further association
is made on it (no more guesses, no random-AE check), so a scan never keeps
the practice's modalities out for long. A port silent for the whole wait is
an error record that says it may be such a server rather than a dead one.

Why asyncio with pynetdicom's codecs rather than pynetdicom's threads,
measured on this machine against a local Orthanc 1.10.1 holding 4 studies
(association + C-ECHO + C-FIND counting + release; median of 20 runs,
/tmp bench, both in one process):

  - this module (asyncio; pynetdicom.pdu / dimse_messages encode):   6.1 ms
    (92 ms before TCP_QUICKACK: see dicom_session.Session._read)
  - pynetdicom AE.associate / send_c_echo / send_c_find in a thread: 151 ms

and, what decided it, safety: pynetdicom's reader calls ``recv(length)`` with
the peer's 32-bit PDU length (dul.py, READ_PDU), so a hostile "PDU" of 2 GiB
is a 2 GiB allocation, and its association thread cannot be cancelled.  Here
every read is capped before allocation (dicom_pdu.read_pdu) and every wait
is an asyncio deadline.  pynetdicom's logger is held at WARNING whatever the
verbosity: its debug output prints datasets, i.e. patient data.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from exposcan.config import ScanConfig
from exposcan.models import ErrorReason, Vantage
from exposcan.net.netio import ProbeError, classify, open_connection
from exposcan.net.tls import HandshakeWatch, TlsFacts, tls_facts
from exposcan.notes import declare_note
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.protocols.dicom import leaks
from exposcan.protocols.dicom.association import (
    FIND_CONTEXT,
    RESPONSE_SLACK,
    RESPONSES_PER_STUDY,
    VERIFICATION_CONTEXT,
    Ladder,
    PeerAborted,
    Session,
    storage_context_ids,
)
from exposcan.protocols.dicom.catalogue import default_ae_titles, fingerprint
from exposcan.protocols.dicom.options import DicomOptions
from exposcan.protocols.dicom.pdu import (
    TRANSFER_SYNTAXES,
    Aborted,
    Accepted,
    Answer,
    PduError,
    Rejected,
    RejectReason,
    SilentPeer,
    valid_ae_title,
)
from exposcan.state import ServiceState

# PS3.15 Annex E profiles aside, pynetdicom's debug log dumps every dataset it
# touches: never let it through, even at -vv (non-negotiable 2).
logging.getLogger("pynetdicom").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

NOTE_SLOW = declare_note("note.dicom.slow-association")

HINT_AE_TITLE = "dicom.ae_title"
# Optional: a web API of the same host that names the product (Orthanc's
# /system) beats the implementation UID, which Orthanc shares with dcmtk.
HINT_PRODUCT = "dicom.product"
HINT_VERSION = "dicom.version"
#: The DICOM port the same web API disclosed (Orthanc's DicomPort): the
#: product hint is evidence for that service only, not for every DICOM node
#: of the host (one fake API labelled all of them).
HINT_PORT = "dicom.port"

AE_FROM_HINT = "learned from another service of this host"
AE_DEFAULT = "default AE title (catalogue)"

STEP_ACCEPTED = "association accepted"
STEP_ECHO = "C-ECHO answered"
STEP_FIND = "C-FIND answered"
STEP_STORE = "storage contexts accepted"

# Outcomes of the one association under a random called AE (evidence).
RANDOM_ACCEPTED = "accepted"
RANDOM_REJECTED = "rejected"
RANDOM_NO_ANSWER = "no answer"
RANDOM_SKIPPED_SLOW = "not tried: the node is slow and serves one association at a time"


def slow_silence(seconds: float) -> str:
    """The error detail of a DICOM port silent for the whole ARTIM wait."""
    return (
        f"no answer to the A-ASSOCIATE-RQ within {seconds:g} s (the wait of a DICOM "
        "client, ARTIM): a dcmtk-based server (storescp, dcmqrscp, Horos, OsiriX) "
        "whose DNS drops its look-up of the caller's name can be this slow; the port "
        "may be such a server rather than a dead one"
    )


def random_called_ae() -> str:
    """A called AE title no node is configured with (PS3.5 AE: 16 chars max)."""
    return "XS" + secrets.token_hex(5).upper()


class Classification(StrEnum):
    """How a node filters an unknown caller (PS3.8 §9.3.4 reasons)."""

    OPEN = "open to any caller"
    # Accepted at the first try with an AE title another service disclosed:
    # whether it checks the called AE is unknown, and does not protect it.
    OPEN_KNOWN_AE = "open to any caller that knows its AE title"
    CALLED_AE = "filtered on the called AE"
    CALLING_AE = "filtered on the calling AE"
    REFUSED = "refused"


@dataclass
class Node:
    """What the probe learned of one port, filled as it goes."""

    confirmed: bool = False
    tls: bool = False
    tls_facts: TlsFacts | None = None
    attempts: int = 0
    #: A-ASSOCIATE-RQs sent on this port, whatever came of them (a TLS
    #: retry and the random-AE check included): what ``max_ae_guesses``
    #: bounds.
    associations: int = 0
    rejections: list[Rejected] = field(default_factory=list)
    aborted: Aborted | None = None
    called_ae: str | None = None
    ae_source: str | None = None
    ladder: Ladder | None = None
    #: The slowest A-ASSOCIATE answer, in seconds.
    answer_seconds: float = 0.0
    slow: bool = False
    #: What one association under a random called AE got (RANDOM_*).
    random_ae: str | None = None
    #: Asked for a client certificate, then refused us without one.
    client_certificate_required: bool = False

    def classification(self) -> Classification:
        called_filtered = any(
            r.reason is RejectReason.CALLED_AE_NOT_RECOGNISED for r in self.rejections
        )
        if self.ladder is not None:
            # Evidence first: a random called AE accepted or rejected.
            if self.random_ae == RANDOM_ACCEPTED:
                return Classification.OPEN
            if self.random_ae == RANDOM_REJECTED:
                if self.ae_source == AE_FROM_HINT:
                    return Classification.OPEN_KNOWN_AE
                return Classification.CALLED_AE
            if called_filtered:
                return Classification.CALLED_AE
            if self.ae_source == AE_FROM_HINT:
                return Classification.OPEN_KNOWN_AE
            return Classification.OPEN
        if self.aborted is not None:
            return Classification.REFUSED
        if self.rejections and self.rejections[-1].reason is RejectReason.CALLING_AE_NOT_RECOGNISED:
            return Classification.CALLING_AE
        return Classification.CALLED_AE if called_filtered else Classification.REFUSED


def uid_root(uid: str, arcs: int = 6) -> str:
    """The first ``arcs`` components of an implementation class UID: its
    organisation root, with the product's own arcs dropped."""
    return ".".join(uid.split(".")[:arcs])


def called_ae_candidates(ctx: ProbeContext, tried: Collection[str] = ()) -> list[tuple[str, str]]:
    """(called AE, how it was learned): hints first, then defaults, bounded;
    none already ``tried``."""
    out: list[tuple[str, str]] = [(t, "") for t in tried]
    for title in ctx.host.hints.get(HINT_AE_TITLE, []):
        title = title.strip()
        if valid_ae_title(title) and title not in (t for t, _ in out):
            out.append((title, AE_FROM_HINT))
    for title in default_ae_titles(ctx.catalogue):
        if title not in (t for t, _ in out):
            out.append((title, AE_DEFAULT))
    return out[len(tried) :][: ctx.config.options_for(DicomOptions).max_ae_guesses]


class ClientCertificateRequired(Exception):
    """The node sent a CertificateRequest, then refused us, who have no
    certificate: failed the handshake (TLS 1.2 handshake_failure) or closed,
    reset or sent an alert after it (TLS 1.3 certificate_required, 116)
    before any DICOM answer.  dcmtk's --require-peer-cert (its default with
    +tls) does this.  A good sign, recorded as a fact, never an error, the
    same whichever way the refusal reached us (PS3.15 Annex B)."""


def refused_without_certificate(exc: BaseException) -> bool:
    """A refusal of the TLS session, not a DICOM answer nor a wait cut."""
    if isinstance(exc, PduError | TimeoutError):
        return False
    if isinstance(exc, SilentPeer | ssl.SSLError | ConnectionError):
        return True
    return isinstance(exc, ProbeError) and exc.reason in (ErrorReason.TLS, ErrorReason.RESET)


def _product_hint_applies(ctx: ProbeContext, service: ServiceState, node: Node) -> bool:
    """Whether a web API's product hint names this node: its own DICOM port's
    node; with no port disclosed, the node that answered to the AE title it
    gave.  From the internet one public address is every forward of the box:
    there the AE title names the node only if the node refuses a random one
    (a storescp accepts any called AE, the PACS's too), else another port's
    hint is no evidence of what answered on this one."""
    if not ctx.host.hints.get(HINT_PRODUCT):
        return False
    ports = ctx.host.hints.get(HINT_PORT, [])
    if ports:
        return str(service.port) in ports
    if ctx.config.vantage is Vantage.INTERNET and node.random_ae != RANDOM_REJECTED:
        return False
    return node.ae_source == AE_FROM_HINT


class DicomProbe(ServiceProbe):
    name = "dicom"
    # "unknown": a DICOM node on an odd port (a box forward) is only found by
    # trying an association; there a failure stays silent.
    protocols: ClassVar[frozenset[str]] = frozenset({"dicom", "unknown"})
    phase = 60

    def total_deadline(self, config: ScanConfig) -> float:
        # The ARTIM wait comes on top of the usual work of an association.
        return config.deadlines.total + config.options_for(DicomOptions).association_timeout

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        silent = service.protocol == "unknown"
        node = Node(tls=service.tls)
        error: ProbeError | None = None
        deferred = False
        try:
            await self._explore(ctx, service, node)
            if (
                node.confirmed
                and not _product_hint_applies(ctx, service, node)
                and ctx.host.earlier_probes_running()
            ):
                # A web API of this host still at work may yet name this
                # node's product (the engine starts this phase early when a
                # probe is slow): record once the host's probes are done, so
                # the report never depends on which of them was slow.
                ctx.host.finalizers.append(lambda: self._record(ctx, service, node))
                deferred = True
        except ClientCertificateRequired:
            node.client_certificate_required = True
            self._record_client_certificate(ctx, service, node)
        except ProbeError as exc:
            error = exc
        except (TimeoutError, OSError) as exc:
            error = ProbeError(
                classify(exc),
                "no answer within the read deadline"
                if isinstance(exc, TimeoutError)
                else type(exc).__name__,
            )
        finally:
            # Also on cancellation (the engine's total deadline): what was
            # proven before stays proven.
            if node.confirmed and not deferred:
                self._record(ctx, service, node)
        if error is not None and (node.confirmed or not silent):
            raise error

    # -- exploring ---------------------------------------------------------

    async def _explore(self, ctx: ProbeContext, service: ServiceState, node: Node) -> None:
        calling = ctx.config.options_for(DicomOptions).calling_ae
        no_reason = 0
        cap = ctx.config.options_for(DicomOptions).max_ae_guesses
        candidates = called_ae_candidates(ctx)
        tried: set[str] = set()
        while candidates and node.associations < cap:
            if node.associations == cap - 1 and ctx.host.earlier_probes_running():
                # The last association of the cap: a web API of the same
                # host still at work may yet disclose the title; it is
                # worth more than the next default.
                await ctx.host.earlier_probes_done()
                candidates = called_ae_candidates(ctx, tried)
                if not candidates:
                    return
            called, source = candidates.pop(0)
            tried.add(called)
            answer = await self._attempt_with_tls_fallback(ctx, service, node, called, calling)
            if isinstance(answer, Accepted):
                node.called_ae, node.ae_source = called, source
                await self._check_random_ae(ctx, service, node, calling)
                return
            if isinstance(answer, Aborted):
                if not answer.well_formed:
                    # Not as PS3.8 writes an A-ABORT: 4 plausible bytes of a
                    # garbage server prove nothing.
                    raise ProbeError(
                        ErrorReason.PROTOCOL,
                        f"A-ASSOCIATE-RQ answered by a malformed A-ABORT ({answer.text})",
                    )
                # A DICOM upper layer that will not talk to us: "refused".
                node.confirmed, node.aborted = True, answer
                return
            node.rejections.append(answer)
            log.debug(
                "dicom %s:%s called AE #%d %s",
                ctx.address,
                service.port,
                node.attempts,
                answer.text,
            )
            if node.slow:
                # One association at a time, each one slow: another guess
                # would keep the practice's own modalities out.
                return
            if not answer.permanent or answer.reason is RejectReason.CALLING_AE_NOT_RECOGNISED:
                return
            if answer.reason is RejectReason.USER_NO_REASON:
                # Some nodes reject a wrong called AE without a reason; a
                # second "no reason" means the reason is not the AE.
                no_reason += 1
                if no_reason >= 2:
                    return
            elif answer.reason is not RejectReason.CALLED_AE_NOT_RECOGNISED:
                return
            if not candidates:
                # Every guess refused for its called AE: a web API of the same
                # host still at work may yet disclose the title (the engine
                # starts this phase early when a probe is slow). Wait for it,
                # bounded by its own deadline, and try what it disclosed.
                await ctx.host.earlier_probes_done()
                candidates = [
                    (title, how)
                    for title, how in called_ae_candidates(ctx)
                    if how == AE_FROM_HINT and title not in tried
                ]

    async def _attempt_with_tls_fallback(
        self, ctx: ProbeContext, service: ServiceState, node: Node, called: str, calling: str
    ) -> Answer:
        try:
            return await self._attempt(ctx, service, node, called, calling)
        except (PduError, SilentPeer) as exc:
            # A DICOM-over-TLS node (PS3.15 Annex B) answers clear text with a
            # TLS alert or by hanging up: try a handshake once, on DICOM ports.
            tls_like = isinstance(exc, SilentPeer) or exc.tls_alert
            if node.tls or node.confirmed or service.protocol != "dicom" or not tls_like:
                raise
            node.tls = True
            try:
                return await self._attempt(ctx, service, node, called, calling)
            except ProbeError:
                node.tls = False
                raise exc from None

    async def _check_random_ae(
        self, ctx: ProbeContext, service: ServiceState, node: Node, calling: str
    ) -> None:
        """One association under a random called AE, released at once: does
        the node accept any called AE? (Evidence for the classification.)"""
        if node.slow:
            node.random_ae = RANDOM_SKIPPED_SLOW
            return
        try:
            answer = await self._associate_only(ctx, service, node, random_called_ae(), calling)
        except (ProbeError, TimeoutError, OSError):
            node.random_ae = RANDOM_NO_ANSWER
            return
        if isinstance(answer, Accepted):
            node.random_ae = RANDOM_ACCEPTED
        elif isinstance(answer, Rejected) and answer.permanent:
            node.random_ae = RANDOM_REJECTED
        else:
            node.random_ae = RANDOM_NO_ANSWER

    def _answer_timeout(self, ctx: ProbeContext, service: ServiceState) -> float:
        # A known DICOM port gets a DICOM client's wait; a port nobody named
        # (probed on the chance it is DICOM) the usual read deadline.
        if service.protocol == "dicom":
            return max(
                ctx.config.options_for(DicomOptions).association_timeout, ctx.config.deadlines.read
            )
        return ctx.config.deadlines.read

    async def _timed_associate(
        self,
        ctx: ProbeContext,
        service: ServiceState,
        node: Node,
        session: Session,
        called: str,
        calling: str,
    ) -> Answer:
        loop = asyncio.get_running_loop()
        wait = self._answer_timeout(ctx, service)
        started = loop.time()
        node.associations += 1
        try:
            answer = await session.associate(called, calling, wait)
        except TimeoutError:
            if service.protocol == "dicom":
                raise ProbeError(ErrorReason.TIMEOUT, slow_silence(wait)) from None
            raise
        elapsed = loop.time() - started
        node.answer_seconds = max(node.answer_seconds, elapsed)
        if elapsed > ctx.config.deadlines.read:
            node.slow = True
        return answer

    async def _associate_only(
        self, ctx: ProbeContext, service: ServiceState, node: Node, called: str, calling: str
    ) -> Answer:
        async with (
            ctx.limits.connection(ctx.address),
            open_connection(ctx.address, service.port, ctx.config.deadlines, tls=node.tls) as conn,
        ):
            session = Session(conn)
            answer = await self._timed_associate(ctx, service, node, session, called, calling)
            if isinstance(answer, Accepted):
                await session.release(min(2.0, ctx.config.deadlines.read))
            return answer

    async def _attempt(
        self, ctx: ProbeContext, service: ServiceState, node: Node, called: str, calling: str
    ) -> Answer:
        watch = HandshakeWatch() if node.tls else None
        try:
            return await self._attempt_on(ctx, service, node, called, calling, watch)
        except (ProbeError, OSError) as exc:
            if (
                watch is not None
                and watch.certificate_requested
                and not node.confirmed
                and refused_without_certificate(exc)
            ):
                if node.tls_facts is None:
                    node.tls_facts = watch.facts()
                raise ClientCertificateRequired() from None
            raise

    async def _attempt_on(
        self,
        ctx: ProbeContext,
        service: ServiceState,
        node: Node,
        called: str,
        calling: str,
        watch: HandshakeWatch | None,
    ) -> Answer:
        deadlines = ctx.config.deadlines
        async with (
            ctx.limits.connection(ctx.address),
            open_connection(
                ctx.address,
                service.port,
                deadlines,
                tls=node.tls,
                tls_context=watch.context() if watch else None,
            ) as conn,
        ):
            if node.tls and node.tls_facts is None:
                node.tls_facts = tls_facts(conn.ssl_object())
            cap = ctx.config.options_for(DicomOptions).find_cap
            # A counted C-FIND (up to RESPONSES_PER_STUDY per study), what
            # follows its C-CANCEL, an echo, slack.
            session = Session(
                conn,
                response_cap=cap * RESPONSES_PER_STUDY
                + cap
                + 16
                + leaks.worklist_responses(cap)
                + RESPONSE_SLACK,
            )
            answer = await self._timed_associate(ctx, service, node, session, called, calling)
            node.attempts += 1
            if isinstance(answer, Rejected):
                node.confirmed = True
            if not isinstance(answer, Accepted):
                return answer
            node.confirmed = True
            node.called_ae = called
            node.ladder = Ladder(answer)
            ladder = node.ladder
            try:
                aborted = await self._climb(ctx, session, ladder)
            except BaseException:
                await session.abort()
                raise
            if aborted is None and await session.release(min(2.0, deadlines.read)):
                ladder.lived = True
            if ladder.storage_accepted and ladder.lived:
                ladder.steps.append(STEP_STORE)
            if aborted is not None and not ladder.lived:
                # Accepted, then aborted before answering anything: its
                # contexts were never usable (nothing is sent on an aborted
                # association), so they prove nothing.
                raise ProbeError(
                    ErrorReason.PROTOCOL,
                    f"association accepted, then {aborted.detail} before any answer",
                )
            return answer

    async def _climb(
        self, ctx: ProbeContext, session: Session, ladder: Ladder
    ) -> PeerAborted | None:
        """Echo then count; the peer's A-ABORT, if it sent one, returned."""
        accepted = ladder.accepted
        ladder.steps.append(STEP_ACCEPTED)
        ladder.storage_accepted = sum(
            1 for cid in storage_context_ids() if accepted.accepted(cid) is not None
        )
        syntax = accepted.accepted(FIND_CONTEXT)
        if syntax not in TRANSFER_SYNTAXES:
            # The study query's context refused at negotiation: a refusal.
            ladder.query_refused = True
        leaks.read_negotiation(ladder)
        try:
            if accepted.accepted(VERIFICATION_CONTEXT) is not None:
                ladder.echo_status = await session.echo()
                ladder.lived = True
                if ladder.echo_status == 0:
                    ladder.steps.append(STEP_ECHO)
            if syntax in TRANSFER_SYNTAXES:
                ladder.find = await session.count_studies(
                    syntax, ctx.config.options_for(DicomOptions).find_cap
                )
                ladder.lived = True
                # Ended with a status: answered, or refused (a failure status).
                ladder.query_refused = not ladder.find.answered and ladder.find.status is not None
                if ladder.find.answered:
                    ladder.steps.append(STEP_FIND)
            await leaks.count_worklist(
                session, ladder, ctx.config.options_for(DicomOptions).find_cap
            )
        except PeerAborted as exc:
            log.debug("dicom %s: association aborted mid-ladder: %s", ctx.address, exc.detail)
            return exc
        return None

    # -- recording ---------------------------------------------------------

    def _record(self, ctx: ProbeContext, service: ServiceState, node: Node) -> None:
        ladder = node.ladder
        accepted = ladder.accepted if ladder else None
        class_uid = accepted.implementation_class_uid if accepted else None
        version_name = accepted.implementation_version if accepted else None
        impl_product, impl_version = fingerprint(ctx.catalogue, class_uid, version_name)
        hinted = ctx.host.hints.get(HINT_PRODUCT, [])
        if not _product_hint_applies(ctx, service, node):
            hinted = []
        if hinted:
            product: str | None = hinted[0]
            version = next(iter(ctx.host.hints.get(HINT_VERSION, [])), None)
        else:
            product, version = impl_product, impl_version
        classification = node.classification()
        calling = ctx.config.options_for(DicomOptions).calling_ae

        service.protocol = "dicom"
        service.confirmed = True
        service.tls = node.tls
        service.product = product or service.product
        service.version = version or service.version
        if node.tls_facts:
            service.details.update(node.tls_facts.details())
        service.details.update(
            {
                "ae_title": node.called_ae if ladder else None,
                "implementation_class_uid": class_uid,
                "implementation_version": version_name,
                "classification": classification.value,
            }
        )
        # Whether the accepted AE title names this node alone (the outside
        # view joins on it only then): it refused a random called AE, or,
        # not asked, refused another title as "called AE not recognised".
        if node.random_ae in (RANDOM_ACCEPTED, RANDOM_REJECTED):
            service.details["called_ae_checked"] = node.random_ae == RANDOM_REJECTED
        elif ladder is not None and any(
            r.reason is RejectReason.CALLED_AE_NOT_RECOGNISED for r in node.rejections
        ):
            service.details["called_ae_checked"] = True
        if impl_product and impl_product != product:
            service.details["implementation"] = " ".join(
                p for p in (impl_product, impl_version) if p
            )
        elif impl_product is None and class_uid:
            # No maker in the table: the UID's root names its registrant
            # (PS3.5 §9), for a reader to look up.
            service.details["implementation_uid_root"] = uid_root(class_uid)

        who = {
            "called_ae": node.called_ae if ladder else None,
            "calling_ae": calling,
            "ae_source": node.ae_source,
        }
        last = node.rejections[-1] if node.rejections else None
        find = ladder.find if ladder else None
        association: dict[str, Any] = {
            **who,
            "accepted": ladder is not None,
            "classification": classification.value,
            "ae_titles_tried": node.attempts,
            "random_called_ae": node.random_ae,
            "answer_seconds": round(node.answer_seconds, 1),
            "slow": node.slow,
            "rejection": (
                node.aborted.text
                if node.aborted is not None and ladder is None
                else last.text
                if last and ladder is None
                else None
            ),
            "implementation_class_uid": class_uid,
            "implementation_version": version_name,
            "product": product,
            "version": version,
            "tls": node.tls,
            "proof": list(ladder.steps) if ladder else [],
            "echo_status": ladder.echo_status if ladder else None,
            # True answered, False refused, None never tried or never ended:
            # a probe cut while waiting claims no refusal.
            "query_answered": True
            if find and find.answered
            else (False if ladder and ladder.lived and ladder.query_refused else None),
            "storage_contexts_accepted": ladder.storage_accepted if ladder and ladder.lived else 0,
            **leaks.association_fields(ladder),
        }
        ctx.fact("dicom.association", service.port, "dicom", **association)
        if node.slow:
            ctx.scan.note(
                NOTE_SLOW,
                where=f"{ctx.address}:{service.port}",
                seconds=round(node.answer_seconds),
            )
        if ladder and find and find.answered:
            ctx.fact(
                "dicom.query",
                service.port,
                "dicom",
                **who,
                study_count=find.count,
                responses=find.responses,
                capped=find.capped,
                find_cap=ctx.config.options_for(DicomOptions).find_cap,
                query="Study Root C-FIND, STUDY level, key StudyInstanceUID only",
            )
        if ladder and ladder.storage_accepted and ladder.lived:
            ctx.fact(
                "dicom.store",
                service.port,
                "dicom",
                **who,
                storage_contexts_accepted=ladder.storage_accepted,
                storage_contexts_proposed=ladder.storage_proposed,
            )
        if ladder is not None:
            leaks.record(ctx, service.port, who, ladder, product)
        if ladder is None or ladder.lived:
            # An association that never answered carried nothing: what its
            # transport would expose is not known.
            transport: dict[str, Any] = {
                "tls": node.tls,
                "classification": classification.value,
            }
            if node.tls_facts:
                transport.update(node.tls_facts.details())
            ctx.fact("dicom.transport", service.port, "dicom", **transport)
        if ladder and ladder.lived:
            # The strongest read proof names the exposure; storage is a write.
            proof = next(s for s in (STEP_FIND, STEP_ECHO, STEP_ACCEPTED) if s in ladder.steps)
            ctx.imaging(
                service.port, "dicom", "dicom", product=product, version=version, proof=proof
            )

    def _record_client_certificate(
        self, ctx: ProbeContext, service: ServiceState, node: Node
    ) -> None:
        """A TLS port that wants a client certificate: what its handshake
        showed, and that it keeps unknown callers out (not DICOM-confirmed:
        it never spoke DICOM to us)."""
        service.tls = True
        facts = node.tls_facts.details() if node.tls_facts else {}
        service.details.update({**facts, "client_certificate_required": True})
        ctx.fact(
            "dicom.transport",
            service.port,
            "dicom",
            tls=True,
            client_certificate_required=True,
            **facts,
        )
