"""Reading ``camera.toml``: the only place the agent touches its configuration file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device.errors import ConfigError
from device.settings import AgentSettings

__all__ = ["load_settings", "parse_settings"]


def parse_settings(data: dict[str, Any], *, base_dir: Path | None = None) -> AgentSettings:
    """Validate a configuration mapping.

    Relative paths (spool dir, source path, TLS files) are taken relative to ``base_dir``.

    Raises:
        ConfigError: a key is unknown or a value invalid (the message never shows secrets).
    """
    try:
        settings = AgentSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise ConfigError(f"invalid camera configuration: {problems}") from None
    if base_dir is None:
        return settings
    return _resolve_paths(settings, base_dir)


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    where = ".".join(str(part) for part in loc)
    return f"{where}: {message}" if where else message


def _resolve_paths(settings: AgentSettings, base: Path) -> AgentSettings:
    def absolute(path: Path | None) -> Path | None:
        if path is None or path.is_absolute():
            return path
        return base / path

    broker = settings.broker.model_copy(
        update={
            "ca_file": absolute(settings.broker.ca_file),
            "cert_file": absolute(settings.broker.cert_file),
            "key_file": absolute(settings.broker.key_file),
        }
    )
    spool = settings.spool.model_copy(update={"dir": absolute(settings.spool.dir)})
    source = settings.source.model_copy(
        update={
            "path": absolute(settings.source.path),
            "audio_path": absolute(settings.source.audio_path),
        }
    )
    return settings.model_copy(update={"broker": broker, "spool": spool, "source": source})


def load_settings(path: Path) -> AgentSettings:
    """Read and validate a ``camera.toml`` file.

    Raises:
        ConfigError: the file cannot be read or is invalid.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_settings(data, base_dir=path.resolve().parent)
