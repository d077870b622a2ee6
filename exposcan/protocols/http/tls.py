"""Facts of a server certificate, read but never verified.

A practice's PACS typically presents a self-signed or expired certificate; the
scan still has to talk to it to prove exposure, so the facts are recorded
(subject CN, issuer, expiry, self-signed, TLS version) for the report rather
than used to refuse the connection.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from exposcan.models import EvidenceValue

_CAP = 200  # a certificate field is attacker-chosen text: cap its length


@dataclass(frozen=True)
class TlsFacts:
    version: str | None
    subject_cn: str | None = None
    issuer: str | None = None
    not_after: str | None = None
    self_signed: bool | None = None

    def details(self) -> dict[str, EvidenceValue]:
        out: dict[str, EvidenceValue] = {"tls_version": self.version}
        if self.subject_cn is not None:
            out["cert_subject_cn"] = self.subject_cn
        if self.issuer is not None:
            out["cert_issuer"] = self.issuer
        if self.not_after is not None:
            out["cert_not_after"] = self.not_after
        if self.self_signed is not None:
            out["cert_self_signed"] = self.self_signed
        return out


def tls_facts(der: bytes | None, version: str | None) -> TlsFacts:
    if not der:
        return TlsFacts(version)
    # cryptography warns (UserWarning) on a name attribute past its length
    # limit, e.g. a 64 KiB CN: the peer's oddity, cut to _CAP below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cert = x509.load_der_x509_certificate(der)
            cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            cn = str(cns[0].value)[:_CAP] if cns else None
            return TlsFacts(
                version=version,
                subject_cn=cn,
                issuer=cert.issuer.rfc4514_string()[:_CAP],
                not_after=cert.not_valid_after_utc.isoformat(),
                # Same name on both sides: nobody but the server vouches for it.
                self_signed=cert.issuer == cert.subject,
            )
        except ValueError:
            return TlsFacts(version)
