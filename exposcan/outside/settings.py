"""Where the outside view's settings come from, for a person and for cron.

Precedence: the command line (``--outside URL``, ``--outside-ca``,
``--outside-pin``), then the environment (``EXPOSCAN_OUTSIDE``,
``EXPOSCAN_OUTSIDE_CA``, ``EXPOSCAN_OUTSIDE_PIN``), then the ``[outside]``
table of the config file (``$EXPOSCAN_CONFIG``, else
``$XDG_CONFIG_HOME/exposcan/config.toml``, else
``~/.config/exposcan/config.toml``)::

    [outside]
    url = "https://reflector.example:8443/"
    token_file = "/etc/exposcan/reflector.token"
    ca_file = "/etc/exposcan/reflector-ca.pem"     # a self-hosted reflector
    pin_sha256 = "..."                             # or its pinned certificate
    public_address = "203.0.113.1"                 # the practice's, if known

The token is a credential: it comes only from a file (``token_file``, or
``$EXPOSCAN_OUTSIDE_TOKEN_FILE``) or from ``$EXPOSCAN_OUTSIDE_TOKEN``, never
from the command line (other users see argv in ``ps``) nor inline in the
config file (often world-readable). It is never printed.

``public_address`` (``--outside-public``, ``$EXPOSCAN_OUTSIDE_PUBLIC``) is
the practice's public IPv4 address as the user knows it: a witness for the
NAT loopback check (``exposcan.outside.address``), read even when no
reflector is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import urlsplit

from exposcan.config_file import ENV_CONFIG, config_path, read_table
from exposcan.reflector.client import ReflectorError, load_token

ENV_URL = "EXPOSCAN_OUTSIDE"
ENV_TOKEN = "EXPOSCAN_OUTSIDE_TOKEN"  # noqa: S105 (the variable's name)
ENV_TOKEN_FILE = "EXPOSCAN_OUTSIDE_TOKEN_FILE"  # noqa: S105
ENV_CA = "EXPOSCAN_OUTSIDE_CA"
ENV_PIN = "EXPOSCAN_OUTSIDE_PIN"
_KEYS = frozenset({"url", "token_file", "ca_file", "pin_sha256", "public_address"})
ENV_PUBLIC = "EXPOSCAN_OUTSIDE_PUBLIC"


class OutsideConfigError(ValueError):
    """The outside view is asked for but cannot be set up (exit code 2)."""


@dataclass(frozen=True)
class OutsideSettings:
    url: str
    token: str = field(repr=False)
    ca_file: str | None = None
    pin_sha256: str | None = None


def _config_table(path: Path, explicit: bool) -> dict[str, str]:
    return read_table(path, "outside", _KEYS, explicit, OutsideConfigError)


def read_token_file(path: str) -> str:
    """The token in ``path`` (the reflector client's own reader and checks)."""
    try:
        return load_token(Path(path))
    except ReflectorError as exc:
        raise OutsideConfigError(str(exc)) from None


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    # The token travels in the request: only over TLS, to a named host.
    if parts.scheme != "https" or not parts.hostname:
        raise OutsideConfigError(f"--outside {url!r}: the reflector's address must be https://HOST")
    return url


def resolve(
    url: str | None,
    ca_file: str | None = None,
    pin_sha256: str | None = None,
    env: Mapping[str, str] | None = None,
) -> OutsideSettings | None:
    """The outside view's settings, or None when none is configured anywhere."""
    if url is not None and not url.strip():
        # `--outside ""` (an unset shell variable) would otherwise fall back
        # to the environment or the config file without a word.
        raise OutsideConfigError(
            "--outside: an empty URL; to scan without the outside view, use --no-outside"
        )
    env = os.environ if env is None else env
    path = config_path(env)
    table = _config_table(path, explicit=bool(env.get(ENV_CONFIG)))

    def pick(arg: str | None, env_name: str, key: str) -> str | None:
        for value in (arg, env.get(env_name), table.get(key)):
            if isinstance(value, str) and value:
                return value
        return None

    chosen = pick(url, ENV_URL, "url")
    if chosen is None:
        return None
    token = env.get(ENV_TOKEN, "").strip()
    if not token:
        token_file = env.get(ENV_TOKEN_FILE) or table.get("token_file")
        if not isinstance(token_file, str) or not token_file:
            raise OutsideConfigError(
                f"--outside needs the reflector's token: a file named by token_file in "
                f"{path} or by ${ENV_TOKEN_FILE}, or ${ENV_TOKEN} (never on the command line)"
            )
        token = read_token_file(token_file)
    # How the reflector is trusted (a CA file or a pin) is one setting: it
    # comes whole from the first level that names either.
    ca, pin = None, None
    for level_ca, level_pin in (
        (ca_file, pin_sha256),
        (env.get(ENV_CA), env.get(ENV_PIN)),
        (table.get("ca_file"), table.get("pin_sha256")),
    ):
        if level_ca or level_pin:
            ca = str(level_ca) if level_ca else None
            pin = str(level_pin) if level_pin else None
            break
    return OutsideSettings(url=_check_url(chosen), token=token, ca_file=ca, pin_sha256=pin)


def resolve_public(address: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The public IPv4 address the user set (command line, environment,
    config file), or None; one that is not an IPv4 address is an error."""
    env = os.environ if env is None else env
    table = _config_table(config_path(env), explicit=bool(env.get(ENV_CONFIG)))
    for value in (address, env.get(ENV_PUBLIC), table.get("public_address")):
        if isinstance(value, str) and value.strip():
            try:
                return str(IPv4Address(value.strip()))
            except ValueError:
                raise OutsideConfigError(
                    f"--outside-public {value.strip()!r}: not an IPv4 address"
                ) from None
    return None
