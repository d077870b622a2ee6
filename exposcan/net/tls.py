"""What a TLS handshake showed, read but never verified: one model for every
protocol that speaks TLS (DICOM's PS3.15 Annex B secure transport, HTTPS).

A practice's PACS typically presents a self-signed or expired certificate;
the scan still has to talk to it to prove exposure, so the handshake
(version, cipher) and the server certificate (subject CN, issuer, expiry,
self-signed) are recorded for the report rather than used to refuse the
connection.  None of it is patient data; every certificate field is
peer-chosen text, capped.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from exposcan.models import EvidenceValue

_CAP = 200  # a certificate field is attacker-chosen text: cap its length


@dataclass(frozen=True)
class TlsFacts:
    version: str | None
    cipher: str | None = None
    subject_cn: str | None = None
    issuer: str | None = None
    not_after: str | None = None
    #: Issued by itself: the same name on both sides *and* a signature its
    #: own key verifies (a name alone is not enough), so nobody but the server
    #: vouches for it.  None when no certificate was read.
    self_signed: bool | None = None

    def details(self) -> dict[str, EvidenceValue]:
        """The fields known, under the names of :class:`exposcan.facts.TlsFields`."""
        named: dict[str, EvidenceValue] = {
            "tls_version": self.version,
            "tls_cipher": self.cipher,
            "cert_subject_cn": self.subject_cn,
            "cert_issuer": self.issuer,
            "cert_not_after": self.not_after,
            "cert_self_signed": self.self_signed,
        }
        return {k: v for k, v in named.items() if v is not None or k == "tls_version"}


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def certificate_facts(
    der: bytes | None, version: str | None, cipher: str | None = None
) -> TlsFacts:
    """The facts of a DER certificate (none when it does not parse)."""
    if not der:
        return TlsFacts(version, cipher)
    # cryptography warns (UserWarning) on a name attribute past its length
    # limit, e.g. a 64 KiB CN: the peer's oddity, cut to _CAP below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cert = x509.load_der_x509_certificate(der)
            cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            return TlsFacts(
                version=version,
                cipher=cipher,
                subject_cn=str(cns[0].value)[:_CAP] if cns else None,
                issuer=cert.issuer.rfc4514_string()[:_CAP],
                not_after=cert.not_valid_after_utc.isoformat(),
                self_signed=_self_signed(cert),
            )
        except ValueError:
            return TlsFacts(version, cipher)


def tls_facts(sslobj: ssl.SSLObject | ssl.SSLSocket | None) -> TlsFacts | None:
    """The facts of an established TLS connection; None without TLS."""
    if sslobj is None:
        return None
    cipher = sslobj.cipher()
    version = sslobj.version()
    return certificate_facts(
        sslobj.getpeercert(binary_form=True),
        str(version) if version else None,
        str(cipher[0]) if cipher else None,
    )
