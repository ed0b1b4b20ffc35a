"""Everything a fleet run is given, checked before any service starts.

:func:`check_settings` refuses a run that could not prove anything (no camera, a chunk or a
bitrate that produces nothing, an infinite duration), a scenario step the run cannot carry
out, and a scratch directory or report path that cannot be written. :func:`check_services`
reaches the external broker and emulator the run was pointed at. Each raises
:class:`~simulator.fleet.errors.FleetInputError` with one line naming the input.
"""

from __future__ import annotations

import math
import os
import socket
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from simulator.base.errors import EmulatorError
from simulator.emulator.handle import AdminClient
from simulator.fleet.errors import FleetInputError
from simulator.fleet.scenario import Scenario

__all__ = ["MIN_CHUNK_BYTES", "check_report_path", "check_services", "check_settings"]

# The spool's smallest chunk: smaller pieces are gathered into chunks of this size.
MIN_CHUNK_BYTES = 1024


class FleetSettings(Protocol):
    """What the checks read of :class:`simulator.fleet.runner.FleetSettings`."""

    @property
    def cameras(self) -> int: ...
    @property
    def processes(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def drain_s(self) -> float: ...
    @property
    def output(self) -> str: ...
    @property
    def chunk_bytes(self) -> int: ...
    @property
    def bitrate_bps(self) -> int: ...
    @property
    def scenario(self) -> Scenario: ...
    @property
    def broker_url(self) -> str | None: ...
    @property
    def emulator_endpoint(self) -> str | None: ...
    @property
    def admin_token(self) -> str | None: ...
    @property
    def workdir(self) -> Path | None: ...


def check_settings(settings: FleetSettings) -> None:
    """Refuse settings that cannot make a run that proves something.

    Raises:
        FleetInputError: the first problem found, in one line.
    """
    if settings.cameras < 1:
        raise FleetInputError(f"--cameras must be at least 1, not {settings.cameras}")
    if settings.processes < 1:
        raise FleetInputError(f"--processes must be at least 1, not {settings.processes}")
    _finite("--duration", settings.duration_s, minimum=0.0, strict=True)
    _finite("--drain", settings.drain_s, minimum=0.0, strict=False)
    if settings.output == "append":
        if settings.chunk_bytes < MIN_CHUNK_BYTES:
            raise FleetInputError(
                f"--chunk must be at least {MIN_CHUNK_BYTES} bytes, not {settings.chunk_bytes}"
            )
        if settings.bitrate_bps < 1:
            raise FleetInputError(f"--bitrate must be positive, not {settings.bitrate_bps}")
        per_camera = settings.bitrate_bps / 8 * settings.duration_s
        if per_camera < settings.chunk_bytes:
            raise FleetInputError(
                f"--bitrate {settings.bitrate_bps} for {settings.duration_s:g} s makes "
                f"{int(per_camera)} B per camera, less than one --chunk of "
                f"{settings.chunk_bytes} B"
            )
    if settings.emulator_endpoint is not None and not settings.admin_token:
        raise FleetInputError("--endpoint needs the emulator's admin token in OSSMEDIA_ADMIN_TOKEN")
    settings.scenario.check_run(
        settings.duration_s,
        local_broker=settings.broker_url is None,
        local_emulator=settings.emulator_endpoint is None,
        append_output=settings.output == "append",
    )
    if settings.workdir is not None:
        _check_dir("--workdir", settings.workdir)


def check_report_path(path: Path) -> None:
    """Refuse a report path that cannot be written (before hours of running, not after).

    Raises:
        FleetInputError: the path is a directory or its directory is missing or read-only.
    """
    if path.is_dir():
        raise FleetInputError(f"--report {path} is a directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise FleetInputError(f"--report {path} is not writable")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FleetInputError(f"--report {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FleetInputError(f"--report {path}: directory {parent} is not writable")


def check_services(settings: FleetSettings, *, timeout_s: float = 5.0) -> None:
    """Reach the external broker and emulator the run was given.

    Raises:
        FleetInputError: a service does not answer, or refuses the admin token.
    """
    if settings.broker_url is not None:
        parts = urlsplit(settings.broker_url)
        if parts.scheme not in {"mqtt", "tcp"} or not parts.hostname:
            raise FleetInputError(f"--broker {settings.broker_url}: expected mqtt://host:port")
        try:
            port = parts.port or 1883
        except ValueError:
            raise FleetInputError(f"--broker {settings.broker_url}: bad port") from None
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
        except OSError as exc:
            raise FleetInputError(
                f"--broker {settings.broker_url} is not reachable: {exc.strerror or exc}"
            ) from None
    if settings.emulator_endpoint is not None:
        parts = urlsplit(settings.emulator_endpoint)
        if parts.scheme != "http" or not parts.hostname:
            raise FleetInputError(
                f"--endpoint {settings.emulator_endpoint}: expected http://host:port"
            )
        admin = AdminClient(
            settings.emulator_endpoint, settings.admin_token or "", timeout_s=timeout_s
        )
        try:
            admin.call("GET", "/info")
        except EmulatorError as exc:
            raise FleetInputError(f"--endpoint {settings.emulator_endpoint}: {exc}") from None


def _finite(name: str, value: float, *, minimum: float, strict: bool) -> None:
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = "positive" if strict else "zero or more"
        raise FleetInputError(f"{name} must be a finite number of seconds, {bound}, not {value}")


def _check_dir(name: str, path: Path) -> None:
    """Make the directory if needed and write a probe file in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise FleetInputError(f"{name} {path} is not usable: {exc.strerror or exc}") from None
