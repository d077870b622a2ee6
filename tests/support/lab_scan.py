"""One lab scan's result, as the lab tests read it: the JSON report, what
the CLI printed, how long it took, and what the lab's stores held before
and after (a scan must leave them as they were)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import findings_at, service_at


@dataclass
class LabScan:
    report: dict[str, Any]
    stdout: str
    stderr: str
    seconds: float
    returncode: int = 0
    #: What the lab's store under test held before and after the scan
    #: (Orthanc's instance count, a share's files), compared by the tests.
    before: Any = None
    after: Any = None
    #: Files a lab receiver got during the scan (a C-STORE SCP): none, ever.
    stored: list[Path] = field(default_factory=list)

    def findings(self, host: object, port: int) -> dict[str, dict[str, Any]]:
        """rule -> evidence of the findings on ``host``:``port``."""
        return findings_at(self.report, host, port)

    def service(self, host: object, port: int) -> dict[str, Any]:
        return service_at(self.report, host, port)

    def errors(self, host: object, port: int) -> list[dict[str, Any]]:
        return [e for e in self.report["errors"] if e["host"] == str(host) and e["port"] == port]
