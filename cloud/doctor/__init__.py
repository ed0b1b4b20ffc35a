"""``ossmedia doctor``: is a deployment ready for its first camera?

One module per check family (:mod:`~cloud.doctor.clock`, :mod:`~cloud.doctor.sts`,
:mod:`~cloud.doctor.bucket`, :mod:`~cloud.doctor.grant`, :mod:`~cloud.doctor.broker`,
:mod:`~cloud.doctor.registry`, :mod:`~cloud.doctor.quarantine`), declared once in
:mod:`~cloud.doctor.checks`; the checks a camera's own configuration allows are in
:mod:`~cloud.doctor.camera`, the console's in :mod:`~cloud.doctor.console`.
"""

from cloud.doctor.camera import CameraDoctorSettings
from cloud.doctor.checks import (
    CAMERA_CHECKS,
    CHECKS,
    CONSOLE_CHECKS,
    Check,
    run_camera_checks,
    run_checks,
    run_console_checks,
)
from cloud.doctor.config import (
    load_camera_doctor_settings,
    load_console_doctor_settings,
    load_doctor_settings,
)
from cloud.doctor.console import ConsoleDoctorSettings
from cloud.doctor.errors import DoctorError
from cloud.doctor.report import CheckResult, Report, Status
from cloud.doctor.settings import ConsoleOss, DoctorSettings

__all__ = [
    "CAMERA_CHECKS",
    "CHECKS",
    "CONSOLE_CHECKS",
    "CameraDoctorSettings",
    "Check",
    "CheckResult",
    "ConsoleDoctorSettings",
    "ConsoleOss",
    "DoctorError",
    "DoctorSettings",
    "Report",
    "Status",
    "load_camera_doctor_settings",
    "load_console_doctor_settings",
    "load_doctor_settings",
    "run_camera_checks",
    "run_checks",
    "run_console_checks",
]
