"""Write settings as a ``camera.toml`` (the tests' counterpart of the operator's editor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from device.settings import AgentSettings


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def _table(data: dict[str, Any], name: str, out: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and v is not None}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if name:
        out.append(f"[{name}]")
    out.extend(f"{key} = {_value(value)}" for key, value in scalars.items())
    out.append("")
    for key, value in tables.items():
        _table(value, f"{name}.{key}" if name else key, out)


def write_camera_toml(settings: AgentSettings, path: Path) -> Path:
    """Write ``settings`` (secrets included) to ``path`` as TOML."""
    data = settings.model_dump(mode="json")
    data["secret"] = settings.secret.get_secret_value()
    if settings.broker.password is not None:
        data["broker"]["password"] = settings.broker.password.get_secret_value()
    lines: list[str] = []
    _table(data, "", lines)
    path.write_text("\n".join(lines))
    return path
