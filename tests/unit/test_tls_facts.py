"""One TlsFacts for every protocol, with one meaning of "self-signed": the
same name on both sides and a signature the certificate's own key verifies."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from exposcan.facts import TlsFields
from exposcan.net.tls import certificate_facts, first_certificate
from tests.certs import certificate


def _der(subject: str, issuer: str, signer: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(key, subject, issuer=issuer, signer=signer)
    return cert.public_bytes(serialization.Encoding.DER)


def test_self_signed_means_issued_and_signed_by_itself() -> None:
    # Given a certificate signed by its own key under its own name
    own = certificate_facts(_der("pacs.cabinet.test", "pacs.cabinet.test"), "TLSv1.3", "X")
    # Then it is self-signed, and its facts name the same fields for DICOM and HTTP
    assert own.self_signed is True
    assert own.details()["cert_subject_cn"] == "pacs.cabinet.test"
    assert set(own.details()) == set(TlsFields.model_fields)
    assert (own.key_type, own.key_bits, own.expired) == ("EC secp256r1", 256, False)


def test_the_same_name_signed_by_another_key_is_not_self_signed() -> None:
    # Given a certificate whose issuer name is its own, signed by another key
    other = ec.generate_private_key(ec.SECP256R1())
    forged = certificate_facts(_der("pacs", "pacs", signer=other), "TLSv1.2")
    # Then a name alone does not make it self-signed; nor does a CA's certificate
    assert forged.self_signed is False
    assert certificate_facts(_der("pacs", "Cabinet CA", signer=other), None).self_signed is False
    # And garbage is no certificate, not an error
    assert certificate_facts(b"\x30\x03junk", "TLSv1.2").self_signed is None


def test_validity_and_key_of_an_expired_rsa_certificate() -> None:
    # Given an RSA 2048 certificate that expired yesterday
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = certificate(key, "old-pacs", days=(-400, -1))
    facts = certificate_facts(cert.public_bytes(serialization.Encoding.DER), "TLSv1.2")
    # Then its dates, its expiry and its key are facts
    assert (facts.key_type, facts.key_bits, facts.expired) == ("RSA", 2048, True)
    assert facts.not_before is not None and facts.not_after is not None
    assert facts.not_before < facts.not_after


def _u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def test_the_first_certificate_of_a_handshake_message_tls12_and_tls13() -> None:
    # Given the DER of a certificate inside TLS 1.2 and TLS 1.3 Certificate messages
    der = _der("pacs", "pacs")
    tls12 = _u24(len(der)) + der
    tls12 = b"\x0b" + _u24(len(tls12) + 3) + _u24(len(tls12)) + tls12
    entry = _u24(len(der)) + der + b"\x00\x00"  # no extensions
    tls13 = b"\x00" + _u24(len(entry)) + entry
    tls13 = b"\x0b" + _u24(len(tls13)) + tls13
    # Then both give the certificate back; lengths that do not add up give none
    assert first_certificate(tls12) == der
    assert first_certificate(tls13) == der
    assert first_certificate(tls12[:-1]) is None
    assert first_certificate(b"\x0b\x00\x00\x00") is None
    assert first_certificate(b"") is None
