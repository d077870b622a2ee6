"""Jobs and results signed with a key that Redis never holds.

Whoever can write to the queue (a neighbour on the Redis network, a leaked
Redis password) must neither make a worker scan what no front asked for, nor
answer a practice in the reflector's name.  The front signs each job and each
worker signs its result, with HMAC-SHA256 (RFC 2104) over the job's or the
result's canonical JSON, under a key that fronts and workers read from a file
(``--job-key``), never from Redis.  A signature binds the job id (arq's, the
Redis key of the result) and an expiry, so that a job copied under another
id, or a result moved to another job, is refused.  A worker still checks a
signed job against its own rules (``worker.py``): the key is one line of
defence, not the only one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from exposcan.reflector.tokens import TokenFileError, check_private

#: Bytes of key: as many as the hash's output (RFC 2104 §3).
KEY_BYTES = 32
_MAX_KEY_FILE = 4096


class SignatureError(ValueError):
    """Not signed with this reflector's key."""


def make_key(path: Path) -> None:
    """A new key file, mode 0600; an existing file is never overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")


def load_key(path: Path) -> bytes:
    """The key in ``path`` (hex, as ``make_key`` writes it)."""
    try:
        stat = path.stat()
        check_private(path, stat.st_mode)
        if stat.st_size > _MAX_KEY_FILE:
            raise TokenFileError(f"{path} is not a job key (too large)")
        text = path.read_text("ascii").strip()
    except OSError as exc:
        raise TokenFileError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"{path} is not a job key (hex)") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise TokenFileError(f"{path} is not a job key (hex)") from None
    if len(key) < KEY_BYTES:
        raise TokenFileError(f"{path}: a job key has at least {KEY_BYTES} bytes")
    return key


def _canonical(payload: dict[str, Any]) -> bytes:
    # allow_nan=False: a NaN or an infinity is no JSON, and never signed.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sign(key: bytes, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` under ``kind`` ("job" or "result"), with its signature."""
    mac = hmac.new(key, kind.encode() + b"\0" + _canonical(payload), hashlib.sha256)
    return {kind: payload, "sig": mac.hexdigest()}


def open_signed(key: bytes, kind: str, envelope: object) -> dict[str, Any]:
    """The payload of a signed ``envelope``; :class:`SignatureError` if it is
    not one this key signed."""
    if not isinstance(envelope, dict) or set(envelope) != {kind, "sig"}:
        raise SignatureError(f"not a signed {kind}")
    payload, sig = envelope[kind], envelope["sig"]
    if not isinstance(payload, dict) or not isinstance(sig, str):
        raise SignatureError(f"not a signed {kind}")
    try:
        expected = sign(key, kind, payload)["sig"]
    except (ValueError, TypeError):  # NaN, or not JSON at all
        raise SignatureError(f"not a signed {kind}") from None
    if not hmac.compare_digest(expected, sig):
        raise SignatureError(f"a {kind} not signed with this reflector's key")
    return payload
