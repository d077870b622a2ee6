"""Test certificates: one builder for the self-signed, expired and
cross-signed certificates the TLS tests serve or read."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)])


def certificate(
    key: Key,
    subject: str,
    *,
    issuer: str | None = None,
    signer: Key | None = None,
    days: tuple[int, int] = (-1, 30),
) -> x509.Certificate:
    """A certificate for ``key``, valid from ``days[0]`` to ``days[1]`` days
    from now; self-signed unless ``issuer`` and ``signer`` say otherwise."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer or subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=days[0]))
        .not_valid_after(now + datetime.timedelta(days=days[1]))
        .sign(signer or key, hashes.SHA256())
    )


def server_context(tmp: Path, cn: str, days: tuple[int, int] = (-1, 30)) -> ssl.SSLContext:
    """A TLS server context with a fresh EC key's self-signed certificate,
    left in ``tmp`` as cert.pem and key.pem (a test may trust cert.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp / "cert.pem").write_bytes(
        certificate(key, cn, days=days).public_bytes(serialization.Encoding.PEM)
    )
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return context
