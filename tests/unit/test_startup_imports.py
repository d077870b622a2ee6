"""Start-up: what every scan loads imports none of the heavy
libraries a probe needs only when it meets its service."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("aiohttp", "pynetdicom", "pydicom", "cryptography", "scapy")

LOADED_BY_EVERY_SCAN = """
import sys
import exposcan.cli
from exposcan.catalogue import default_catalogue
from exposcan.protocols import network_probes
default_catalogue().read_all()
network_probes()
print(" ".join(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _top_level_modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(out.stdout.split())


def test_cli_catalogue_and_network_probes_import_no_heavy_library() -> None:
    # Given a fresh interpreter that loads what a scan loads before its probes
    loaded = _top_level_modules(LOADED_BY_EVERY_SCAN)
    # Then none of the probes' heavy libraries is among its modules
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    assert "exposcan" in loaded


def test_the_service_probes_do_import_them() -> None:
    # Given the service probes themselves (imported in a thread by the engine)
    loaded = _top_level_modules(
        "import sys\nfrom exposcan.protocols import service_probes\nservice_probes()\n"
        'print(" ".join(sorted({m.split(".")[0] for m in sys.modules})))'
    )
    # Then the libraries are there: the check above is not vacuous
    assert {"aiohttp", "pynetdicom"} <= loaded


PORT_SCAN_ONLY = """
import sys
import exposcan.cli
from exposcan.catalogue import default_catalogue
catalogue = default_catalogue()
catalogue.default_ports()
print(" ".join(sorted(m for m in sys.modules if m.startswith("exposcan."))))
"""


def test_a_port_scan_reads_no_catalogue_kind_it_does_not_use() -> None:
    # Given what a port scan with no probe (--no-probes) asks of the catalogue
    loaded = _top_level_modules(PORT_SCAN_ONLY)
    # Then no protocol module that declares a catalogue or fact kind was
    # imported to read the fingerprints or rules it never uses
    from exposcan.protocols import PROTOCOLS

    declaring = {m for p in PROTOCOLS for m in p.declarations}
    assert declaring and loaded.isdisjoint(declaring), sorted(loaded & declaring)


def test_reading_the_whole_catalogue_imports_the_declarations() -> None:
    # Given the same start, then every kind read (a scan that probes)
    loaded = _top_level_modules(PORT_SCAN_ONLY.replace(".default_ports()", ".read_all()"))
    # Then the declaring modules are there: the check above is not vacuous
    assert "exposcan.protocols.http.fingerprints" in loaded
