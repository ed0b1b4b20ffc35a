"""Run a camera bundle's installer the way a camera would: offline, on a read-only root.

:func:`install` unpacks nothing itself; it runs ``install.sh`` in new mount and network
namespaces (``unshare -mn``) where the whole root file system is remounted read-only
except the directories given as writable (the prefix's parent, the data partition, the
configuration directory's parent), and where no network interface but a down loopback
exists. An installer that wrote anywhere else, or reached for the network, fails there.
"""

from __future__ import annotations

import shlex
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layout", "install", "tree", "unpack"]


@dataclass(frozen=True)
class Layout:
    """Where one installation goes (all absolute paths)."""

    prefix: Path
    data: Path
    conf: Path

    @classmethod
    def under(cls, base: Path) -> Layout:
        """The camera's paths under ``base`` (``opt/ossmedia``, ``data``, ``etc/ossmedia``)."""
        layout = cls(base / "opt" / "ossmedia", base / "data", base / "etc" / "ossmedia")
        for directory in (layout.prefix.parent, layout.data, layout.conf.parent):
            directory.mkdir(parents=True, exist_ok=True)
        return layout

    @property
    def python(self) -> Path:
        """The installed venv's interpreter."""
        return self.prefix / "current" / "bin" / "python"

    @property
    def launcher(self) -> Path:
        """``bin/ossmedia-camera``: the agent as the service runs it."""
        return self.prefix / "current" / "bin" / "ossmedia-camera"

    def agent_command(self, *args: str, emulator: Sequence[str] = ()) -> list[str]:
        """The launcher's command line for ``args``, run through ``emulator`` if given.

        The launcher is a shell script that ``exec``s the release's interpreter with its
        flags; under qemu-user (no binfmt_misc) a script cannot start the board's ELF
        interpreter, so its ``exec`` line is read and run here instead.
        """
        lines = [
            line for line in self.launcher.read_text().splitlines() if line.startswith("exec ")
        ]
        if len(lines) != 1 or not lines[0].endswith(' "$@"'):
            raise ValueError(f"{self.launcher} has no single 'exec ... \"$@\"' line")
        return [*emulator, *shlex.split(lines[0])[1:-1], *args]

    @property
    def config(self) -> Path:
        """``camera.toml``."""
        return self.conf / "camera.toml"


def unpack(archive: Path, into: Path) -> Path:
    """Extract a bundle archive; return its top directory."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
        top = tar.getnames()[0].split("/")[0]
    return into / top


def install(
    bundle: Path,
    layout: Layout,
    *,
    python: str | None = None,
    writable: tuple[Path, ...] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """Run ``bundle/install.sh`` for ``layout`` offline on a read-only root.

    Args:
        bundle: the unpacked bundle.
        layout: prefix, data partition and configuration directory.
        python: ``--python`` (default: the installer's own default).
        writable: the directories left writable (default: the layout's).
        timeout: seconds.
    """
    if writable is None:
        writable = (layout.prefix.parent, layout.data, layout.conf.parent)
    writable = tuple(d for d in writable if d.is_dir())
    binds = " && ".join(
        f"mount --bind {shlex.quote(str(d))} {shlex.quote(str(d))}" for d in writable
    )
    reopen = " && ".join(f"mount -o remount,bind,rw {shlex.quote(str(d))}" for d in writable)
    command = [
        "sh", str(bundle / "install.sh"),
        "--prefix", str(layout.prefix), "--data", str(layout.data), "--config-dir", str(layout.conf),
    ]  # fmt: skip
    if python is not None:
        command += ["--python", python]
    script = " && ".join(
        part
        for part in (
            "mount --make-rprivate /",
            binds,
            "mount --bind / /",
            "mount -o remount,bind,ro /",
            reopen,
            "exec " + shlex.join(command),
        )
        if part
    )
    return subprocess.run(  # noqa: S603 - fixed programs, our arguments
        ["unshare", "--mount", "--net", "sh", "-c", script],  # noqa: S607
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def tree(path: Path) -> dict[str, bytes | None]:
    """Every file (with content) and directory (None) under ``path``, for before/after checks."""
    if not path.exists():
        return {}
    return {
        p.relative_to(path).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(path.rglob("*"))
    }
