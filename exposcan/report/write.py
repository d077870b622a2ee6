"""Report writers: the format comes from the output file's extension."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exposcan.catalogue import Catalogue
    from exposcan.models import Report


class ReportFormatError(ValueError):
    pass


WRITERS = {".json", ".html"}


def check_output(path: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        raise ReportFormatError(
            f"{path}: unknown report format {suffix or '(none)'}; use .json or .html"
        )


def render(
    report: Report, path: str, lang: str | None = None, catalogue: Catalogue | None = None
) -> bytes:
    """The bytes of the report in the format ``path``'s extension names
    (an HTML report's words from ``catalogue``, the scan's)."""
    check_output(path)
    if Path(path).suffix.lower() == ".html":
        from exposcan.report.html import render_html  # jinja2 only when asked

        return render_html(report, lang, catalogue).encode()
    return report.to_json().encode()


def write_report(
    report: Report, path: str, lang: str | None = None, catalogue: Catalogue | None = None
) -> None:
    """Write with mode 0600: a report is personal-data-adjacent (it says where
    a practice's images are open), so only its owner reads it. ``lang``
    (en/fr, default: the locale's) is the language of an HTML report."""
    _write_private(path, render(report, path, lang, catalogue))


def write_document(report: dict[str, Any], path: str) -> None:
    """A JSON report written from its document (a port scan's), as
    :func:`write_report` writes the model's: the same bytes, mode 0600."""
    if Path(path).suffix.lower() != ".json":
        raise ReportFormatError(f"{path}: a report document is written as .json only")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    _write_private(path, text.encode())


def _write_private(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
