"""One TlsFacts for every protocol, with one meaning of "self-signed": the
same name on both sides and a signature the certificate's own key verifies."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exposcan.net.tls import certificate_facts


def _der(subject: str, issuer: str, signer: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(signer or key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_self_signed_means_issued_and_signed_by_itself() -> None:
    # Given a certificate signed by its own key under its own name
    own = certificate_facts(_der("pacs.cabinet.test", "pacs.cabinet.test"), "TLSv1.3", "X")
    # Then it is self-signed, and its facts name the same fields for DICOM and HTTP
    assert own.self_signed is True
    assert own.details()["cert_subject_cn"] == "pacs.cabinet.test"
    assert set(own.details()) == {
        "tls_version",
        "tls_cipher",
        "cert_subject_cn",
        "cert_issuer",
        "cert_not_after",
        "cert_self_signed",
    }


def test_the_same_name_signed_by_another_key_is_not_self_signed() -> None:
    # Given a certificate whose issuer name is its own, signed by another key
    other = ec.generate_private_key(ec.SECP256R1())
    forged = certificate_facts(_der("pacs", "pacs", signer=other), "TLSv1.2")
    # Then a name alone does not make it self-signed; nor does a CA's certificate
    assert forged.self_signed is False
    assert certificate_facts(_der("pacs", "Cabinet CA", signer=other), None).self_signed is False
    # And garbage is no certificate, not an error
    assert certificate_facts(b"\x30\x03junk", "TLSv1.2").self_signed is None
