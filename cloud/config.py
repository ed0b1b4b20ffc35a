"""Load :class:`~cloud.settings.ResponderSettings` from TOML, environment and secret files.

Only entry points call this module, passing ``os.environ`` explicitly; everything below them
receives frozen settings.

Environment overrides are ``OSSMEDIA_<SECTION>_<FIELD>`` in upper case, for example
``OSSMEDIA_BROKER_URL``, ``OSSMEDIA_STS_ROLE_ARN``, ``OSSMEDIA_LIMITS_SKEW_WINDOW_S`` or
``OSSMEDIA_STATE_URL``; they win over the file. ``OSSMEDIA_MASTER_KEY`` is a short alias of
``OSSMEDIA_REGISTRY_MASTER_KEY``. Secrets may not be written into the TOML file: they come
from the environment or from the file named by the matching ``*_file`` setting.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cloud.errors import ConfigError
from cloud.settings import ResponderSettings

ENV_PREFIX = "OSSMEDIA_"
MASTER_KEY_ENV = "OSSMEDIA_MASTER_KEY"

# (section, field holding the secret, field naming a file that holds it)
SECRET_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("sts", "access_key_secret", "access_key_secret_file"),
    ("broker", "password", "password_file"),
    ("registry", "master_key", "master_key_file"),
    ("provisioning", "provisioner_password", "provisioner_password_file"),
    ("quarantine", "password", "password_file"),
)

# Environment variables that start with the prefix but are not settings overrides.
_NOT_SETTINGS = frozenset({"OSSMEDIA_CONFIG"})


def _sections() -> dict[str, type[BaseModel]]:
    sections: dict[str, type[BaseModel]] = {}
    for name, field in ResponderSettings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections[name] = annotation
    return sections


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML settings file.

    Args:
        path: the file.

    Returns:
        The parsed document.

    Raises:
        ConfigError: the file is missing or is not valid TOML.
    """
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read settings file: {exc.strerror}", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None


def env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Collect ``OSSMEDIA_<SECTION>_<FIELD>`` overrides.

    Args:
        environ: the process environment (or any mapping, in tests).

    Returns:
        ``{section: {field: raw string}}``.

    Raises:
        ConfigError: a variable names a section but no field of it (a typo).
    """
    sections = _sections()
    found: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS:
            continue
        if name == MASTER_KEY_ENV:
            found.setdefault("registry", {})["master_key"] = value
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, field = rest.partition("_")
        model = sections.get(section)
        if model is None:
            continue  # another component's variable
        renamed: dict[str, str] = getattr(model, "RENAMED", {})
        if field not in model.model_fields and field not in renamed:
            raise ConfigError(f"no setting {section}.{field}", source=name)
        found.setdefault(section, {})[field] = value
    return found


def _env_name(section: str, field: str) -> str:
    if (section, field) == ("registry", "master_key"):
        return MASTER_KEY_ENV
    return f"{ENV_PREFIX}{section.upper()}_{field.upper()}"


def _read_secret_file(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file: {exc.strerror}", source=setting) from None


def inline_secret(
    document: Mapping[str, Any],
    fields: Iterable[tuple[str, str, str]],
    env_names: Mapping[tuple[str, str], str],
) -> str | None:
    """The policy every service applies to its settings file: no secret written inline.

    Args:
        document: the parsed TOML document.
        fields: ``(section, secret field, field naming a file that holds it)``.
        env_names: the environment variable that may carry a secret instead, where there is
            one.

    Returns:
        One line naming the first secret written inline and where it belongs instead, or
        ``None`` when there is none.
    """
    for section, field, file_field in fields:
        table = document.get(section)
        if isinstance(table, Mapping) and field in table:
            env = env_names.get((section, field))
            instead = f"the environment variable {env} or " if env else ""
            return (
                f"{section}.{field} must not be written in the file; "
                f"use {instead}{section}.{file_field}"
            )
    return None


def build_settings(
    document: Mapping[str, Any], environ: Mapping[str, str], *, source: str = "settings"
) -> ResponderSettings:
    """Merge a settings document with environment overrides and secret files, then validate.

    Args:
        document: the parsed TOML document (``{}`` for defaults only).
        environ: the process environment.
        source: where the document came from, for error messages.

    Returns:
        Validated, frozen settings.

    Raises:
        ConfigError: an unknown key, an invalid value (named with the file or environment
            variable it came from), a secret written inline, a secret given both by the
            environment and by a file, or an unreadable secret file.
    """
    merged: dict[str, dict[str, Any]] = {}
    for section, values in document.items():
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table", source=source)
        merged[section] = dict(values)
    inline = inline_secret(
        merged,
        SECRET_FIELDS,
        {(s, f): f"{ENV_PREFIX}{s.upper()}_{f.upper()}" for s, f, _ in SECRET_FIELDS},
    )
    if inline is not None:
        raise ConfigError(inline, source=source)
    from_env: dict[tuple[str, str], str] = {}
    for section, values in env_overrides(environ).items():
        merged.setdefault(section, {}).update(values)
        for field in values:
            from_env[(section, field)] = _env_name(section, field)
    for section, field, file_field in SECRET_FIELDS:
        values = merged.setdefault(section, {})
        file_value = values.get(file_field)
        if field in values and file_value:
            # Neither may silently win: the operator believes one of them is in use.
            raise ConfigError(
                f"{section}.{field} is set twice: by {from_env.get((section, field), field)} "
                f"and by {section}.{file_field}; keep one",
                source=source,
            )
        if field not in values and file_value:
            values[field] = _read_secret_file(Path(file_value), f"{section}.{file_field}")
    try:
        return ResponderSettings.model_validate(merged)
    except ValidationError as exc:
        # include_input=False: a mistyped secret must not be echoed back. Each problem names
        # where its value came from: the environment variable, or the file.
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            loc = tuple(str(p) for p in err["loc"])
            where = from_env.get((loc[0], loc[1])) if len(loc) >= 2 else None
            problems.append(f"{where or source}: {'.'.join(loc)}: {err['msg']}")
        raise ConfigError("; ".join(problems)) from None


def load_settings(path: Path | None, environ: Mapping[str, str]) -> ResponderSettings:
    """Load settings from an optional TOML file plus the environment.

    Args:
        path: the TOML file, or ``None`` for defaults plus environment.
        environ: the process environment.

    Returns:
        Validated, frozen settings.

    Raises:
        ConfigError: see :func:`build_settings`.
    """
    document = read_toml(path) if path is not None else {}
    return build_settings(document, environ, source=str(path) if path else "environment")
