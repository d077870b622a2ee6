"""The port list (catalogue kind ``ports``), as a port scan reads it: the
default practice ports, and the protocol guessed for an open port.

Why a reader of its own: a port scan (``scan --no-probes``) needs nothing
else of the catalogue, and the catalogue's pydantic models cost 0.15-0.2 s
of its start-up (``python -X importtime``, on a run whose whole SYN sweep of
65,535 ports takes 0.3-0.4 s).  The same files are validated by the
catalogue's :class:`exposcan.catalogue.PortList` in ``catalogue check`` and
in every scan that probes; the checks here are that model's (a port 1-65535,
a protocol, ``tls`` and ``default`` true or false, no other field), and a
test holds both readers to the same answers, shipped file and broken ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exposcan.catalogue_files import (
    CatalogueError,
    catalogue_dir,
    catalogue_files,
    kind_line,
    read_document,
)

_FIELDS = {"port", "protocol", "tls", "label", "default"}


@dataclass(frozen=True)
class PortGuess:
    port: int
    protocol: str
    tls: bool = False
    label: str = ""
    default: bool = True


def _entry(path: Path, index: int, raw: Any) -> PortGuess:
    where = f"{path}: ports.{index}"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: not a mapping")
    extra = sorted(set(map(str, raw)) - _FIELDS)
    if extra:
        raise CatalogueError(f"{where}.{extra[0]}: Extra inputs are not permitted")
    port, protocol = raw.get("port"), raw.get("protocol")
    if type(port) is not int or not 1 <= port <= 65535:
        raise CatalogueError(f"{where}.port: a port number 1-65535")
    if not isinstance(protocol, str):
        raise CatalogueError(f"{where}.protocol: a string")
    label = raw.get("label", "")
    if not isinstance(label, str):
        raise CatalogueError(f"{where}.label: a string")
    flags = {}
    for name in ("tls", "default"):
        value = raw.get(name, name == "default")
        if type(value) is not bool:
            raise CatalogueError(f"{where}.{name}: true or false")
        flags[name] = value
    return PortGuess(port, protocol, flags["tls"], label, flags["default"])


def read_port_list(root: Path | None = None) -> dict[int, PortGuess]:
    """Every ``kind: ports`` file under ``root`` (the catalogue's folder by
    default), in the catalogue's load order: a later entry for a port
    replaces an earlier one, as :attr:`exposcan.catalogue.Catalogue.ports`
    does."""
    root = root or catalogue_dir()
    guesses: dict[int, PortGuess] = {}
    for path in catalogue_files(root):
        if kind_line(path) != "ports":
            continue
        doc = read_document(path)
        extra = sorted(set(map(str, doc)) - {"kind", "ports"})
        if extra:
            raise CatalogueError(f"{path}: {extra[0]}: Extra inputs are not permitted")
        entries = doc.get("ports")
        if not isinstance(entries, list):
            raise CatalogueError(f"{path}: ports: a list")
        for index, raw in enumerate(entries):
            entry = _entry(path, index, raw)
            guesses[entry.port] = entry
    return guesses


def default_ports(guesses: dict[int, PortGuess]) -> list[int]:
    """The ports a LAN scan sweeps when none are named."""
    return sorted(p for p, e in guesses.items() if e.default)
