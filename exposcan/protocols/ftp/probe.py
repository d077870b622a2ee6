"""FTP probe: greeting and product, TLS (explicit AUTH TLS, implicit on 990),
the conventional anonymous login, and a bounded read-only walk of its zone.

Facts recorded (rules ``probes/rules/ftp.*.yaml``):

- ``ftp.service``: product and version from the greeting, whether AUTH TLS
  is offered, whether a login (a password) is asked for over plain text;
- ``ftp.zone``: the anonymous login was accepted, with the walk's counts of
  imaging and health data files (never a name);
- ``imaging.service`` / ``health-data.service`` for a zone that holds them
  (the internet view and the box's forwards are joined on these).

Only ``USER anonymous`` is ever tried (RFC 1635): no guessing, no other
account.  Never a write: the client can only send read-only commands.
"""

from __future__ import annotations

import time
from typing import ClassVar

from exposcan.healthdata import health_signatures_from
from exposcan.imaging import signatures_from
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.proofs import declare_proof, proof_text
from exposcan.protocols.ftp.catalogue import identify
from exposcan.protocols.ftp.client import FtpClient, Reply
from exposcan.protocols.ftp.options import FtpOptions
from exposcan.protocols.ftp.walk import WalkResult, walk_zone
from exposcan.state import ServiceState
from exposcan.walk import WalkLimits, folder_scores_from, unfinished, unfinished_detail

PROOF_IMAGING = declare_proof("ftp.imaging")  # "-cut": the walk was cut short
PROOF_HEALTH = declare_proof("ftp.health")
for _code in (PROOF_IMAGING, PROOF_HEALTH):
    declare_proof(_code + "-cut")

#: RFC 1635: the conventional anonymous account; the password is by
#: convention an e-mail address, not a secret of anyone's.
ANONYMOUS = "anonymous"
ANONYMOUS_PASSWORD = "exposcan@"  # noqa: S105 (RFC 1635 convention, no secret)
IMPLICIT_TLS_PORT = 990
#: Replies to USER meaning "say that again over TLS" (RFC 4217 §5: 530,
#: 534 "request denied for policy reasons"; vsftpd answers 530).
_NEEDS_TLS = frozenset({530, 534, 550})


def walk_limits(options: FtpOptions, deadline: float) -> WalkLimits:
    """The zone walk's bounds (:class:`FtpOptions`) up to ``deadline``."""
    return WalkLimits(
        requests=options.max_requests,
        bytes=options.max_bytes,
        seconds=float(options.max_seconds),
        depth=options.max_depth,
        deadline=deadline,
    )


