"""SMB probe: negotiation facts, SMB1, and shares readable without credentials.

Facts recorded (the rules in ``probes/rules/smb.*.yaml`` turn them into
findings):

- ``smb.negotiate``: dialect chosen among those offered, signing required or
  not, and whether a raw SMB1 NEGOTIATE (NT LM 0.12) was accepted;
- ``smb.sessions``: which of the null session and guest logged in, how many
  shares the server listed and refused (over SMB2/3 with scapy's client, or
  SMB1 with impacket's when the server speaks SMB1 only);
- ``smb.share``: one per share proven readable without credentials (a share
  listing, then a listing of its root), with the counts of a bounded walk:
  imaging files and folders, whether the walk was cut short.  Never a file or
  folder name;
- ``imaging.service`` for a share that holds imaging (the internet view and
  the box's forwards are joined on it).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import TYPE_CHECKING, ClassVar

from exposcan.healthdata import health_signatures_from
from exposcan.imaging import signatures_from
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError
from exposcan.notes import declare_note
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.proofs import declare_proof, proof_text
from exposcan.protocols.smb import wire
from exposcan.protocols.smb.negotiate import NETBIOS_PORT, negotiate_smb2, smb1_accepted
from exposcan.protocols.smb.options import SmbOptions
from exposcan.protocols.smb.relay import Link, SmbRelay
from exposcan.protocols.smb.walk import WalkLimits, WalkResult
from exposcan.state import ServiceState
from exposcan.walk import folder_scores_from, unfinished, unfinished_detail

if TYPE_CHECKING:
    from exposcan.protocols.smb.session import Exploration, ShareReport

DIRECT_TCP_PORT = 445
NOTE_WALK_CUT = declare_note("note.smb.walk-cut")
NOTE_DEADLINE = declare_note("note.smb.walk-deadline")
# The share proofs; "-cut": where and why its walk stopped, too.
PROOF_SHARE_IMAGING = declare_proof("smb.share-imaging")
PROOF_SHARE_HEALTH = declare_proof("smb.share-health")
for _code in (PROOF_SHARE_IMAGING, PROOF_SHARE_HEALTH):
    declare_proof(_code + "-cut")


def walk_limits(options: SmbOptions) -> WalkLimits:
    """One share's walk bounds (:class:`SmbOptions`); the probe's deadline
    bounds them all."""
    return WalkLimits(
        requests=options.max_requests,
        bytes=options.max_bytes,
        seconds=float(options.max_seconds),
        depth=options.max_depth,
    )


class SmbProbe(ServiceProbe):
    name = "smb"
    protocols: ClassVar[frozenset[str]] = frozenset({"smb"})
    # Same phase as HTTP: SMB uses no other probe's hints, so a host's shares
    # and web services are probed side by side (within --per-host), and a
    # stalling web server does not hold the share walk back.
    phase = 20

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        started = time.monotonic()
        port = service.port
        smb2: wire.Smb2Answer | None = None
        smb1: wire.Smb1Answer | None = None
        smb2_error: ProbeError | None = None
        # Both negotiations side by side (two connections, within the host's
        # limit): a server that never answers the SMB1 one (the lab's
        # hostile3) costs one read deadline, not one after the other.
        peer = (ctx.address, port, ctx.config.deadlines, ctx.limits)
        got2, got1 = await asyncio.gather(
            negotiate_smb2(*peer), smb1_accepted(*peer), return_exceptions=True
        )
        if isinstance(got2, BaseException):
            # An SMB1-only server drops an SMB2 NEGOTIATE: only then is the
            # SMB1 answer still worth having.
            if not isinstance(got2, ProbeError) or got2.reason is not ErrorReason.RESET:
                raise got2
            smb2_error = got2
        else:
            smb2 = got2
        if isinstance(got1, BaseException):
            if not isinstance(got1, ProbeError):
                raise got1
            if smb2_error is not None:
                raise smb2_error from None
        else:
            smb1 = got1
        if smb2 is None and (smb1 is None or not smb1.accepted):
            assert smb2_error is not None
            raise smb2_error

        service.confirmed = True
        service.product = service.product or "SMB"
        self._negotiation_facts(ctx, service, smb2, smb1)
        if port == NETBIOS_PORT and _has_direct_tcp(ctx):
            # The same server on 445 is walked once, there: a fragile NAS
            # sees one walk, and the shares' findings sit on 445.
            service.details["smb_shares"] = f"see port {DIRECT_TCP_PORT}"
            return
        # An SMB1-only server (an old NAS, an XP-era modality workstation)
        # is walked with the SMB1 client, through the same relay and bounds.
        await self._explore(ctx, service, started, smb1_only=smb2 is None)

    def _negotiation_facts(
        self,
        ctx: ProbeContext,
        service: ServiceState,
        smb2: wire.Smb2Answer | None,
        smb1: wire.Smb1Answer | None,
    ) -> None:
        offered = list(wire.SMB2_DIALECTS.values())
        data: dict[str, object] = {
            "dialects_offered": offered,
            "smb1": None if smb1 is None else smb1.accepted,
        }
        if smb2 is not None:
            data.update(
                dialect=smb2.dialect,
                signing_required=smb2.signing_required,
                signing_enabled=smb2.signing_enabled,
                encryption=smb2.encryption,
            )
            service.details["smb_dialect"] = smb2.dialect
            service.details["smb_signing"] = (
                "required"
                if smb2.signing_required
                else "enabled"
                if smb2.signing_enabled
                else "disabled"
            )
            service.details["smb_encryption"] = smb2.encryption
            if smb2.server_guid:
                service.details["smb_server_guid"] = smb2.server_guid
        elif smb1 is not None and smb1.accepted:
            data["dialect"] = wire.NT_LM_012
            data["signing_required"] = smb1.signing_required
            service.details["smb_dialect"] = wire.NT_LM_012
        service.details["smb1"] = data["smb1"]  # type: ignore[assignment]
        ctx.fact("smb.negotiate", service.port, "smb", **data)

    async def _explore(
        self, ctx: ProbeContext, service: ServiceState, started: float, smb1_only: bool
    ) -> None:
        # Imported here: scapy takes a second to load, and only a host with
        # SMB needs it.
        from exposcan.protocols.smb.session import SessionOpener, explore

        opener: SessionOpener | None = None
        if smb1_only:
            from exposcan.protocols.smb.session_smb1 import Smb1Session

            opener = Smb1Session

        deadlines = ctx.config.deadlines
        # The thread cannot be cancelled, but its connections are the
        # relay's: closed at the deadline, the thread's reads end at once and
        # a scapy wait in flight within one read deadline.
        remaining = deadlines.total - (time.monotonic() - started)
        budget = remaining - deadlines.read - 1.0
        if budget < deadlines.read:
            ctx.error(
                service.port,
                ErrorReason.TIMEOUT,
                "no time left for the share walk (raise the total deadline)",
            )
            return
        deadline = time.monotonic() + budget
        limits = walk_limits(ctx.config.options_for(SmbOptions))
        stop = threading.Event()
        signatures = ctx.catalogue.derived(signatures_from)
        health = ctx.catalogue.derived(health_signatures_from)
        scores = ctx.catalogue.derived(folder_scores_from)
        loop = asyncio.get_running_loop()
        relay = SmbRelay(ctx.address, service.port, deadlines)

        def connect() -> tuple[socket.socket, Link]:
            # From the worker thread: the event loop opens and owns the
            # connection; the thread gets its end of a local pipe.
            future = asyncio.run_coroutine_threadsafe(relay.open(), loop)
            return future.result(timeout=deadlines.connect + 1.0)

        def work() -> Exploration:
            return explore(
                connect,
                service.port,
                deadlines.connect,
                deadlines.read,
                deadline,
                limits,
                signatures,
                health,
                stop,
                opener,
                scores,
            )

        try:
            # The walk's own deadline, enforced from here: at it the relay
            # closes every connection and the thread's next read ends.
            async with asyncio.timeout(budget + deadlines.read):
                found = await ctx.limits.run_blocking(ctx.address, work)
        except TimeoutError:
            stop.set()
            raise ProbeError(
                ErrorReason.TIMEOUT, f"SMB exploration cut at its {budget:.0f} s deadline"
            ) from None
        except Exception as exc:
            stop.set()
            raise ProbeError(ErrorReason.PROTOCOL, f"SMB session: {type(exc).__name__}") from None
        finally:
            # Also on cancellation (the engine's total deadline): a deadline
            # ends the work, not only the wait for it.
            stop.set()
            await relay.close()
        refused = relay.refused()

        if found.samba:
            service.product = "Samba"
        if found.server_name:
            service.details["smb_server_name"] = found.server_name
            # Horos/OsiriX's AE title is the computer's name (docs/imaging-exposure.md):
            # a candidate the DICOM probe of this host tries.
            ctx.host.add_hint("dicom.ae_title", found.server_name.upper()[:16])
        service.details["smb_anonymous"] = found.logins.get("anonymous", False)
        service.details["smb_guest"] = found.logins.get("guest", False)
        service.details["smb_shares_listed"] = found.shares_listed
        service.details["smb_shares_readable"] = len(found.readable)
        ctx.fact(
            "smb.sessions",
            service.port,
            "smb",
            anonymous=found.logins.get("anonymous", False),
            guest=found.logins.get("guest", False),
            shares_listed=found.shares_listed,
            disk_shares=found.disk_shares,
            shares_readable=len(found.readable),
            shares_refused=found.refused,
            problems=sorted(set(found.problems)),
        )
        if "time" in found.problems:
            ctx.scan.note(NOTE_DEADLINE, where=f"{ctx.address}:{service.port}")
        if refused is not None and not any(found.logins.values()):
            # The relay refused a frame (too large, or dripped): no session.
            ctx.error(service.port, refused.reason, f"SMB negotiated, then {refused.refused}")
            return
        if found.answered_badly and not any(found.logins.values()):
            ctx.error(
                service.port,
                ErrorReason.PROTOCOL,
                "SMB negotiated, then a session setup answer the client could not parse: "
                + ", ".join(sorted(set(found.problems))),
            )
            return
        # A session setup that timed out, or a walk cut at its deadline before
        # any session: both mean the server stalled after negotiating.
        stalled = any(p.endswith("TimeoutError") or p == "time" for p in found.problems)
        if stalled and not any(found.logins.values()):
            # No session, and not because the server said no: a server that
            # negotiates then stalls is an error, not a clean "no guest
            # access" (a refused login raises no timeout). Type names only.
            ctx.error(
                service.port,
                ErrorReason.TIMEOUT,
                "SMB negotiated, then no session setup answer: "
                + ", ".join(sorted(set(found.problems))),
            )

        readable = [r.name for r in found.readable]
        imaging = [r.name for r in found.readable if r.walk.imaging_files]
        # Most imaging first: findings keep the first fact of a rule per port.
        for report in sorted(found.readable, key=lambda r: -r.walk.imaging_files):
            walk = report.walk
            ctx.fact(
                "smb.share",
                service.port,
                "smb",
                share=report.name,
                session=report.session,
                dialect=service.details.get("smb_dialect"),
                listed=report.listed,
                readable=True,
                **walk.evidence(),
                readable_shares=readable,
                imaging_shares=imaging,
            )
            reason = None if walk.imaging_files else unfinished(walk.cut_by)
            if reason is not None:
                ctx.error(
                    service.port,
                    reason,
                    unfinished_detail(
                        f"share walk ({report.session} session)",
                        walk.cut_by,
                        walk.folders_seen,
                        walk.files_seen,
                    ),
                )
            if walk.truncated:
                # Why and where the walk stopped, in the terminal and the HTML
                # as well as the evidence: its counts are "at least".
                ctx.scan.note(
                    NOTE_WALK_CUT,
                    where=f"{ctx.address}:{service.port}",
                    share=report.name,
                    cut_by=", ".join(walk.cut_by),
                    depth=walk.depth_reached,
                    left=walk.folders_left,
                    files=walk.files_seen,
                    folders=walk.folders_seen,
                )
            if walk.health_files:
                ctx.health_data(
                    service.port,
                    "smb",
                    "share",
                    product=service.product,
                    share=report.name,
                    kinds=sorted(walk.health_kinds),
                    proof=_proof(ctx, PROOF_SHARE_HEALTH, report, walk, walk.health_files),
                )
            if walk.imaging_files:
                ctx.imaging(
                    service.port,
                    "smb",
                    "share",
                    product=service.product,
                    share=report.name,
                    proof=_proof(ctx, PROOF_SHARE_IMAGING, report, walk, walk.imaging_files),
                )


def _has_direct_tcp(ctx: ProbeContext) -> bool:
    other = ctx.host.services.get(DIRECT_TCP_PORT)
    return other is not None and other.protocol == "smb"


def _proof(ctx: ProbeContext, code: str, share: ShareReport, walk: WalkResult, files: int) -> str:
    """The share's proof: who listed it and what it counted; where and why
    its walk stopped, when it was cut (counts only)."""
    params: dict[str, object] = {
        "session": share.session,
        "share": share.name,
        "files": files,
        "folders": walk.imaging_folders,
    }
    if not walk.truncated:
        return proof_text(ctx.catalogue, code, **params)
    cut = {"cut_by": ", ".join(walk.cut_by), "depth": walk.depth_reached}
    return proof_text(ctx.catalogue, code + "-cut", **params, **cut, left=walk.folders_left)
