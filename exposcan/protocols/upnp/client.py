"""Talking to an IGD: fetch its description, call two read-only SOAP actions.

Why not async-upnp-client: its device factory fetches every service's SCPD
(more requests to a fragile box, more URLs an attacker controls) and its
aiohttp requester reads whole bodies without a cap.  Two actions need only a
small envelope, so this is aiohttp + defusedxml, bounded throughout: one
connection at a time (``Limits.connection``), connect/read/total deadlines,
capped bodies, no redirects, and only URLs on the box's own address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from exposcan.limits import Deadlines, Limits
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError, classify
from exposcan.protocols.upnp.xml import (
    ARRAY_INDEX_INVALID,
    FirewallStatus,
    IgdDescription,
    PortMapping,
    UpnpFault,
    WanService,
    external_ip,
    firewall_status,
    parse_action_response,
    parse_description,
    parse_fault,
    parse_mapping,
    soap_envelope,
)

# aiohttp is imported where a request is made, not here: the engine loads
# the network probes before the scan starts, and aiohttp's import (a third
# of a second) would delay the SSDP search (start-up).
if TYPE_CHECKING:
    import aiohttp

DESCRIPTION_CAP = 128 * 1024  # a Fritz!Box igddesc.xml is ~10 KiB
SOAP_CAP = 16 * 1024
# Beyond this a box is either broken or hostile; the report says it was capped.
MAX_MAPPINGS = 256
USER_AGENT = "exposcan (UPnP IGD read-only check)"


class HttpStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class IgdClient:
    """HTTP to one box, one request at a time."""

    def __init__(self, box: str, limits: Limits, deadlines: Deadlines) -> None:
        self.box = box
        self.limits = limits
        self.deadlines = deadlines
        self._session: aiohttp.ClientSession | None = None
        self.bad_entries = 0  # mapping entries we could not read

    async def __aenter__(self) -> IgdClient:
        from exposcan.net.web import bounded_session

        self._session = bounded_session(self.deadlines, USER_AGENT)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname != self.box:
            # A description may name any host in URLBase or a controlURL.
            raise ProbeError(ErrorReason.PROTOCOL, "IGD URL names another host: not followed")

    async def _request(
        self,
        method: str,
        url: str,
        cap: int,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        import aiohttp

        from exposcan.net.web import read_capped

        self._check_url(url)
        assert self._session is not None
        try:
            async with (
                self.limits.connection(self.box),
                self._session.request(
                    method, url, data=body, headers=headers, allow_redirects=False
                ) as resp,
            ):
                body, _ = await read_capped(resp, cap)
                return resp.status, body
        except ProbeError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise _probe_error(exc) from None

    async def description(self, url: str) -> IgdDescription:
        status, body = await self._request("GET", url, DESCRIPTION_CAP)
        if status != 200:
            raise HttpStatus(status)
        return parse_description(body, url)

    async def call(
        self, service: WanService, action: str, arguments: dict[str, str] | None = None
    ) -> dict[str, str]:
        """One SOAP action; a UPnPError becomes :class:`UpnpFault`."""
        status, body = await self._request(
            "POST",
            service.control_url,
            SOAP_CAP,
            body=soap_envelope(service.service_type, action, arguments or {}),
            headers={
                "Content-Type": 'text/xml; charset="utf-8"',
                "SOAPAction": f'"{service.service_type}#{action}"',
            },
        )
        if status == 200:
            return parse_action_response(body, action)
        if status == 500:  # UDA 1.1 §3.2.2: faults come as 500 with a UPnPError
            raise parse_fault(body)
        raise HttpStatus(status)

    async def external_ip(self, service: WanService) -> str | None:
        return external_ip(await self.call(service, "GetExternalIPAddress"))

    async def firewall_status(self, service: WanService) -> FirewallStatus:
        """Read-only: the box's own word on its IPv6 firewall."""
        return firewall_status(await self.call(service, "GetFirewallStatus"))

    async def mappings(
        self, service: WanService, cap: int = MAX_MAPPINGS
    ) -> AsyncIterator[PortMapping]:
        """Every forward, by index until error 713 (WANIPConnection:2 §2.4.14),
        at most ``cap``; the caller learns of the cap by counting."""
        for index in range(cap):
            try:
                values = await self.call(
                    service, "GetGenericPortMappingEntry", {"NewPortMappingIndex": str(index)}
                )
            except UpnpFault as fault:
                if fault.code == ARRAY_INDEX_INVALID:
                    return
                # 606 Action not authorized: some boxes keep the list to
                # themselves; anything else is a box we do not understand.
                raise ProbeError(
                    ErrorReason.PROTOCOL,
                    f"GetGenericPortMappingEntry {index}: UPnPError {fault.code}",
                ) from None
            try:
                mapping = parse_mapping(values)
            except ValueError:
                self.bad_entries += 1
                continue
            yield mapping


def _probe_error(exc: BaseException) -> ProbeError:
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProbeError(classify(exc.os_error), f"connect: {type(exc.os_error).__name__}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ProbeError(ErrorReason.TIMEOUT, "IGD did not answer in time")
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return ProbeError(ErrorReason.PROTOCOL, type(exc).__name__)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ProbeError(ErrorReason.RESET, "IGD closed the connection")
    if isinstance(exc, aiohttp.ClientOSError):
        return ProbeError(classify(exc), type(exc).__name__)
    return ProbeError(classify(exc), type(exc).__name__)