class FtpProbe(ServiceProbe):
    name = "ftp"
    protocols: ClassVar[frozenset[str]] = frozenset({"ftp"})
    # After identify (10), beside HTTP and SMB.
    phase = 20

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        started = time.monotonic()
        deadlines = ctx.config.deadlines
        implicit = service.tls or service.port == IMPLICIT_TLS_PORT
        # The walk must end, and its facts be written, before the engine's
        # total deadline cancels the probe: a final reply may take a read.
        stop_at = started + deadlines.total - 2 * deadlines.read - 0.5
        async with ctx.limits.connection(ctx.address):
            async with FtpClient(
                ctx.address, service.port, deadlines, implicit_tls=implicit
            ) as ftp:
                greeting = ftp.greeting
                assert greeting is not None
                if greeting.code != 220:
                    # 421 "too many users" and 120 "ready in N minutes" are
                    # FTP, but nothing more can be learned now.
                    if greeting.code in (120, 421):
                        service.protocol, service.confirmed = "ftp", True
                        raise ProbeError(ErrorReason.REFUSED, f"greeting {greeting.code}")
                    raise ProbeError(ErrorReason.PROTOCOL, "no FTP greeting")
                service.protocol, service.confirmed, service.tls = "ftp", True, implicit
                product, version = identify(ctx.catalogue, greeting.text)
                features = await _features(ftp)
                auth_tls = implicit or any(
                    f.upper().startswith("AUTH") and "TLS" in f.upper() for f in features
                )
                if product is None:
                    product, version = identify(ctx.catalogue, (await ftp.command("SYST")).text)
                service.product = product or service.product or "FTP"
                service.version = version or service.version
                service.details["ftp_auth_tls"] = auth_tls

                logged_in, plain_login, tls_used = await _anonymous_login(ftp, auth_tls)
                service.details["ftp_anonymous"] = logged_in
                ctx.fact(
                    "ftp.service",
                    service.port,
                    "ftp",
                    product=service.product,
                    version=service.version,
                    implicit_tls=implicit,
                    auth_tls=auth_tls,
                    plain_login=plain_login,
                    anonymous=logged_in,
                )
                if not logged_in:
                    return
                await ftp.protect_data()
                await ftp.command("TYPE", "I")
                result = WalkResult()
                options = ctx.config.options_for(FtpOptions)
                limits = walk_limits(options, stop_at)
                use_mlsd = any(f.upper().startswith("MLST") for f in features)
                try:
                    await walk_zone(
                        ftp,
                        ctx.catalogue.derived(signatures_from),
                        ctx.catalogue.derived(health_signatures_from),
                        limits,
                        use_mlsd,
                        result,
                        ctx.catalogue.derived(folder_scores_from),
                        options.listing_cap,
                    )
                finally:
                    self._zone_facts(ctx, service, result, tls_used)

    def _zone_facts(
        self, ctx: ProbeContext, service: ServiceState, walk: WalkResult, tls: bool
    ) -> None:
        for reason, detail in walk.errors:
            ctx.error(service.port, reason, detail)
        service.details["ftp_files_seen"] = walk.files_seen
        ctx.fact(
            "ftp.zone",
            service.port,
            "ftp",
            anonymous=True,
            product=service.product,
            tls=tls,
            **walk.evidence(),
        )
        # A walk whose read failed has said so above; one that ran out of
        # time before an image says it here.
        unread = None if walk.imaging_files or walk.errors else unfinished(walk.cut_by)
        if unread is not None:
            ctx.error(
                service.port,
                unread,
                unfinished_detail("FTP walk", walk.cut_by, walk.folders_seen, walk.files_seen),
            )
        cut = "-cut" if walk.truncated else ""
        if walk.imaging_files:
            ctx.imaging(
                service.port,
                "ftp",
                "ftp",
                product=service.product,
                version=service.version,
                proof=proof_text(ctx.catalogue, PROOF_IMAGING + cut, files=walk.imaging_files),
            )
        if walk.health_files:
            ctx.health_data(
                service.port,
                "ftp",
                "ftp",
                product=service.product,
                kinds=sorted(walk.health_kinds),
                proof=proof_text(ctx.catalogue, PROOF_HEALTH + cut, files=walk.health_files),
            )


async def _features(ftp: FtpClient) -> list[str]:
    """RFC 2389 FEAT: one feature per indented line of a 211 reply."""
    answer = await ftp.command("FEAT")
    if answer.code != 211:
        return []
    return [line.strip() for line in answer.lines[1:-1] if line.startswith(" ")]


async def _anonymous_login(ftp: FtpClient, auth_tls: bool) -> tuple[bool, bool, bool]:
    """(logged in, logins are taken over plain text, TLS in use).

    Logins are plain text when the server offers no TLS at all, or when it
    took the anonymous login without it.  A server that offers AUTH TLS and
    refused anonymous may still force TLS on its named accounts (vsftpd's
    force_local_logins_ssl): without another user name, which we never try,
    that cannot be told, so it is not claimed."""
    answer = await ftp.command("USER", ANONYMOUS)
    if answer.code in _NEEDS_TLS and auth_tls and not ftp.tls:
        # RFC 4217 §5: "say it again over TLS".
        if (await ftp.start_tls()).code != 234:
            return False, False, False
        answer = await ftp.command("USER", ANONYMOUS)
    logged_in = await _password(ftp, answer)
    plain = not ftp.tls and (logged_in or not auth_tls)
    return logged_in, plain, ftp.tls


async def _password(ftp: FtpClient, answer: Reply) -> bool:
    if answer.code == 230:
        return True
    if answer.code != 331:
        return False
    return (await ftp.command("PASS", ANONYMOUS_PASSWORD)).code == 230
