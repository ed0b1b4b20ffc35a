"""Writing ``mosquitto.conf``, the password file and the ACL file for :class:`MosquittoSettings`.

The password file is first written in plain text (mode 0600) and then hashed in place with
``mosquitto_passwd -U``, so passwords never appear on a command line where ``ps`` would show
them.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from simulator.broker.binaries import find_mosquitto_passwd
from simulator.broker.config import MosquittoSettings
from simulator.broker.errors import BrokerConfigError

CONFIG_NAME = "mosquitto.conf"
PASSWORD_FILE_NAME = "passwd"  # noqa: S105 - a file name, not a password
ACL_NAME = "acl"
PERSISTENCE_DIR = "data"
_PASSWD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RenderedConfig:
    """Where the rendered files are.

    Attributes:
        config_file: the ``mosquitto.conf`` to pass to ``mosquitto -c``.
        password_file: the hashed password file, if the settings have accounts.
        acl_file: the ACL file, if the settings have an ACL.
        persistence_dir: where Mosquitto keeps ``mosquitto.db``, if persistence is on.
    """

    config_file: Path
    password_file: Path | None
    acl_file: Path | None
    persistence_dir: Path | None


def _path_value(path: Path) -> str:
    # Mosquitto reads a path as the rest of the line after the option; whitespace would be
    # ambiguous (and trimmed), so such paths are refused rather than silently broken.
    text = str(path.resolve())
    if any(ch.isspace() for ch in text):
        raise BrokerConfigError(
            "paths used in mosquitto.conf must not contain whitespace", path=text
        )
    return text


def _current_user() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return None


def render_config_text(
    settings: MosquittoSettings,
    *,
    port: int,
    password_file: Path | None,
    acl_file: Path | None,
    persistence_dir: Path | None,
) -> str:
    """Return the text of ``mosquitto.conf`` for the settings.

    Args:
        settings: the broker settings.
        port: the concrete listener port (the settings may say ``0``).
        password_file: the password file to reference, if any.
        acl_file: the ACL file to reference, if any.
        persistence_dir: the persistence directory, required when persistence is on.

    Returns:
        The configuration text.

    Raises:
        BrokerConfigError: a path contains whitespace, or persistence is on without a directory.
    """
    lines = [
        "# Rendered by simulator.broker from MosquittoSettings; re-render instead of editing.",
        "per_listener_settings false",
    ]
    user = _current_user()
    if user is not None:
        # Started as root, Mosquitto would switch to the "mosquitto" user and then be unable to
        # read files in a private work directory; run as whoever started it instead.
        lines.append(f"user {user}")
    lines += [
        "set_tcp_nodelay true",
        f"max_inflight_messages {settings.max_inflight_messages}",
        f"max_queued_messages {settings.max_queued_messages}",
    ]
    if settings.max_queued_bytes:
        lines.append(f"max_queued_bytes {settings.max_queued_bytes}")
    if settings.max_packet_size is not None:
        lines.append(f"max_packet_size {settings.max_packet_size}")
    if settings.persistence:
        if persistence_dir is None:
            raise BrokerConfigError("persistence is on but no persistence directory was given")
        lines += [
            "persistence true",
            # Mosquitto concatenates this with the file name, so the trailing slash matters.
            f"persistence_location {_path_value(persistence_dir)}/",
            f"autosave_interval {settings.autosave_interval}",
        ]
    else:
        lines.append("persistence false")
    lines += ["log_dest stderr", "connection_messages true", "log_timestamp true"]
    lines += [f"log_type {log_type}" for log_type in settings.log_types]
    lines.append(f"allow_anonymous {'true' if settings.auth == 'anonymous' else 'false'}")
    if password_file is not None:
        lines.append(f"password_file {_path_value(password_file)}")
    if acl_file is not None:
        lines.append(f"acl_file {_path_value(acl_file)}")
    lines += ["", f"listener {port} {settings.bind}", "protocol mqtt"]
    if settings.use_username_as_clientid:
        lines.append("use_username_as_clientid true")
    tls = settings.tls
    if tls is not None:
        lines += [
            f"certfile {_path_value(tls.certfile)}",
            f"keyfile {_path_value(tls.keyfile)}",
            f"tls_version {tls.tls_version}",
        ]
        if tls.cafile is not None:
            lines.append(f"cafile {_path_value(tls.cafile)}")
        lines.append(f"require_certificate {'true' if tls.require_certificate else 'false'}")
        if tls.use_identity_as_username:
            lines.append("use_identity_as_username true")
    return "\n".join(lines) + "\n"


def write_password_file(settings: MosquittoSettings, path: Path) -> None:
    """Write the settings' accounts to ``path`` as a hashed Mosquitto password file.

    Args:
        settings: the settings whose ``passwords`` are written.
        path: the file to (over)write; created with mode 0600.

    Raises:
        MosquittoNotFoundError: ``mosquitto_passwd`` is not installed.
        BrokerConfigError: ``mosquitto_passwd`` failed.
    """
    tool = find_mosquitto_passwd()
    plain = "".join(
        f"{entry.username}:{entry.password.get_secret_value()}\n" for entry in settings.passwords
    )
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(plain)
    if not settings.passwords:
        return
    try:
        result = subprocess.run(  # noqa: S603 - fixed tool, arguments are a path we created
            [tool, "-U", str(path)],
            capture_output=True,
            text=True,
            timeout=_PASSWD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        path.unlink(missing_ok=True)
        raise BrokerConfigError(f"mosquitto_passwd -U failed: {exc}", path=str(path)) from None
    if result.returncode != 0:
        path.unlink(missing_ok=True)  # never leave the plain-text passwords behind
        output = (result.stderr or result.stdout).strip()
        raise BrokerConfigError(
            f"mosquitto_passwd -U exited with {result.returncode}: {output}", path=str(path)
        )


def render_config(settings: MosquittoSettings, directory: Path, *, port: int) -> RenderedConfig:
    """Write every file the broker needs into ``directory``.

    Args:
        settings: the broker settings.
        directory: where to write; created if missing.
        port: the concrete listener port.

    Returns:
        The paths of the written files.

    Raises:
        MosquittoNotFoundError: accounts are configured and ``mosquitto_passwd`` is missing.
        BrokerConfigError: a file could not be written or hashed.
    """
    if not 0 < port <= 65535:
        raise BrokerConfigError(f"listener port must be 1..65535, not {port}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        password_file: Path | None = None
        if settings.passwords or settings.auth == "password":
            password_file = directory / PASSWORD_FILE_NAME
            write_password_file(settings, password_file)
        acl_file: Path | None = None
        if settings.acl is not None:
            acl_file = directory / ACL_NAME
            acl_file.write_text(settings.acl.render(), encoding="utf-8")
        persistence_dir: Path | None = None
        if settings.persistence:
            persistence_dir = directory / PERSISTENCE_DIR
            persistence_dir.mkdir(exist_ok=True)
        config_file = directory / CONFIG_NAME
        config_file.write_text(
            render_config_text(
                settings,
                port=port,
                password_file=password_file,
                acl_file=acl_file,
                persistence_dir=persistence_dir,
            ),
            encoding="utf-8",
        )
    except OSError as exc:
        raise BrokerConfigError(f"cannot write broker files: {exc}", path=str(directory)) from None
    return RenderedConfig(config_file, password_file, acl_file, persistence_dir)
