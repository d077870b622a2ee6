"""UPnP IGD probe: placeholder until its issue lands."""

from __future__ import annotations

from exposcan.probe import NetworkContext, NetworkProbe


class UpnpProbe(NetworkProbe):
    name = "upnp"

    async def run(self, ctx: NetworkContext) -> None:
        return None
