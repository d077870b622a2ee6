"""The catalogue's files: where they are, their ``kind:`` line, and one
file read as a mapping, with errors of one line naming the file.

Apart from :mod:`exposcan.catalogue` (the kinds' pydantic models) because
a port scan reads its port list (:mod:`exposcan.portlist`) without them.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class CatalogueError(ValueError):
    pass


_KIND_LINE = re.compile(r"^kind:[ \t]*([A-Za-z0-9_-]+)[ \t]*(?:#.*)?$", re.MULTILINE)


def kind_line(path: Path) -> str | None:
    """The kind a file's top-level ``kind:`` line names, read without YAML."""
    try:
        found = _KIND_LINE.search(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    return found.group(1) if found else None


def catalogue_files(root: Path) -> list[Path]:
    """The catalogue's files under ``root``, in load order."""
    return sorted(root.rglob("*.yaml"))


def read_document(path: Path) -> dict[str, Any]:
    """One catalogue file as a mapping, or a :class:`CatalogueError` of one line."""
    try:
        with path.open(encoding="utf-8") as handle:
            # libyaml's safe loader when built in: the pure-Python one cost
            # 0.15-0.2 s of every scan's start (make bench).
            doc = yaml.load(handle, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {error_line(exc)}") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise CatalogueError(f"{path}: unreadable: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise CatalogueError(f"{path}: not a mapping")
    return doc


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _pydantic_error(error: Any) -> str:
    where = ".".join(str(x) for x in error.get("loc", ())) or "document"
    # A validator's own ValueError reads "Value error, <its message>".
    return f"{where}: {str(error.get('msg', '')).removeprefix('Value error, ')}"


def error_line(exc: BaseException) -> str:
    """An error as one line: pydantic and PyYAML explain over several."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors()
            return "; ".join(_pydantic_error(e) for e in items[:3]) + (
                "; ..." if len(items) > 3 else ""
            )
        except (TypeError, ValueError, AttributeError):
            pass
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split()) or type(exc).__name__


def catalogue_dir() -> Path:
    """``$EXPOSCAN_CATALOGUE``, else the catalogue shipped in the wheel
    (``exposcan/probes/``, package data), else the source tree's ``probes/``."""
    env = os.environ.get("EXPOSCAN_CATALOGUE")
    if env:
        return Path(env)
    shipped = resources.files("exposcan") / "probes"
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped
    source_tree = Path(__file__).resolve().parent.parent / "probes"
    if source_tree.is_dir():
        return source_tree
    raise CatalogueError(
        "catalogue not found: reinstall exposcan, or set EXPOSCAN_CATALOGUE to a probes/ folder"
    )
