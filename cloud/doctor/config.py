"""Build :class:`~cloud.doctor.settings.DoctorSettings` from the services' own files.

The doctor reads the responder's TOML (with its environment overrides and secret files), and
optionally the console's, exactly as those services would: a mistake in one of
them shows up here the way it would at their start.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from cloud.config import load_settings as load_responder_settings
from cloud.console.settings import load_settings as load_console_settings
from cloud.doctor.camera import CameraDoctorSettings
from cloud.doctor.console import ConsoleDoctorSettings
from cloud.doctor.errors import DoctorError
from cloud.doctor.settings import ConsoleOss, DoctorSettings
from cloud.errors import CloudError
from schemas.broker import BrokerConnection
from schemas.errors import SchemaError
from schemas.keys import DeviceKeys


def camera_account(
    responder: BrokerConnection,
    username: str,
    password: str | None,
) -> BrokerConnection:
    """A camera's account on the responder's broker (same URL, CA and protocol, no client
    certificate)."""
    return BrokerConnection(
        url=responder.url,
        ca_file=responder.ca_file,
        username=username,
        password=SecretStr(password) if password is not None else None,
        protocol=responder.protocol,
        connect_timeout_s=responder.connect_timeout_s,
    )


def _read_password(path: Path) -> str:
    try:
        return path.read_text("utf-8").strip()
    except OSError as exc:
        raise DoctorError(f"cannot read the camera password file {path}: {exc.strerror}") from None


def load_doctor_settings(
    responder: Path,
    environ: Mapping[str, str],
    *,
    console: Path | None = None,
    camera_user: str | None = None,
    camera_password_file: Path | None = None,
    timeout_s: float = 10.0,
) -> DoctorSettings:
    """Read the configurations the doctor was given.

    Args:
        responder: the responder's TOML file.
        environ: the process environment (secrets and overrides, as the responder reads them).
        console: the console's TOML file, if any.
        camera_user: a camera account on the broker (a test camera, not one in service).
        camera_password_file: the file holding that account's password.
        timeout_s: per network operation.

    Raises:
        DoctorError: a file is missing or invalid.
    """
    try:
        settings = load_responder_settings(responder, environ)
    except CloudError as exc:
        raise DoctorError(f"responder configuration {responder}: {exc}") from None
    console_oss = None
    if console is not None:
        try:
            oss = load_console_settings(console, environ).oss
        except CloudError as exc:
            raise DoctorError(f"console configuration {console}: {exc}") from None
        console_oss = ConsoleOss(
            endpoint=oss.endpoint,
            bucket=oss.bucket,
            access_key_id=oss.access_key_id,
            access_key_secret=oss.access_key_secret.get_secret_value(),
        )
    camera = None
    if camera_user is not None:
        password = _read_password(camera_password_file) if camera_password_file else None
        camera = camera_account(settings.broker, camera_user, password)
    return DoctorSettings(
        responder=settings,
        console=console_oss,
        camera=camera,
        timeout_s=timeout_s,
    )


def load_camera_doctor_settings(camera: Path, *, timeout_s: float = 10.0) -> CameraDoctorSettings:
    """Read the parts of a camera's ``camera.toml`` the doctor uses: ``device_id``,
    ``secret``, ``topic_prefix``, ``[broker]`` and ``[credentials]``, relative paths taken from the file's directory as the agent takes them.
    The rest of the file is the agent's to validate when it starts.

    Raises:
        DoctorError: the file is missing or those parts are invalid.
    """
    try:
        data = tomllib.loads(camera.read_text("utf-8"))
    except OSError as exc:
        raise DoctorError(
            f"cannot read the camera configuration {camera}: {exc.strerror}"
        ) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DoctorError(f"camera configuration {camera} is not valid TOML: {exc}") from None
    device_id = data.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        raise DoctorError(f"camera configuration {camera}: device_id is missing")
    try:
        keys = DeviceKeys.from_secret(str(data.get("secret", "")))
    except SchemaError:
        raise DoctorError(
            f"camera configuration {camera}: secret is missing or not a device secret "
            "(32 bytes, unpadded base64url, as 'ossmedia devices add' writes it)"
        ) from None
    wanted = data.get("credentials", {})
    wanted = wanted if isinstance(wanted, dict) else {}
    raw = data.get("broker", {})
    if not isinstance(raw, dict):
        raise DoctorError(f"camera configuration {camera}: [broker] must be a table")
    base = camera.resolve().parent
    try:
        broker = BrokerConnection.model_validate(_absolute_paths(raw, base))
    except ValidationError as exc:
        problems = "; ".join(
            f"broker.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise DoctorError(f"camera configuration {camera}: {problems}") from None
    return CameraDoctorSettings(
        device_id=device_id,
        keys=keys,
        broker=broker,
        topic_prefix=str(data.get("topic_prefix", "ossmedia")),
        access=str(wanted.get("access", "append")),
        duration_s=_duration(wanted.get("duration_s", 900), camera),
        timeout_s=timeout_s,
    )


def _absolute_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    paths = {
        key: str(base / value)
        for key in ("ca_file", "cert_file", "key_file")
        if isinstance(value := raw.get(key), str) and not Path(value).is_absolute()
    }
    return {**raw, **paths}


def _duration(value: object, camera: Path) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 43200:
        return value
    raise DoctorError(f"camera configuration {camera}: [credentials] duration_s must be 1-43200")


def load_console_doctor_settings(
    console: Path, environ: Mapping[str, str], *, timeout_s: float = 10.0
) -> ConsoleDoctorSettings:
    """Read the console's TOML (with its environment overrides and secret files) as it does.

    Raises:
        DoctorError: the file is missing or invalid.
    """
    try:
        settings = load_console_settings(console, environ)
    except CloudError as exc:
        raise DoctorError(f"console configuration {console}: {exc}") from None
    return ConsoleDoctorSettings(console=settings, timeout_s=timeout_s)
