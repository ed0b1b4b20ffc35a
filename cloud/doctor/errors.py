"""Errors of ``ossmedia doctor``.

Tree::

    CloudError                 (cloud.errors)
    └── DoctorError            the doctor cannot start: a configuration it was given is unusable

A failing *check* is not an error: it is a :class:`~cloud.doctor.report.CheckResult` with a
reason and a fix. Only a configuration the doctor cannot even read raises.
"""

from __future__ import annotations

from cloud.errors import CloudError


class DoctorError(CloudError):
    """A configuration given to the doctor is missing or invalid (the message says which)."""
