"""Start-up (issue 14): what every scan loads imports none of the heavy
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
default_catalogue()
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
