"""Offline advisory import: NVD CVE JSON 2.0 and CISA's KEV CSV, files a user
downloaded, into advisory YAML files of the catalogue (kind ``advisory``).

- NVD CVE API 2.0 answers and feeds (``{"vulnerabilities": [{"cve": ...}]}``):
  each vulnerable ``cpeMatch`` of a product the catalogue names
  (``probes/products.yaml``) becomes one advisory: the CVE id, its English
  description's first sentence, the version bounds (``versionStartIncluding``
  ... ``versionEndExcluding``, or the criteria's own version), the CVSS
  score (v3.1, else v3.0, v4.0, v2; NVD's primary one first), the
  ``cisaExploitAdd`` flag, and the NVD page and references as sources.
- KEV (``known_exploited_vulnerabilities.csv``, column ``cveID``): marks
  ``known_exploited`` on the advisories of the same run and on those already
  in the output folder that cover a listed CVE.

Nothing goes to the network.  A match with no upper bound ("every version")
is not imported (a catalogue range needs an end), and is counted.  Every
file written is validated by the catalogue's own model first.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exposcan.catalogue import Catalogue
from exposcan.software.advisories import Advisory, release
from exposcan.software.products import cpe_prefix_of, products

#: An NVD yearly feed is about 100 MB; more than this is not what we expect.
MAX_INPUT = 1 << 30
_CVSS_KEYS = ("cvssMetricV31", "cvssMetricV30", "cvssMetricV40", "cvssMetricV2")
_HEADER = (
    "# Imported by `exposcan catalogue import-advisories` from {source}.\n"
    "# A new import overwrites this file; fix the source or add a hand-written\n"
    "# advisory elsewhere under probes/advisories/ instead.\n"
)


class AdvisoryImportError(ValueError):
    """A file that is neither NVD CVE JSON 2.0 nor a KEV CSV."""


@dataclass
class ImportResult:
    written: list[Path] = field(default_factory=list)
    marked_exploited: list[Path] = field(default_factory=list)
    cves_read: int = 0
    skipped_unknown_product: int = 0
    skipped_unbounded: int = 0
    kev_cves: int = 0


def _read(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_INPUT:
        raise AdvisoryImportError(
            f"{path}: {size} bytes, more than {MAX_INPUT} (not an NVD or KEV file?)"
        )
    return path.read_text(encoding="utf-8-sig")


def _kind(text: str) -> str:
    head = text.lstrip()[:1]
    if head == "{":
        return "nvd"
    first = text.splitlines()[0] if text else ""
    if "cveID" in first:
        return "kev"
    raise AdvisoryImportError("neither NVD CVE JSON 2.0 nor CISA's KEV CSV")


def _cvss(metrics: dict[str, Any]) -> dict[str, Any] | None:
    for key in _CVSS_KEYS:
        entries = metrics.get(key) or []
        entries = sorted(entries, key=lambda e: e.get("type") != "Primary")
        for entry in entries:
            data = entry.get("cvssData") or {}
            score, version = data.get("baseScore"), str(data.get("version", ""))
            if isinstance(score, int | float) and version in ("2.0", "3.0", "3.1", "4.0"):
                out: dict[str, Any] = {"version": version, "score": float(score)}
                if data.get("vectorString"):
                    out["vector"] = str(data["vectorString"])
                return out
    return None


def _title(cve: dict[str, Any]) -> str:
    for d in cve.get("descriptions") or []:
        if d.get("lang") == "en" and d.get("value"):
            text = " ".join(str(d["value"]).split())
            first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
            return first[:200]
    return str(cve.get("id"))


def _range(match: dict[str, Any]) -> dict[str, str] | None:
    """The catalogue range of one cpeMatch, or None when it has no upper bound."""
    parts = str(match.get("criteria", "")).split(":")
    exact = parts[5] if len(parts) > 5 else "*"
    if exact not in ("*", "-", ""):
        exact = exact.replace("\\", "")
        return {"start_including": exact, "end_including": exact} if release(exact) else None
    out = {
        name: str(match[key])
        for key, name in (
            ("versionStartIncluding", "start_including"),
            ("versionStartExcluding", "start_excluding"),
            ("versionEndIncluding", "end_including"),
            ("versionEndExcluding", "end_excluding"),
        )
        if match.get(key)
    }
    if "end_including" not in out and "end_excluding" not in out:
        return None
    if any(release(v) is None for v in out.values()):
        return None
    return out


def _matches(cve: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for config in cve.get("configurations") or []:
        for node in config.get("nodes") or []:
            if node.get("negate"):
                continue
            found += [m for m in node.get("cpeMatch") or [] if m.get("vulnerable")]
    return found


def _advisories(cve: dict[str, Any], known: set[str], result: ImportResult) -> list[dict[str, Any]]:
    cve_id = str(cve.get("id", ""))
    by_prefix: dict[str, list[dict[str, str]]] = {}
    unknown = True
    for match in _matches(cve):
        prefix = cpe_prefix_of(str(match.get("criteria", "")))
        if prefix is None or prefix not in known:
            continue
        unknown = False
        rng = _range(match)
        if rng is None:
            result.skipped_unbounded += 1
            continue
        by_prefix.setdefault(prefix, []).append(rng)
    if unknown:
        result.skipped_unknown_product += 1
    docs = []
    for prefix, ranges in sorted(by_prefix.items()):
        ends = [r["end_excluding"] for r in ranges if "end_excluding" in r]
        doc: dict[str, Any] = {
            "kind": "advisory",
            "id": cve_id if len(by_prefix) == 1 else f"{cve_id}:{prefix.split(':')[4]}",
            "title": _title(cve),
            "cves": [cve_id],
            "cpe": prefix,
            "affected": ranges,
        }
        if ends:
            doc["fixed"] = max(ends, key=_release_key)
        cvss = _cvss(cve.get("metrics") or {})
        if cvss:
            doc["cvss"] = cvss
        doc["known_exploited"] = bool(cve.get("cisaExploitAdd"))
        refs = [str(r.get("url")) for r in cve.get("references") or []]
        https = [u for u in refs if u.startswith("https://")]
        doc["sources"] = [f"https://nvd.nist.gov/vuln/detail/{cve_id}", *https[:5]]
        docs.append(doc)
    return docs


def _release_key(version: str) -> tuple[int, ...]:
    have = release(version)
    return have.release if have is not None else ()


def _kev_ids(text: str) -> set[str]:
    reader = csv.DictReader(io.StringIO(text))
    return {row["cveID"].strip() for row in reader if row.get("cveID")}


def _file_name(doc: dict[str, Any]) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(doc["id"])) + ".yaml"


def _dump(doc: dict[str, Any], source: str) -> str:
    return _HEADER.format(source=source) + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, width=100
    )


def import_advisories(catalogue: Catalogue, files: list[Path], out: Path) -> ImportResult:
    """Write the advisories ``files`` hold into ``out`` (one file each, in a
    folder per product); raises :class:`AdvisoryImportError` for a file of
    neither format, ``ValueError`` for an advisory the catalogue would refuse."""
    known = {p.cpe_prefix for p in catalogue.derived(products).values() if p.cpe_prefix}
    result = ImportResult()
    pending: list[tuple[dict[str, Any], str]] = []
    kev: set[str] = set()
    for path in files:
        text = _read(path)
        try:
            kind = _kind(text)
        except AdvisoryImportError as exc:
            raise AdvisoryImportError(f"{path}: {exc}") from None
        if kind == "kev":
            kev |= _kev_ids(text)
            continue
        try:
            feed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AdvisoryImportError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
        items = feed.get("vulnerabilities") if isinstance(feed, dict) else None
        if not isinstance(items, list):
            raise AdvisoryImportError(f"{path}: no 'vulnerabilities' list (NVD CVE JSON 2.0)")
        for item in items:
            cve = item.get("cve") if isinstance(item, dict) else None
            if not isinstance(cve, dict):
                continue
            result.cves_read += 1
            pending += [
                (doc, f"NVD CVE JSON 2.0 ({path.name})") for doc in _advisories(cve, known, result)
            ]
    result.kev_cves = len(kev)
    for doc, source in pending:
        if kev & set(doc["cves"]):
            doc["known_exploited"] = True
        body = {k: v for k, v in doc.items() if k != "kind"}
        Advisory.model_validate(body)  # what the catalogue will check at load
        folder = out / str(doc["cpe"]).split(":")[3] / str(doc["cpe"]).split(":")[4]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / _file_name(doc)
        target.write_text(_dump(doc, source), encoding="utf-8")
        result.written.append(target)
    if kev and out.is_dir():
        result.marked_exploited = _mark_known_exploited(out, kev, set(result.written))
    return result


def _mark_known_exploited(out: Path, kev: set[str], fresh: set[Path]) -> list[Path]:
    """Set ``known_exploited`` on earlier imports in ``out`` that KEV lists."""
    marked = []
    for path in sorted(out.rglob("*.yaml")):
        if path in fresh:
            continue
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
        if not isinstance(doc, dict) or doc.get("kind") != "advisory" or doc.get("known_exploited"):
            continue
        if kev & set(doc.get("cves") or []):
            doc["known_exploited"] = True
            header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
            path.write_text(
                header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
            )
            marked.append(path)
    return marked
