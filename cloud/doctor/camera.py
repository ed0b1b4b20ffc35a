"""The doctor run from a camera's ``camera.toml`` alone: the checks that concern one camera.

A camera's configuration names its broker (URL, CA file) and its own account, nothing of the
cloud side, so only the broker checks run, with the camera's account: the broker is reachable
over TLS that verifies against the camera's CA file, and the camera's account logs in. Checks
that need the responder's configuration (STS, bucket, registry, the ACL probe) are not run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cloud.doctor.broker import LOGIN, TLS, connect, tls_result
from cloud.doctor.errors import DoctorError
from cloud.doctor.report import CheckResult, failed, passed
from schemas.broker import BrokerConnection


@dataclass(frozen=True)
class CameraDoctorSettings:
    """Everything one doctor run from a camera's configuration needs.

    Attributes:
        device_id: the camera's device id.
        broker: the camera's ``[broker]`` (URL, CA file, its own account).
        timeout_s: per network operation.
        probe_id: a random token naming the doctor's MQTT client ids.
    """

    device_id: str
    broker: BrokerConnection
    timeout_s: float = 10.0
    probe_id: str = field(default_factory=lambda: secrets.token_hex(4))


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


__all__ = ["LOGIN", "TLS", "CameraDoctorSettings", "check_login", "check_tls"]
