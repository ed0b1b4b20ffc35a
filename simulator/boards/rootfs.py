"""Debian bookworm root file systems for ARM, cached outside the checkout, for qemu-user.

``ensure_rootfs("arm64")`` returns a directory holding Debian's ``python3`` for that
architecture: ``debootstrap --foreign`` downloads and unpacks the base system, and every
downloaded package is then unpacked with ``dpkg-deb -x`` (no second stage, no chroot: the
tests run ``qemu-<arch>-static -L ROOT ROOT/usr/bin/python3`` and never execute the
image's maintainer scripts). What those scripts would have done that matters here is done
once by hand: the standard library is byte-compiled by the root's own interpreter, as
Debian's ``py3compile`` does when ``python3`` is installed on a real board (without it, every
start would compile the modules it imports again, in the agent's memory). The first call
downloads about 60 MB per architecture; later calls, in any checkout, reuse
``$OSSMEDIA_ROOTFS_CACHE`` (default ``~/.cache/ossmedia/rootfs``). A file lock keeps two
test runs from building the same root at once; an interrupted build leaves only a
``*.partial`` directory, redone next time.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ARCHES", "Arch", "cache_dir", "emulated_python", "ensure_rootfs"]

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
PACKAGES = "python3"
READY = ".ossmedia-rootfs-ready"
COMPILED = ".ossmedia-stdlib-compiled"


@dataclass(frozen=True)
class Arch:
    """A Debian architecture and how to run its programs here."""

    debian: str
    qemu: str
    target: str  # the bundle target it installs


ARCHES = {
    "arm64": Arch("arm64", "qemu-aarch64-static", "linux-aarch64"),
    "armhf": Arch("armhf", "qemu-arm-static", "linux-armv7l"),
}


def cache_dir() -> Path:
    """Where root file systems are kept (``$OSSMEDIA_ROOTFS_CACHE`` or ``~/.cache/...``)."""
    configured = os.environ.get("OSSMEDIA_ROOTFS_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "ossmedia" / "rootfs"


def ensure_rootfs(debian_arch: str) -> Path:
    """Return the root file system of ``debian_arch``, building it on first use."""
    arch = ARCHES[debian_arch]
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / arch.debian
    with (cache / f".{arch.debian}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent run waits here, then finds it ready
        if (root / READY).is_file():
            if not (root / COMPILED).is_file():  # a root cached before it was byte-compiled
                _compile_stdlib(arch, root)
            return root
        partial = cache / f"{arch.debian}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        subprocess.run(  # noqa: S603 - fixed programs, our arguments
            [debootstrap, "--foreign", f"--arch={arch.debian}", "--variant=minbase",
             f"--include={PACKAGES}", SUITE, str(partial), MIRROR],
            check=True, capture_output=True, timeout=1800,
        )  # fmt: skip
        for deb in sorted((partial / "var" / "cache" / "apt" / "archives").glob("*.deb")):
            subprocess.run(  # noqa: S603 - fixed programs, our arguments
                ["dpkg-deb", "-x", str(deb), str(partial)],  # noqa: S607
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
        if not (partial / "usr" / "bin" / "python3").exists():
            raise RuntimeError(f"the {arch.debian} root file system has no python3")
        (partial / READY).write_text("debootstrap --foreign + dpkg-deb -x\n")
        partial.rename(root)
        _compile_stdlib(arch, root)
        return root


def _compile_stdlib(arch: Arch, root: Path) -> None:
    """Byte-compile the root's Python libraries with its own interpreter (a few seconds)."""
    libraries = sorted(
        str(path) for path in (root / "usr" / "lib").glob("python3*") if path.is_dir()
    )
    subprocess.run(  # noqa: S603 - fixed programs, our arguments
        [arch.qemu, "-L", str(root), str(root / "usr" / "bin" / "python3"),
         "-m", "compileall", "-q", "-j0", *libraries],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    (root / COMPILED).write_text("python3 -m compileall, as py3compile does on a board\n")


def emulated_python(debian_arch: str, root: Path, path: Path) -> Path:
    """Write a ``python3`` wrapper at ``path`` that runs the root's interpreter under qemu.

    Handed to ``install.sh --python``, it stands for the camera's ``/usr/bin/python3``.
    """
    arch = ARCHES[debian_arch]
    path.write_text(f'#!/bin/sh\nexec {arch.qemu} -L {root} {root}/usr/bin/python3 "$@"\n')
    path.chmod(0o755)
    return path
