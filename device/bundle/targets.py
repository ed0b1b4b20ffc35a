"""The platforms a camera bundle is built for, and the camera's dependency set.

Each :class:`Target` names the wheel platform tags pip may pick for it and the
``platform.machine()`` values of the cameras it runs on (the installer refuses others).
The camera's dependencies are the project's own (``pyproject.toml``) less
:data:`LEFT_OUT`, each left out for a stated reason.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from device.bundle.errors import BundleError

__all__ = ["LEFT_OUT", "TARGETS", "Target", "camera_requirements", "project_version", "target"]


@dataclass(frozen=True)
class Target:
    """One bundle target.

    Attributes:
        name: ``linux-<machine>``, as in the archive's name.
        platforms: pip ``--platform`` tags, most specific first.
        machines: ``platform.machine()`` values of the cameras it installs on.
    """

    name: str
    platforms: tuple[str, ...]
    machines: tuple[str, ...]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "linux-aarch64",
            ("manylinux_2_17_aarch64", "manylinux2014_aarch64"),
            ("aarch64", "arm64"),
        ),
        # 32-bit hard-float ARM (i.MX6, Allwinner, Raspberry Pi 2); a 32-bit user space on a
        # 64-bit kernel reports armv8l.
        Target(
            "linux-armv7l",
            ("manylinux_2_17_armv7l", "manylinux2014_armv7l"),
            ("armv7l", "armv8l"),
        ),
        Target(
            "linux-x86_64",
            ("manylinux_2_17_x86_64", "manylinux2014_x86_64"),
            ("x86_64", "amd64"),
        ),
    )
}

LEFT_OUT: dict[str, str] = {
    "oss2": (
        'the bundle configures the stdlib OSS client ([oss] client = "http"), which sends the '
        "same requests; oss2 pulls in requests, the Alibaba SDK core and crcmod (sdist only) "
        "and costs the camera tens of MB of memory"
    ),
    "cryptography": (
        "AES-GCM and HLS AES-128-CBC run on the interpreter's libcrypto; cryptography has no "
        "armv7l wheels"
    ),
}
"""Project dependencies a camera does without, and why."""

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def target(name: str) -> Target:
    """Return the target called ``name``.

    Raises:
        BundleError: no such target.
    """
    try:
        return TARGETS[name]
    except KeyError:
        known = ", ".join(TARGETS)
        raise BundleError(f"unknown target {name!r} (known: {known})") from None


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def camera_requirements(source_root: Path) -> tuple[str, ...]:
    """The requirement strings a camera installs: the project's dependencies less ``LEFT_OUT``.

    Raises:
        BundleError: ``pyproject.toml`` is missing or has no dependency list.
    """
    try:
        project = tomllib.loads((source_root / "pyproject.toml").read_text())["project"]
        dependencies: list[str] = project["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(f"cannot read the dependencies of {source_root}: {exc}") from None
    kept = []
    for requirement in dependencies:
        match = _NAME.match(requirement)
        if match is None:
            raise BundleError(f"unreadable requirement {requirement!r} in pyproject.toml")
        if _normal(match.group(1)) not in LEFT_OUT:
            kept.append(requirement)
    return tuple(kept)


def project_version(source_root: Path) -> str:
    """The ``[project] version`` of the source tree.

    Raises:
        BundleError: it cannot be read.
    """
    try:
        version: str = tomllib.loads((source_root / "pyproject.toml").read_text())["project"][
            "version"
        ]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(f"cannot read the version of {source_root}: {exc}") from None
    return version
