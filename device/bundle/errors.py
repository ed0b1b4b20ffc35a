"""The bundle builder's error (a :class:`~device.errors.DeviceError`, code ``bundle``)."""

from __future__ import annotations

from device.errors import DeviceError

__all__ = ["BundleError"]


class BundleError(DeviceError):
    """A bundle cannot be built: unknown target, unresolvable wheel, bad source tree."""

    default_code = "bundle"
