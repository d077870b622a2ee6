"""``/metrics``: the fleet for Prometheus (text exposition format 0.0.4).

Counts only: sites by verdict, stale sites, reports received. A site's name
is no label (a label per practice would grow the series with the fleet and
name the practices to whoever reads the metrics).
"""

from __future__ import annotations

from collections import Counter

from exposcan.hub.store import SiteRow

VERDICTS = ("yes", "no", "unknown")


def render(sites: list[SiteRow], stale_cutoff: str, reports_received: int, stale_days: int) -> str:
    internet: Counter[str] = Counter()
    lan: Counter[str] = Counter()
    for site in sites:
        internet[site.last.internet if site.last else "unknown"] += 1
        lan[site.last.lan if site.last else "unknown"] += 1
    stale = sum(1 for s in sites if s.stale(stale_cutoff))
    lines = [
        "# HELP exposcan_hub_sites Sites by the verdict of their newest report.",
        "# TYPE exposcan_hub_sites gauge",
    ]
    for question, counts in (("internet", internet), ("lan", lan)):
        for answer in VERDICTS:
            lines.append(
                f'exposcan_hub_sites{{question="{question}",answer="{answer}"}} {counts[answer]}'
            )
    lines += [
        f"# HELP exposcan_hub_stale_sites Sites with no report for {stale_days} days.",
        "# TYPE exposcan_hub_stale_sites gauge",
        f"exposcan_hub_stale_sites {stale}",
        "# HELP exposcan_hub_reports_received_total Reports stored since the hub began.",
        "# TYPE exposcan_hub_reports_received_total counter",
        f"exposcan_hub_reports_received_total {reports_received}",
    ]
    return "\n".join(lines) + "\n"
