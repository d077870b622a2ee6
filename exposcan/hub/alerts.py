"""The hub's alerts: a new critical finding at a site, a site gone stale.

Sent through the scan's own notifier (``exposcan.audit.notify``: JSON
webhooks, SMTP), best effort and bounded; a failed delivery is logged, never
fatal. What an alert holds is what a scan's notification holds: the site's
name, counts, and of each new finding its rule, severity, host, port,
protocol and title; never evidence.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from exposcan.audit.notify.alert import finding_brief
from exposcan.audit.notify.deliver import Target, deliver_message
from exposcan.hub.store import Store, now_utc
from exposcan.models import Finding, Severity

log = logging.getLogger("exposcan.hub")

HUB_ALERT_SCHEMA = "exposcan.hub.alert/1"


@dataclass
class Alerts:
    targets: list[Target]
    stale_days: int = 7
    #: Deliveries in flight (kept so that none is collected unfinished).
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    sent: int = 0

    def new_critical(self, site: str, new: list[Finding], finished: str) -> None:
        critical = [f for f in new if f.severity is Severity.CRITICAL]
        if not critical or not self.targets:
            return
        subject = f"NEW CRITICAL at {site}: {len(critical)} finding(s)"
        lines = [f"The report of {site} made {finished} holds new critical findings:", ""]
        lines += [
            f"  {f.host}{'' if f.port is None else f':{f.port}'}  {f.title} [{f.rule}]"
            for f in critical
        ]
        payload: dict[str, object] = {
            "schema": HUB_ALERT_SCHEMA,
            "kind": "new-critical",
            "site": site,
            "report_finished": finished,
            "summary": subject,
            "new_findings": [finding_brief(f) for f in critical],
        }
        self._send(subject, "\n".join(lines) + "\n", payload)

    async def check_stale(self, store: Store) -> list[str]:
        """Alert once for each site whose last report is older than ``stale_days``."""
        sites = await store.stale_to_alert(now_utc() - timedelta(days=self.stale_days))
        if sites and self.targets:
            subject = f"{len(sites)} site(s) sent no report for {self.stale_days} days"
            text = subject + ":\n\n" + "".join(f"  {s}\n" for s in sites)
            payload: dict[str, object] = {
                "schema": HUB_ALERT_SCHEMA,
                "kind": "stale",
                "sites": sites,
                "stale_days": self.stale_days,
                "summary": subject,
            }
            self._send(subject, text, payload)
        return sites

    def _send(self, subject: str, text: str, payload: dict[str, object]) -> None:
        async def go() -> None:
            for d in await deliver_message(self.targets, subject, text, payload):
                if d.ok:
                    self.sent += 1
                    log.info("alert sent to %s: %s", d.label, payload["kind"])
                else:
                    log.warning("alert to %s failed: %s", d.label, d.error)

        task = asyncio.get_running_loop().create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
