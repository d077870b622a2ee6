"""Who may do what on the hub.

- A *site* (a practice's scanning machine) holds a token (``add-site``): it
  may add reports to its own site and nothing else; the token travels as
  ``Authorization: Bearer``. Only its SHA-256 is stored.
- *Staff* (the contractor's or the CERT's people) hold a password, stored as
  an Argon2id hash (argon2-cffi's defaults, RFC 9106's second recommended
  setting). They log in to the pages (a session cookie: ``Secure``,
  ``HttpOnly``, ``SameSite=Strict``, with a CSRF token on every form) or
  send HTTP Basic credentials to the API over HTTPS.

Failed logins are counted per client address and per user name: past
:data:`LOGIN_FAILURES` in :data:`LOGIN_WINDOW_S` the next try is refused
(HTTP 429) until the window has moved on, whatever the password. A wrong
password costs as much time as a right one (a dummy hash is verified for an
unknown user), so the answer's time tells nothing about which names exist.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from exposcan.hub.store import Store

LOGIN_FAILURES = 5
LOGIN_WINDOW_S = 300.0
#: How many addresses and names the limiter remembers (bounded memory).
MAX_TRACKED = 10_000
MAX_PASSWORD_CHARS = 1024
MIN_PASSWORD_CHARS = 12


class AuthError(ValueError):
    pass


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError:
        raise AuthError("staff passwords need argon2-cffi: pip install 'exposcan[hub]'") from None
    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"a password is at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AuthError(f"a password is at most {MAX_PASSWORD_CHARS} characters")
    return str(_hasher().hash(password))


def verify_password(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    if stored is None:
        stored = _dummy_hash()
        password = password + "\x00never"
    try:
        return bool(hasher.verify(stored, password[:MAX_PASSWORD_CHARS]))
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(str(_hasher().hash("exposcan hub: no such user")))
    return _DUMMY[0]


@dataclass
class LoginLimiter:
    """Failed logins per key (``ip:ADDRESS``, ``user:NAME``) in a sliding window."""

    failures: int = LOGIN_FAILURES
    window_s: float = LOGIN_WINDOW_S
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.get(key)
        if times is None:
            if len(self._seen) >= MAX_TRACKED:
                # Forget the key whose last failure is oldest.
                oldest = min(self._seen, key=lambda k: self._seen[k][-1] if self._seen[k] else 0)
                del self._seen[oldest]
            times = self._seen[key] = deque()
        while times and times[0] < now - self.window_s:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        return any(len(self._recent(k, now)) >= self.failures for k in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = text.partition(":")
    return (name, password) if sep else None


def bearer_token(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 256:
        return None
    return value


#: How long a verified HTTP Basic credential is remembered: an API client
#: (a Grafana data source, a DefectDojo import job) sends it with every
#: request, and Argon2 costs 50 ms of CPU on an idle core, over a second on a
#: busy one. A changed password takes effect within this time.
VERIFIED_TTL_S = 60.0
MAX_VERIFIED = 1000


@dataclass
class Staff:
    """Checks staff passwords without blocking the event loop (Argon2 costs
    tens of milliseconds of CPU by design)."""

    store: Store
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    #: keyed hash of (name, password) -> when it stops counting as verified.
    #: The key is random per process: the table holds nothing a password
    #: could be guessed from offline.
    _verified: dict[bytes, float] = field(default_factory=dict)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    async def check(self, name: str, password: str, client: str) -> str:
        """The user's name; :class:`AuthError` (``limited`` or refused) otherwise."""
        keys = (f"ip:{client}", f"user:{name[:128]}")
        if self.limiter.blocked(*keys):
            raise AuthError("limited")
        mark = hmac.new(self._key, f"{name}\x00{password}".encode(), "sha256").digest()
        now = time.monotonic()
        if self._verified.get(mark, 0.0) > now:
            return name
        row = await self.store.user(name[:128]) if name else None
        ok = await asyncio.to_thread(verify_password, row[1] if row else None, password)
        if not ok or row is None:
            self.limiter.failed(*keys)
            raise AuthError("refused")
        if len(self._verified) >= MAX_VERIFIED:
            self._verified = {k: t for k, t in self._verified.items() if t > now}
        if len(self._verified) < MAX_VERIFIED:
            self._verified[mark] = now + VERIFIED_TTL_S
        return name


def same_token(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
