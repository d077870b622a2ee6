"""What one scan was asked to do."""

from __future__ import annotations

from dataclasses import dataclass, field

from exposcan.limits import Deadlines
from exposcan.models import Vantage


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
    calling_ae: str = "EXPOSCAN"
    max_ae_guesses: int = 10
    # How long a DICOM node may take to answer an A-ASSOCIATE-RQ: the
    # requestor's ARTIM timer (PS3.8 §9.1.4), 30 s as dcmtk's and pynetdicom's
    # ACSE timeouts. dcmtk-based servers (storescp, dcmqrscp, Horos) look the
    # caller's name up first: 5-50 s where the practice's DNS drops queries.
    association_timeout: float = 30.0
    find_cap: int = 50
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
    extra: dict[str, str] = field(default_factory=dict)

    def in_scope(self, address: str) -> bool:
        """May this scan look at ``address`` beyond its named targets (a box,
        a forward's internal host)?"""
        if address in self.excluded:
            return False
        return self.scope is None or self.follow_box or address in self.scope


def extra_count(extra: dict[str, str], key: str, default: int) -> int:
    """A non-negative whole number from ``ScanConfig.extra`` (a walk's depth,
    entries, samples...); the default when it is absent or not a number."""
    try:
        return max(0, int(extra.get(key, default)))
    except ValueError:
        return default
