"""Real receivers for notification tests: an SMTP server (aiosmtpd) and a
webhook (aiohttp), on 127.0.0.1 only. No mock: the mail and the POST cross
a real socket and are parsed by real servers."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MailBox:
    """What the SMTP server received: raw bytes and parsed messages."""

    raw: list[bytes] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    password: str | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(r, policy=email.policy.default)  # type: ignore[misc]
            for r in self.raw
        ]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((user, password))
        # handled=False: aiosmtpd itself answers 535 to a wrong password.
        return AuthResult(success=password == self.password, handled=False)


@contextmanager
def smtp_server(password: str | None = None, port: int = 0) -> Iterator[tuple[int, MailBox]]:
    """aiosmtpd on 127.0.0.1 in its own thread; with ``password``, AUTH is
    offered (and required) without TLS: loopback only, as in a local relay."""
    box = MailBox(password=password)
    kwargs: dict[str, Any] = {}
    if password is not None:
        # AUTH offered without TLS: deliberate, loopback only. (auth_required
        # would make aiosmtpd warn at each connection; the test checks the
        # login happened instead.)
        kwargs = {"authenticator": box.authenticate, "auth_require_tls": False}
    controller = Controller(box, hostname="127.0.0.1", port=port or free_port(), **kwargs)
    controller.start()
    try:
        yield controller.port, box
    finally:
        controller.stop()


@dataclass
class Hook:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)


@asynccontextmanager
async def webhook_server(status: int = 200, port: int = 0) -> AsyncIterator[tuple[int, Hook]]:
    """An aiohttp server on 127.0.0.1 taking JSON POSTs at /hook."""
    hook = Hook()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        hook.raw.append(body)
        hook.bodies.append(json.loads(body))
        if 300 <= status < 400:
            raise web.HTTPFound("/elsewhere")
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield bound, hook
    finally:
        await runner.cleanup()
