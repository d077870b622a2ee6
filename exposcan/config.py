"""What one scan was asked to do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, TypeVar

from exposcan.limits import Deadlines
from exposcan.models import Vantage
from exposcan.protocols import default_options


class ProtocolOptions(Protocol):
    """A protocol's options type (``exposcan/protocols/<name>/options.py``):
    a frozen dataclass whose fields all have defaults, named by its
    registry entry."""

    protocol: ClassVar[str]


OptionsT = TypeVar("OptionsT", bound=ProtocolOptions)


@dataclass(frozen=True)
class ScanConfig:
    ports: list[int]
    ports_spec: str
    vantage: Vantage = Vantage.LAN
    deadlines: Deadlines = field(default_factory=Deadlines)
    # Port scan: a connect() per port; how long before "filtered".
    scan_timeout: float = 1.0
    # "syn" (raw packets, root), "connect" (any user), "auto": syn when allowed.
    scan_type: str = "auto"
    concurrency: int = 500
    per_host: int = 2
    rate: float = 0.0
    discovery: bool = True
    # A no-target LAN scan: also the IPv6 neighbours of the connected
    # networks (exposcan.net.ndp), their global addresses scanned too.
    neighbour_discovery: bool = False
    intrusive: bool = False
    # Addresses never touched, not even by follow-up scans (a box forward's
    # internal target) or the box's IGD look-up.
    excluded: frozenset[str] = frozenset()
    # Targets named on the command line are the scope (one host
    # named, 20 others reported through the box's forwards): the box and the
    # hosts behind its forwards are looked at only if they are in it, or
    # with follow_box. None: no named targets (the no-target scan's own
    # networks), nothing restricted.
    scope: frozenset[str] | None = None
    follow_box: bool = False
    verbose: int = 0
    # Each protocol's own options, keyed by protocol name (the registry's
    # entries name their types); a protocol left out has its defaults.
    options: Mapping[str, object] = field(default_factory=default_options)

    def in_scope(self, address: str) -> bool:
        """May this scan look at ``address`` beyond its named targets (a box,
        a forward's internal host)?"""
        if address in self.excluded:
            return False
        return self.scope is None or self.follow_box or address in self.scope

    def options_for(self, kind: type[OptionsT]) -> OptionsT:
        """The options of ``kind``'s protocol: those given, else its defaults."""
        given = self.options.get(kind.protocol)
        if given is None:
            return kind()
        if not isinstance(given, kind):
            raise TypeError(
                f"options[{kind.protocol!r}] is a {type(given).__name__}, not a {kind.__name__}"
            )
        return given
