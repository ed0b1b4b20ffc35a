"""The doctor run from a camera's ``camera.toml`` alone: the checks that concern one camera.

A camera's configuration names its broker (URL, CA file) and its own account, nothing of the
cloud side, so the checks run with the camera's account: the broker is reachable over TLS that
verifies against the camera's CA file, the camera's account logs in, and one credential request
goes through the responder end to end (:mod:`~cloud.doctor.creds`), and the camera's account
reaches nothing of another camera's (:mod:`~cloud.doctor.camera_acl`). Checks that need the
responder's configuration (STS, bucket, registry, the clock) are not run.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cloud.doctor import creds
from cloud.doctor.broker import ACL, LOGIN, TLS, connect, tls_result
from cloud.doctor.camera_acl import check_camera_acl
from cloud.doctor.errors import DoctorError
from cloud.doctor.report import CheckResult, failed, passed
from schemas.broker import BrokerConnection
from schemas.keys import DeviceKeys
from schemas.topics import Topics

CREDS = creds.NAME


@dataclass(frozen=True)
class CameraDoctorSettings:
    """Everything one doctor run from a camera's configuration needs.

    Attributes:
        device_id: the camera's device id.
        keys: the keys its secret derives (signs requests, opens replies).
        broker: the camera's ``[broker]`` (URL, CA file, its own account).
        topic_prefix: the camera's ``topic_prefix``.
        access: the access the camera asks for (``[credentials] access``).
        duration_s: the lifetime it asks for (``[credentials] duration_s``).
        timeout_s: per network operation (and the wait for the responder's reply).
        probe_id: a random token naming the doctor's MQTT client ids.
        clock: wall clock in seconds (the request's ``issued_at_ms``).
    """

    device_id: str
    keys: DeviceKeys
    broker: BrokerConnection
    topic_prefix: str = "ossmedia"
    access: str = "append"
    duration_s: int = 900
    timeout_s: float = 10.0
    probe_id: str = field(default_factory=lambda: secrets.token_hex(4))
    clock: Callable[[], float] = time.time


def _account(s: CameraDoctorSettings) -> str:
    return s.broker.username or "(anonymous)"


def check_tls(s: CameraDoctorSettings) -> CheckResult:
    """The camera's broker is reachable and verifies against the camera's CA file."""
    return tls_result(s.broker, s.timeout_s)


def check_login(s: CameraDoctorSettings) -> CheckResult:
    """The camera's own account logs in."""
    try:
        probe = connect(s.broker, f"doctor-{s.probe_id}-cam", s.timeout_s)
    except DoctorError as exc:
        return failed(
            LOGIN,
            f"camera account {_account(s)} cannot log in: {exc}",
            "set [broker] username and password in camera.toml to the camera's broker account "
            "(ossmedia devices rotate re-keys it and writes a fresh camera.toml)",
        )
    probe.close()
    return passed(LOGIN, f"camera account {_account(s)} logs in")


def check_creds(s: CameraDoctorSettings) -> CheckResult:
    """A signed credential request is answered with a credential the camera opens."""
    return creds.check_request(
        broker=s.broker,
        device_id=s.device_id,
        keys=s.keys,
        topics=Topics(s.topic_prefix),
        access=s.access,
        duration_s=s.duration_s,
        client_id=f"doctor-{s.probe_id}-creds",
        timeout_s=s.timeout_s,
        clock=s.clock,
    )


def check_acl(s: CameraDoctorSettings) -> CheckResult:
    """The camera's account reaches its own topics and nothing of another camera's."""
    return check_camera_acl(
        broker=s.broker,
        device_id=s.device_id,
        other=f"doctor-{s.probe_id}-other",
        keys=s.keys,
        topics=Topics(s.topic_prefix),
        access=s.access,
        duration_s=s.duration_s,
        client_id=f"doctor-{s.probe_id}-acl",
        timeout_s=s.timeout_s,
        clock=s.clock,
    )


__all__ = [
    "ACL",
    "CREDS",
    "LOGIN",
    "TLS",
    "CameraDoctorSettings",
    "check_acl",
    "check_creds",
    "check_login",
    "check_tls",
]
