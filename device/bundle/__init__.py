"""Camera install bundles: per-target archives of wheels, an offline installer, service files.

``ossmedia bundle --target linux-armv7l`` (:mod:`device.bundle.cli`) builds on a machine
with network access what a firmware image needs: see :mod:`device.bundle.build` for the
archive's layout, and ``install.sh --help`` inside it for the installation.
"""

from __future__ import annotations

from device.bundle.build import Bundle, BundleSpec, build_bundle, camera_toml_template
from device.bundle.errors import BundleError
from device.bundle.targets import LEFT_OUT, TARGETS, Target, camera_requirements, target

__all__ = [
    "LEFT_OUT",
    "TARGETS",
    "Bundle",
    "BundleError",
    "BundleSpec",
    "Target",
    "build_bundle",
    "camera_requirements",
    "camera_toml_template",
    "target",
]
