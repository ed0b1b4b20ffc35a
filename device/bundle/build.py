"""Build one camera bundle: wheels for a target, the installer, service files, a manifest.

Layout of ``ossmedia-camera-<version>-<target>-cp<XY>.tar.gz``::

    ossmedia-camera-.../
        install.sh            the offline installer (POSIX sh)
        bundle.env            facts install.sh checks: version, target, machines, Python
        MANIFEST.json         versions, SHA-256 of every file, target platform
        SIZES.txt             the size report
        wheels/*.whl          every wheel the camera needs, pip's included
        share/camera.toml     the configuration laid out on first install (stdlib OSS client)
        share/ossmedia-camera.service, share/ossmedia-camera.init

Binary wheels come from the package index for the target's platform tags only
(``pip download --only-binary``), so nothing is compiled on the camera. A dependency that
ships only an sdist can be named in ``from_source``: it is built into a wheel on the
build host and accepted only if the wheel is pure Python.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from device.agent.example import EXAMPLE_CONFIG
from device.bundle.camerawheel import build_camera_wheel
from device.bundle.errors import BundleError
from device.bundle.manifest import manifest_for, size_report
from device.bundle.targets import LEFT_OUT, Target, camera_requirements, project_version

__all__ = ["Bundle", "BundleSpec", "build_bundle", "camera_toml_template"]

Runner = Callable[[Sequence[str]], None]


def _run(command: Sequence[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-5:]
        raise BundleError("pip failed: " + " / ".join(tail)) from None


@dataclass(frozen=True)
class BundleSpec:
    """What to build.

    Attributes:
        target: the camera platform.
        python: the camera's CPython ``major.minor`` (compiled wheels are for it alone).
        source_root: the ossmedia source tree (``pyproject.toml``, ``constraints.txt``).
        out_dir: where the archive goes.
        from_source: sdist-only dependencies to build on this host (must be pure Python).
        pip: the command that runs pip on the build host.
    """

    target: Target
    python: str
    source_root: Path
    out_dir: Path
    from_source: tuple[str, ...] = ()
    pip: tuple[str, ...] = field(default=(sys.executable, "-m", "pip"))

    @property
    def abi(self) -> str:
        """The CPython ABI tag, ``cp311`` for ``3.11``."""
        return "cp" + self.python.replace(".", "")

    @property
    def name(self) -> str:
        """The archive's base name (and its top directory)."""
        version = project_version(self.source_root)
        return f"ossmedia-camera-{version}-{self.target.name}-{self.abi}"


@dataclass(frozen=True)
class Bundle:
    """A built bundle: the archive, its manifest and its size report."""

    archive: Path
    manifest: dict[str, Any]
    size_report: str


def camera_toml_template() -> str:
    """The ``camera.toml`` a first install lays out: the example, on the data partition,
    with the stdlib OSS client (``@DATA@`` is replaced by the installer)."""
    text = EXAMPLE_CONFIG
    for old, new in (
        ('client = "oss2"', 'client = "http"'),
        # The spool is on the data partition: if it is not mounted, do not spool elsewhere.
        ("must_exist = false", "must_exist = true"),
        ("/var/lib/ossmedia", "@DATA@"),
    ):
        if old not in text:
            raise BundleError(f"the example configuration no longer has {old!r}")
        text = text.replace(old, new)
    return text


def _check_python(version: str) -> None:
    parts = version.split(".")
    if (
        len(parts) != 2
        or not all(p.isdigit() for p in parts)
        or (int(parts[0]), int(parts[1]))
        < (
            3,
            11,
        )
    ):
        raise BundleError(
            f"--python wants a CPython version such as 3.11 (>= 3.11), not {version!r}"
        )


