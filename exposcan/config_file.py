"""The user's config file (``$EXPOSCAN_CONFIG``, else
``$XDG_CONFIG_HOME/exposcan/config.toml``): one TOML table per feature
(``[outside]``, ``[hub]``), each read and checked the same way."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

ENV_CONFIG = "EXPOSCAN_CONFIG"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(ENV_CONFIG, "")
    if explicit:
        return Path(explicit)
    # XDG Base Directory spec: an unset, empty or relative value is ignored.
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "exposcan" / "config.toml"


def read_table(
    path: Path, name: str, keys: frozenset[str], explicit: bool, error: type[Exception]
) -> dict[str, str]:
    """Table ``[name]`` of the config file at ``path``, its values strings
    and its keys among ``keys``; ``{}`` when the file is absent and was not
    named (``explicit``).  A secret is never written there: a ``token`` key
    is refused with the way to give it."""
    try:
        with path.open("rb") as handle:
            doc = tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise error(f"config file {path} not found ({ENV_CONFIG})") from None
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"config file {path}: {exc}") from None
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise error(f"config file {path}: [{name}] is not a table")
    unknown = set(table) - keys
    if "token" in unknown:
        raise error(
            f"config file {path}: a token is not written in the config file; put it in "
            "a file readable by this user only and name it with token_file"
        )
    if unknown:
        raise error(f"config file {path}: unknown [{name}] keys {sorted(unknown)}")
    for key, value in table.items():
        if not isinstance(value, str):
            raise error(f"config file {path}: [{name}] {key} is not a string")
    return {str(k): str(v) for k, v in table.items()}
