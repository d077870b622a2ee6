"""Typed facts: every fact a probe writes is of a declared kind, with
declared fields (read from the probes' source, so that a branch no test
reaches is checked too)."""

from __future__ import annotations

import ast
from pathlib import Path

from exposcan.catalogue import registered_kinds
from exposcan.facts import fact_kinds

ROOT = Path(__file__).resolve().parents[2] / "exposcan"


def _literal_fact_writes() -> list[tuple[str, str, list[str]]]:
    """(where, kind, keyword names) of every ``*.fact("kind", ...)`` call,
    and of ``imaging(...)``/``health_data(...)`` (which add ``service``)."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            names = [k.arg for k in node.keywords if k.arg is not None]
            where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
            attr = node.func.attr
            if attr == "fact" and node.args and isinstance(node.args[0], ast.Constant):
                found.append((where, str(node.args[0].value), names))
            elif attr in ("imaging", "health_data") and len(node.args) >= 3:
                kind = "imaging.service" if attr == "imaging" else "health-data.service"
                found.append((where, kind, ["service", *names]))
    return found


def test_every_fact_a_probe_writes_is_declared() -> None:
    # Given the declared fact kinds (loading the declarations registers them)
    registered_kinds()
    kinds = fact_kinds()
    writes = _literal_fact_writes()
    # When the probes' fact writes are read
    assert len(writes) > 20
    # Then each names a declared kind and only its fields
    wrong = [
        f"{where}: {kind}.{name}"
        for where, kind, names in writes
        for name in (names if kind in kinds else ["<unknown kind>"])
        if kind not in kinds or name not in kinds[kind].model_fields
    ]
    assert wrong == []


def test_the_reader_sees_a_misspelt_field(tmp_path: Path) -> None:
    # Given a call with a field no model has (the negative case)
    call = ast.parse('ctx.fact("smb.share", 445, "smb", shaer="x")').body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    registered_kinds()
    names = [k.arg for k in call.value.keywords]
    # Then the check above would name it
    assert [n for n in names if n not in fact_kinds()["smb.share"].model_fields] == ["shaer"]


def test_the_listing_evidence_is_a_declared_http_listing_fact() -> None:
    # Given the listing walk's evidence (written with ** in the HTTP probe,
    # which the source reader above cannot see into)
    from exposcan.facts import validate_fact
    from exposcan.protocols.http.listing import WalkResult

    evidence = WalkResult("nginx").evidence()
    # Then every key is a field of http.listing: the fact validates
    assert validate_fact("http.listing", {"tls": False, **evidence})


def test_no_probe_reads_a_default_catalogue() -> None:
    # Given the modules that gather facts (protocols) and the engine's own
    readers = [
        p
        for p in ROOT.rglob("*.py")
        if "protocols" in p.parts
        or p.name in ("engine.py", "probe.py", "imaging.py", "healthdata.py")
    ]
    # Then none reads the shipped catalogue by itself: the scan's is in ctx.catalogue
    assert [str(p) for p in readers if "default_catalogue" in p.read_text()] == []


def test_the_walk_counts_are_declared_share_and_zone_fields() -> None:
    # Given the counts both file walks report (SMB shares, FTP zones)
    from exposcan.facts import validate_fact
    from exposcan.walk import WalkCounts

    counts = WalkCounts(imaging_files=2, health_kinds={"hl7v2": 1}, cut_by=["time"]).evidence()
    # Then they validate as the fields of both facts, with the same names
    share = validate_fact("smb.share", {"share": "images", "session": "guest", **counts})
    zone = validate_fact("ftp.zone", {"anonymous": True, **counts})
    assert share["imaging_files"] == zone["imaging_files"] == 2
    assert share["truncated"] is zone["truncated"] is True
