"""Facts about a DICOM node's TLS (PS3.15 Annex B secure transport profiles).

Recorded, not judged here: the handshake (version, cipher) and the server
certificate (subject CN, issuer, expiry, self-signed), read with
``cryptography``.  None of it is patient data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from exposcan.net.netio import Connection


@dataclass(frozen=True)
class TlsFacts:
    version: str | None
    cipher: str | None
    subject_cn: str | None = None
    issuer: str | None = None
    not_after: str | None = None
    self_signed: bool | None = None

    def as_data(self) -> dict[str, str | bool | None]:
        return {
            "tls_version": self.version,
            "tls_cipher": self.cipher,
            "cert_subject_cn": self.subject_cn,
            "cert_issuer": self.issuer,
            "cert_not_after": self.not_after,
            "cert_self_signed": self.self_signed,
        }


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def certificate_facts(der: bytes) -> dict[str, str | bool | None]:
    # cryptography warns (UserWarning) on a name attribute past its length
    # limit (a 64 KiB CN): the peer's oddity, cut by _short.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _certificate_facts(der)


def _certificate_facts(der: bytes) -> dict[str, str | bool | None]:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {}
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    subject_cn = str(names[0].value) if names else None
    self_signed = cert.subject == cert.issuer
    if self_signed:
        try:
            # Same name is not enough: the certificate must verify itself.
            cert.verify_directly_issued_by(cert)
        except (InvalidSignature, ValueError, TypeError):
            self_signed = False
    return {
        "subject_cn": _short(subject_cn) if subject_cn else None,
        "issuer": _short(cert.issuer.rfc4514_string()),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "self_signed": self_signed,
    }


def tls_facts(conn: Connection) -> TlsFacts | None:
    sslobj = conn.writer.get_extra_info("ssl_object")
    if sslobj is None:
        return None
    cipher = sslobj.cipher()
    der = conn.peer_certificate_der()
    cert = certificate_facts(der) if der else {}
    return TlsFacts(
        version=str(sslobj.version()) if sslobj.version() else None,
        cipher=str(cipher[0]) if cipher else None,
        subject_cn=cert.get("subject_cn"),  # type: ignore[arg-type]
        issuer=cert.get("issuer"),  # type: ignore[arg-type]
        not_after=cert.get("not_after"),  # type: ignore[arg-type]
        self_signed=cert.get("self_signed"),  # type: ignore[arg-type]
    )
