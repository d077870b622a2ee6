"""Tokens, stored hashed.

A token is 32 random bytes (``secrets.token_urlsafe``): with that much
entropy a plain SHA-256 is enough to store it (no password stretching is
needed, as for GitHub's or PyPI's API tokens), and a stolen tokens file gives
no token.  Each line of the file: ``sha256:<hex> <label>``; ``#`` comments.
The file is read again when it changes, so that ``add-token`` needs no
restart.  A token is known to logs and counters only by its id: the first 12
hex digits of its hash.

A tokens file that its group or others may read (or write) is refused, as
ssh refuses such a private key: whoever can write it can add a token, and a
hash read by anyone is one less secret between the operator and a guess.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

PREFIX = "sha256:"
_LINE = re.compile(r"^sha256:([0-9a-f]{64})(?:\s+(\S.*))?$")
_LABEL = re.compile(r"^[A-Za-z0-9 ._@:/-]{0,64}$")
#: A tokens file is one line per client; anything larger is a mistake.
MAX_TOKENS_FILE_BYTES = 4 * 1024 * 1024


class TokenFileError(ValueError):
    pass


def check_private(path: Path, mode: int) -> None:
    """Refuse a secret file its group or others may read or write (ssh's
    rule for a private key: any of 0o077)."""
    if mode & 0o077:
        raise TokenFileError(
            f"{path} can be read or written by others (mode {mode & 0o777:04o}): chmod 600 {path}"
        )


@dataclass(frozen=True)
class TokenEntry:
    digest: bytes
    label: str

    @property
    def token_id(self) -> str:
        return self.digest.hex()[:12]


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse_tokens(text: str, where: str = "tokens file") -> list[TokenEntry]:
    entries: list[TokenEntry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            # The line is not quoted: it could be a token pasted by mistake.
            raise TokenFileError(f"{where} line {number}: not 'sha256:<64 hex> [label]'")
        entries.append(TokenEntry(bytes.fromhex(match.group(1)), match.group(2) or ""))
    return entries


class TokenStore:
    """The tokens file, read again when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._entries: list[TokenEntry] = []
        self._load()
        if not self._entries:
            raise TokenFileError(f"{path} holds no token: run 'exposcan reflector add-token'")

    def _load(self) -> None:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise TokenFileError(f"cannot read {self.path}: {exc.strerror}") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        check_private(self.path, stat.st_mode)
        if stat.st_size > MAX_TOKENS_FILE_BYTES:
            raise TokenFileError(f"{self.path} is larger than {MAX_TOKENS_FILE_BYTES} bytes")
        self._entries = parse_tokens(self.path.read_text("utf-8"), str(self.path))
        self._stamp = stamp

    def __len__(self) -> int:
        return len(self._entries)

    def verify(self, token: str) -> TokenEntry | None:
        """The entry of ``token``, or None.  Every entry is compared, in
        constant time each, so the time taken tells nothing about which."""
        # Keep the last good list: a half-written file must not lock everyone out.
        with contextlib.suppress(TokenFileError, OSError, UnicodeDecodeError):
            self._load()
        try:
            wanted = digest(token)
        except UnicodeEncodeError:  # a header aiohttp decoded with surrogates
            return None
        found: TokenEntry | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, wanted):
                found = entry
        return found


def add_token(path: Path, label: str = "") -> tuple[str, TokenEntry]:
    """Make a token, append its hash to ``path`` (created mode 0600), and
    return the token: shown once, never stored."""
    if not _LABEL.match(label):
        raise TokenFileError("a label is at most 64 letters, digits, spaces or ._@:/-")
    if path.exists():
        parse_tokens(path.read_text("utf-8"), str(path))  # refuse to append to a broken file
    token = secrets.token_urlsafe(32)
    return token, append_token(path, token, label)


def append_token(path: Path, token: str, label: str = "") -> TokenEntry:
    """Append the hash of a token made elsewhere (a hub site's, so that one
    token serves a practice for both) to ``path`` (created mode 0600)."""
    if not _LABEL.match(label):
        raise TokenFileError("a label is at most 64 letters, digits, spaces or ._@:/-")
    if path.exists():
        parse_tokens(path.read_text("utf-8"), str(path))  # refuse to append to a broken file
    entry = TokenEntry(digest(token), label.strip())
    line = f"{PREFIX}{entry.digest.hex()}" + (f" {entry.label}" if entry.label else "") + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line)
    return entry
