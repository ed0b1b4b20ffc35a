"""Every check the doctor runs, declared once: name, what it needs, and the function.

A check runs only when every check it depends on passed; otherwise it is skipped and says
which one to fix first (its own result would only repeat that failure). The order here is the
order of the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cloud.doctor import (
    broker,
    bucket,
    camera,
    clock,
    console,
    grant,
    quarantine,
    registry,
    sts,
)
from cloud.doctor.camera import CameraDoctorSettings
from cloud.doctor.console import ConsoleDoctorSettings
from cloud.doctor.errors import DoctorError
from cloud.doctor.report import CheckResult, Report, Status, failed, skipped
from cloud.doctor.settings import DoctorSettings

S = TypeVar("S")


@dataclass(frozen=True)
class Check(Generic[S]):
    """One check.

    Attributes:
        name: ``family.what``; the name results and ``--json`` use.
        run: the check itself.
        needs: checks that must pass first.
    """

    name: str
    run: Callable[[S], CheckResult]
    needs: tuple[str, ...] = ()


CHECKS: tuple[Check[DoctorSettings], ...] = (
    Check(clock.NAME, clock.check_clock),
    Check(sts.NAME, sts.check_sts, needs=(clock.NAME,)),
    Check(bucket.EXISTS, bucket.check_exists, needs=(clock.NAME,)),
    Check(bucket.BLOCK_PUBLIC_ACCESS, bucket.check_block_public_access, needs=(bucket.EXISTS,)),
    Check(grant.GRANT, grant.check_grant, needs=(sts.NAME, bucket.EXISTS)),
    Check(grant.ROLE_SCOPE, grant.check_role_scope, needs=(sts.NAME, bucket.EXISTS)),
    Check(broker.TLS, broker.check_tls),
    Check(broker.LOGIN, broker.check_login, needs=(broker.TLS,)),
    Check(broker.ACL, broker.check_acl, needs=(broker.LOGIN,)),
    Check(registry.NAME, registry.check_registry),
    Check(quarantine.NAME, quarantine.check_admin),
)

# From a camera's configuration alone: what concerns that one camera.
CAMERA_CHECKS: tuple[Check[CameraDoctorSettings], ...] = (
    Check(camera.TLS, camera.check_tls),
    Check(camera.LOGIN, camera.check_login, needs=(camera.TLS,)),
    Check(camera.CREDS, camera.check_creds, needs=(camera.LOGIN,)),
    Check(camera.ACL, camera.check_acl, needs=(camera.CREDS,)),
)

# From the console's configuration alone: what concerns the console.
CONSOLE_CHECKS: tuple[Check[ConsoleDoctorSettings], ...] = (
    Check(console.EXISTS, console.check_exists),
    Check(console.BLOCK_PUBLIC_ACCESS, console.check_block_public_access, needs=(console.EXISTS,)),
    Check(console.RIGHTS, console.check_rights, needs=(console.EXISTS,)),
    Check(console.TLS, console.check_tls),
    Check(console.LOGIN, console.check_login, needs=(console.TLS,)),
    Check(console.REGISTRY, console.check_registry),
)


def run_checks(
    settings: DoctorSettings, checks: Sequence[Check[DoctorSettings]] = CHECKS
) -> Report:
    """Run the responder's checks (see :func:`run`)."""
    return run(settings, checks)


def run_camera_checks(settings: CameraDoctorSettings) -> Report:
    """Run the checks that apply to one camera's configuration (see :func:`run`)."""
    return run(settings, CAMERA_CHECKS)


def run_console_checks(settings: ConsoleDoctorSettings) -> Report:
    """Run the checks that apply to the console's configuration (see :func:`run`); the broker
    checks only when the console uses MQTT."""
    mqtt = settings.console.mqtt.enabled
    return run(settings, [c for c in CONSOLE_CHECKS if mqtt or not c.name.startswith("broker.")])


def run(settings: S, checks: Sequence[Check[S]]) -> Report:
    """Run the checks in order.

    Args:
        settings: what to check.
        checks: the checks, in order.

    Returns:
        The report; :attr:`Report.ready` says whether the setup is ready.
    """
    results: dict[str, CheckResult] = {}
    for check in checks:
        blocked = [n for n in check.needs if n in results and results[n].status is not Status.PASS]
        if blocked:
            results[check.name] = skipped(check.name, f"needs {', '.join(blocked)} to pass first")
            continue
        try:
            results[check.name] = check.run(settings)
        except DoctorError as exc:
            results[check.name] = failed(
                check.name, exc.message, "check the network path to the endpoint and run again"
            )
        except Exception as exc:  # one broken check must not hide the others
            results[check.name] = failed(
                check.name,
                f"the check stopped with {type(exc).__name__}",
                "run the doctor again; if it repeats, report it with the configuration",
            )
    return Report(tuple(results.values()))
