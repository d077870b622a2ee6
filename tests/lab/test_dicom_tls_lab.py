"""DICOM over TLS against the lab's real dcmtk 3.6.7 storescp +tls,
through the real CLI on the workstation: the TLS facts of a node that lets
anyone in (2761, --ignore-peer-cert) reach the JSON and the HTML; a node that
requires a client certificate (2762, dcmtk's default --require-peer-cert) is
the info finding ``dicom.tls-client-certificate-required``, the same on every
run, with no error record."""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from exposcan.cli import EXIT_CLEAN, EXIT_FINDINGS
from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import findings_at, service_at
from tests.lab.conftest import FullScan, run_exposcan

pytestmark = pytest.mark.lab

REQUIRED = "dicom.tls-client-certificate-required"


def _scan(lab: Lab, out: Path, port: int, *more: str) -> tuple[int, dict[str, Any]]:
    proc = run_exposcan(
        lab,
        "ws",
        [
            "scan",
            str(t.MODALITY.ip),
            "-p",
            str(port),
            "--no-discovery",
            "--fail-on",
            "low",
            "-o",
            str(out),
            *more,
        ],
        timeout=120,
    )
    assert out.with_suffix(".json").exists(), proc.stderr[-2000:]
    return proc.returncode, json.loads(out.with_suffix(".json").read_text())


def test_a_node_requiring_a_client_certificate_is_a_good_sign(lab: Lab, tmp_path: Path) -> None:
    # Given dcmtk storescp +tls as dcmtk runs it by default (the caller's
    # certificate required), scanned by name from the workstation, twice
    runs = [_scan(lab, tmp_path / f"run{i}.json", t.MODALITY_TLS_PORT) for i in range(2)]
    # Then each run exits clean (--fail-on low: an info finding is no
    # exposure) and gives
    # the same info finding, with the TLS facts it read, and no error record
    for code, report in runs:
        assert code == EXIT_CLEAN, report["findings"]
        found = findings_at(report, t.MODALITY.ip, t.MODALITY_TLS_PORT)
        assert set(found) == {REQUIRED}, found
        assert report["errors"] == []
    first, second = (findings_at(r, t.MODALITY.ip, t.MODALITY_TLS_PORT)[REQUIRED] for _, r in runs)
    assert first == second
    assert first["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert first["cert_self_signed"] is True
    assert (first["cert_key_type"], first["cert_key_bits"]) == ("RSA", t.MODALITY_TLS_KEY_BITS)
    service = service_at(runs[0][1], t.MODALITY.ip, t.MODALITY_TLS_PORT)
    assert service["tls"] is True and service["details"]["client_certificate_required"] is True
    # and nothing was stored on the modality
    assert not any(lab.storescp_dir.iterdir())


def test_tls_facts_of_an_open_tls_node_reach_the_json_and_the_html(
    lab: Lab, tmp_path: Path
) -> None:
    # Given dcmtk storescp +tls ignoring the caller's certificate (anyone
    # who speaks TLS may store images), scanned with a JSON and an HTML report
    html = tmp_path / "report.html"
    code, report = _scan(lab, tmp_path / "report.json", t.MODALITY_TLS_OPEN_PORT, "-o", str(html))
    # Then the exposure is found (exit 1 at --fail-on low), with no claim of
    # a client certificate
    assert code == EXIT_FINDINGS
    found = findings_at(report, t.MODALITY.ip, t.MODALITY_TLS_OPEN_PORT)
    assert "dicom.store-open" in found and REQUIRED not in found
    assert "dicom.cleartext" not in found
    # and the service's details hold the handshake and the certificate
    service = service_at(report, t.MODALITY.ip, t.MODALITY_TLS_OPEN_PORT)
    details = service["details"]
    assert service["tls"] is True and service["protocol"] == "dicom"
    assert details["tls_version"] in ("TLSv1.2", "TLSv1.3") and details["tls_cipher"]
    assert details["cert_subject_cn"] == "modality.lab.invalid"
    assert details["cert_self_signed"] is True and details["cert_expired"] is False
    assert (details["cert_key_type"], details["cert_key_bits"]) == ("RSA", 2048)
    assert details["cert_not_before"] < details["cert_not_after"]
    assert "client_certificate_required" not in details
    # and the HTML shows them, labelled
    text = unescape(html.read_text())
    assert f"TLS version: {details['tls_version']}" in text
    assert "self-signed certificate: yes" in text and "key size (bits): 2048" in text
    assert not any(lab.storescp_dir.iterdir())


def test_the_no_target_scan_reports_both_tls_nodes(full_scan: FullScan) -> None:
    # Given the session's one no-target scan of the lab from the workstation
    report = full_scan.report
    # Then the node requiring a client certificate is the info finding, and
    # neither TLS port of the modality is an error record
    required = findings_at(report, t.MODALITY.ip, t.MODALITY_TLS_PORT)
    assert set(required) == {REQUIRED}, required
    assert required[REQUIRED]["cert_key_bits"] == t.MODALITY_TLS_KEY_BITS
    assert not [
        e
        for e in report["errors"]
        if e["host"] == str(t.MODALITY.ip)
        and e["port"] in (t.MODALITY_TLS_PORT, t.MODALITY_TLS_OPEN_PORT)
    ]
    # and the open TLS node's handshake and certificate are in its details
    details = service_at(report, t.MODALITY.ip, t.MODALITY_TLS_OPEN_PORT)["details"]
    assert details["cert_self_signed"] is True and details["tls_version"] in ("TLSv1.2", "TLSv1.3")
    if "html" in full_scan.outputs:
        # (in the locale's language: the full scan names none)
        text = unescape(full_scan.outputs["html"].read_text())
        label = "version de TLS" if 'lang="fr"' in text else "TLS version"
        assert f"{label}: {details['tls_version']}" in text
