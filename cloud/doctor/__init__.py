"""``ossmedia doctor``: is a deployment ready for its first camera?

One module per check family (:mod:`~cloud.doctor.clock`, :mod:`~cloud.doctor.sts`,
:mod:`~cloud.doctor.bucket`, :mod:`~cloud.doctor.grant`, :mod:`~cloud.doctor.broker`,
:mod:`~cloud.doctor.registry`), declared once in :mod:`~cloud.doctor.checks`.
"""

from cloud.doctor.checks import CHECKS, Check, run_checks
from cloud.doctor.config import load_doctor_settings
from cloud.doctor.errors import DoctorError
from cloud.doctor.report import CheckResult, Report, Status
from cloud.doctor.settings import ConsoleOss, DoctorSettings

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "ConsoleOss",
    "DoctorError",
    "DoctorSettings",
    "Report",
    "Status",
    "load_doctor_settings",
    "run_checks",
]
