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

import datetime
import ssl
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from exposcan.models import EvidenceValue
from exposcan.net.netio import insecure_tls_context

_CAP = 200  # a certificate field is attacker-chosen text: cap its length


@dataclass(frozen=True)
class TlsFacts:
    version: str | None
    cipher: str | None = None
    subject_cn: str | None = None
    issuer: str | None = None
    not_before: str | None = None
    not_after: str | None = None
    #: Past its not-after date at the time of the scan.
    expired: bool | None = None
    #: ``RSA``, ``EC`` (with its curve), ``Ed25519``...; ``key_bits`` its size.
    key_type: str | None = None
    key_bits: int | None = None
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
            "cert_not_before": self.not_before,
            "cert_not_after": self.not_after,
            "cert_expired": self.expired,
            "cert_self_signed": self.self_signed,
            "cert_key_type": self.key_type,
            "cert_key_bits": self.key_bits,
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


def _key(cert: x509.Certificate) -> tuple[str | None, int | None]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError):  # an algorithm cryptography does not know
        return None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"[:_CAP], key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__[:_CAP], None


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
            key_type, key_bits = _key(cert)
            not_after = cert.not_valid_after_utc
            return TlsFacts(
                version=version,
                cipher=cipher,
                subject_cn=str(cns[0].value)[:_CAP] if cns else None,
                issuer=cert.issuer.rfc4514_string()[:_CAP],
                not_before=cert.not_valid_before_utc.isoformat(),
                not_after=not_after.isoformat(),
                expired=not_after < datetime.datetime.now(datetime.UTC),
                self_signed=_self_signed(cert),
                key_type=key_type,
                key_bits=key_bits,
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


class HandshakeWatch:
    """What the server's handshake messages said, read as they pass: whether
    it sent a CertificateRequest (RFC 8446 §4.3.2, RFC 5246 §7.4.4), i.e.
    asks the client for a certificate, and the certificate it showed.  A
    server that asked, then failed the handshake (TLS 1.2 handshake_failure)
    or hung up after it (TLS 1.3, where the server checks the client's
    certificate once the client is done; alert certificate_required, 116)
    requires one: a good sign, said as such, the same every run, whichever
    way the refusal reached us.

    Python exposes OpenSSL's message callback only as ``SSLContext._msg_callback``
    (used by its own test suite); without it, ``certificate_requested`` stays
    None ("not known"), never False."""

    def __init__(self) -> None:
        self.certificate_requested: bool | None = None
        #: The record-layer version of the server's last handshake message.
        self.version: str | None = None
        #: The server's own (first) certificate, DER, when the handshake
        #: failed before :func:`tls_facts` could read it.
        self.certificate: bytes | None = None

    def context(self) -> ssl.SSLContext:
        """A fresh client context (one per connection) reporting to this watch."""
        ctx = insecure_tls_context()
        if hasattr(ctx, "_msg_callback"):
            self.certificate_requested = False
            ctx._msg_callback = self._on_message
        return ctx

    def facts(self) -> TlsFacts:
        """What the watch saw, for a handshake that did not complete."""
        return certificate_facts(self.certificate, self.version)

    def _on_message(
        self,
        _conn: object,
        direction: str,
        version: object,
        content_type: object,
        msg_type: object,
        data: bytes,
    ) -> None:
        if direction != "read" or content_type != _HANDSHAKE:
            return
        if isinstance(version, ssl.TLSVersion):
            self.version = version.name.replace("_", ".")
        if msg_type == _CERTIFICATE_REQUEST:
            self.certificate_requested = True
        elif msg_type == _CERTIFICATE and self.certificate is None:
            self.certificate = first_certificate(bytes(data[:_CERT_MESSAGE_CAP]))


_HANDSHAKE = 22  # ContentType.handshake (RFC 8446 §5.1)
_CERTIFICATE = 11  # HandshakeType.certificate
_CERTIFICATE_REQUEST = 13  # HandshakeType.certificate_request
_CERT_MESSAGE_CAP = 1 << 16  # a certificate chain past 64 KiB is not read


def _u24(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 3], "big")


def first_certificate(message: bytes) -> bytes | None:
    """The first certificate of a Certificate handshake message (4-byte
    header included): TLS 1.2's layout (RFC 5246 §7.4.2: a 24-bit list length
    then 24-bit-length entries) or TLS 1.3's (RFC 8446 §4.4.2: a request
    context first), told apart by their lengths adding up; None otherwise."""
    body = message[4:]
    for start in (0, 1 + (body[0] if body else 0)):
        if len(body) < start + 6 or _u24(body, start) != len(body) - start - 3:
            continue
        size = _u24(body, start + 3)
        der = body[start + 6 : start + 6 + size]
        if size and len(der) == size:
            return der
    return None
