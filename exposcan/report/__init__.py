"""Report writers: the format comes from the output file's extension."""

from __future__ import annotations

import os
from pathlib import Path

from exposcan.models import Report


class ReportFormatError(ValueError):
    pass


WRITERS = {".json"}


def check_output(path: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix == ".html":
        raise ReportFormatError(
            f"{path}: HTML reports are not available yet; write .json for now"
        )
    if suffix not in WRITERS:
        raise ReportFormatError(f"{path}: unknown report format {suffix or '(none)'}; use .json")


def write_report(report: Report, path: str) -> None:
    """Write with mode 0600: a report is personal-data-adjacent (it says where
    a practice's images are open), so only its owner reads it."""
    check_output(path)
    data = report.to_json().encode()
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
