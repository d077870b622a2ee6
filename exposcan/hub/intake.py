"""What the hub accepts from a site: one ``exposcan.report/1`` report.

The upload is read up to a size cap, parsed as JSON, validated against the
checked-in JSON Schema (``exposcan/schema/report.schema.json``, the contract
audits rely on) and then by the report's own model. Anything else is refused
with a one-line reason and nothing is stored. The verdicts the dashboard
shows are decided here, once, with the same code as the report's first
screen (:func:`exposcan.verdict.decide`).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

from exposcan.hub.store import Verdicts
from exposcan.models import SCHEMA_ID, Report
from exposcan.verdict import InternetAnswer, decide

#: A LAN scan of a /24 with every finding is a few hundred KiB; a report
#: larger than this is not one exposcan wrote.
MAX_REPORT_BYTES = 8 * 1024 * 1024
#: How deep a JSON document may nest before it is refused unparsed (the
#: report's own shape is 6 levels deep).
MAX_DEPTH = 32


class RefusedReport(ValueError):
    """The upload is not a report this hub stores; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@cache
def _validator() -> Any:
    import jsonschema

    text = resources.files("exposcan.schema").joinpath("report.schema.json").read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _nesting(doc: object, depth: int = 0) -> int:
    """How deep ``doc`` nests, stopping as soon as it is past the cap."""
    if depth > MAX_DEPTH or not isinstance(doc, dict | list):
        return depth
    items = doc.values() if isinstance(doc, dict) else doc
    return max((_nesting(item, depth + 1) for item in items), default=depth + 1)


def parse_report(raw: bytes) -> tuple[Report, str, str]:
    """The report, its text as stored, and its digest (what a replay repeats)."""
    if len(raw) > MAX_REPORT_BYTES:
        raise RefusedReport(f"the report is larger than {MAX_REPORT_BYTES} bytes", 413)
    try:
        doc = json.loads(raw)
    except RecursionError:
        # The C parser stops at the interpreter's recursion limit (1,000).
        raise RefusedReport("the JSON nests too deep") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RefusedReport(f"not JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    if _nesting(doc) > MAX_DEPTH:
        raise RefusedReport(f"the JSON nests deeper than {MAX_DEPTH} levels")
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_ID:
        raise RefusedReport(f"not an {SCHEMA_ID} report (its 'schema' field)")
    error = next(iter(_validator().iter_errors(doc)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        # The message quotes the offending value: cut short, one line.
        message = " ".join(str(error.message).split())[:160]
        raise RefusedReport(f"not a valid {SCHEMA_ID} report at {where}: {message}")
    try:
        report = Report.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"])
        raise RefusedReport(f"not a valid {SCHEMA_ID} report at {where}: {first['msg']}") from None
    body = report.to_json()
    return report, body, hashlib.sha256(body.encode("utf-8")).hexdigest()


_INTERNET = {
    InternetAnswer.PROVEN: "yes",
    InternetAnswer.FORWARD: "yes",
    InternetAnswer.LOOPBACK: "yes",
    InternetAnswer.NONE: "no",
    # Forwards behind carrier-grade NAT are unreachable over IPv4, yet the
    # report cannot rule IPv6 out: not known, as a LAN scan without a view.
    InternetAnswer.CGNAT: "unknown",
    InternetAnswer.UNKNOWN: "unknown",
}


def verdicts(report: Report) -> Verdicts:
    verdict = decide(report)
    return Verdicts(internet=_INTERNET[verdict.internet], lan=verdict.lan.value)