def _download_wheels(spec: BundleSpec, wheels: Path, run: Runner) -> None:
    constraints = spec.source_root / "constraints.txt"
    pins = ["-c", str(constraints)] if constraints.is_file() else []
    for name in spec.from_source:
        with tempfile.TemporaryDirectory() as scratch:
            run([*spec.pip, "wheel", "--no-deps", "--no-binary", name, "-w", scratch, *pins, name])
            for built in Path(scratch).glob("*.whl"):
                if not built.name.endswith("-none-any.whl"):
                    raise BundleError(
                        f"{name} builds a compiled wheel ({built.name}); "
                        f"it cannot go into a bundle for {spec.target.name}"
                    )
                shutil.move(built, wheels / built.name)
    platforms = [arg for tag in spec.target.platforms for arg in ("--platform", tag)]
    pip_version = importlib.metadata.version("pip")
    run(
        [
            *spec.pip, "download", "--quiet", "--dest", str(wheels), "--only-binary=:all:",
            *platforms, "--python-version", spec.python, "--implementation", "cp",
            "--abi", spec.abi, "--abi", "abi3", "--abi", "none",
            "--find-links", str(wheels), *pins,
            *camera_requirements(spec.source_root), f"pip=={pip_version}",
        ]
    )  # fmt: skip


def _bundle_env(spec: BundleSpec, version: str, pip_wheel: str) -> str:
    return (
        f"BUNDLE_VERSION={version}\n"
        f"BUNDLE_TARGET={spec.target.name}\n"
        f"BUNDLE_MACHINES='{' '.join(spec.target.machines)}'\n"
        f"BUNDLE_PYTHON={spec.python}\n"
        f"PIP_WHEEL={pip_wheel}\n"
    )


def _add_tree(tar: tarfile.TarFile, root: Path, arcroot: str) -> None:
    for path in sorted(root.rglob("*")):
        info = tar.gettarinfo(str(path), f"{arcroot}/{path.relative_to(root).as_posix()}")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        if info.isfile():
            with path.open("rb") as data:
                tar.addfile(info, data)
        else:
            tar.addfile(info)


def build_bundle(spec: BundleSpec, run: Runner = _run) -> Bundle:
    """Build the bundle ``spec`` describes.

    Args:
        spec: target, Python version, source tree, output directory.
        run: runs one command (pip) and raises :class:`BundleError` when it fails.

    Returns:
        The archive, its manifest and its size report.

    Raises:
        BundleError: a wheel cannot be had for the target, or the tree is incomplete.
    """
    _check_python(spec.python)
    version = project_version(spec.source_root)
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=spec.out_dir) as scratch:
        top = Path(scratch) / spec.name
        wheels, share = top / "wheels", top / "share"
        wheels.mkdir(parents=True)
        share.mkdir()
        _download_wheels(spec, wheels, run)
        build_camera_wheel(spec.source_root, version, camera_requirements(spec.source_root), wheels)
        pip_wheels = sorted(wheels.glob("pip-*.whl"))
        if not pip_wheels:
            raise BundleError("pip's own wheel was not downloaded")
        files = resources.files("device.bundle") / "files"
        for name in ("install.sh", "ossmedia-camera.service", "ossmedia-camera.init"):
            target = (top if name == "install.sh" else share) / name
            target.write_bytes((files / name).read_bytes())
            target.chmod(0o755 if name.endswith((".sh", ".init")) else 0o644)
        (share / "camera.toml").write_text(camera_toml_template())
        (top / "bundle.env").write_text(_bundle_env(spec, version, pip_wheels[0].name))
        manifest = manifest_for(
            top,
            version=version,
            target=spec.target,
            python=spec.python,
            left_out=LEFT_OUT,
        )
        (top / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        report = size_report(manifest)
        (top / "SIZES.txt").write_text(report)
        archive = spec.out_dir / f"{spec.name}.tar.gz"
        partial = archive.with_suffix(".partial")
        with open(partial, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_tree(tar, top, spec.name)
        partial.replace(archive)
    return Bundle(archive=archive, manifest=manifest, size_report=report)
