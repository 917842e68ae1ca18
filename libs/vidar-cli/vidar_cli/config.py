"""Where the API is and which token to send: flags, then environment, then the config file."""

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


class ConfigError(Exception):
    """The connection settings are missing or unreadable."""


@dataclass(frozen=True)
class Connection:
    url: str
    token: str


def config_path() -> Path:
    """$VIDAR_CONFIG, else config.toml in the XDG config folder (~/.config/vidar/)."""
    if explicit := os.environ.get("VIDAR_CONFIG"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "vidar" / "config.toml"


def read_config(path: Path) -> dict[str, str]:
    """The file's `url` and `token`; a missing default file is an empty config, but a file
    named by $VIDAR_CONFIG must exist (a typo there should not silently fall back)."""
    if not path.exists():
        if os.environ.get("VIDAR_CONFIG"):
            raise ConfigError(f"VIDAR_CONFIG names {path}, which does not exist")
        return {}
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return {key: str(values[key]) for key in ("url", "token") if key in values}


def resolve(url: str | None, token: str | None) -> Connection:
    """`url` and `token` come from the flags or the environment (typer reads both); what is
    still missing comes from the config file."""
    path = config_path()
    stored = read_config(path) if url is None or token is None else {}
    token = token or stored.get("token")
    if not token:
        raise ConfigError(f'no API token: pass --token, set VIDAR_TOKEN, or put `token = "..."` in {path}')
    return Connection(url=(url or stored.get("url") or DEFAULT_URL).rstrip("/"), token=token)
