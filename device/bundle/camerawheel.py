"""The camera's own wheel: the ``device`` and ``schemas`` packages and the ``ossmedia`` command.

A camera runs ``ossmedia camera`` only, so its wheel leaves out the cloud and simulator
packages and declares the camera's dependency set (:func:`~device.bundle.targets.camera_requirements`)
instead of the project's. It is written directly in the wheel format (a zip with a
``.dist-info``), reproducibly: sorted entries, fixed timestamps.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

from device.bundle.errors import BundleError

__all__ = ["PACKAGES", "build_camera_wheel"]

PACKAGES = ("device", "schemas")
MODULES = ("ossmedia_cli.py",)
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _sources(root: Path) -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        base = root / package
        if not (base / "__init__.py").is_file():
            raise BundleError(f"{base} is not a package: not an ossmedia source tree")
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path.relative_to(root).as_posix(), path
    for module in MODULES:
        yield module, root / module


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_camera_wheel(
    root: Path, version: str, requirements: tuple[str, ...], out_dir: Path
) -> Path:
    """Write ``ossmedia-<version>-py3-none-any.whl`` into ``out_dir``.

    Args:
        root: the source tree (holds ``device/``, ``schemas/``, ``ossmedia_cli.py``).
        version: the distribution version.
        requirements: ``Requires-Dist`` entries.
        out_dir: where the wheel goes.

    Returns:
        The wheel's path.

    Raises:
        BundleError: the source tree is incomplete.
    """
    info = f"ossmedia-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            "Name: ossmedia",
            f"Version: {version}",
            "Summary: ossmedia camera agent (device and protocol packages)",
            "Requires-Python: >=3.11",
            *(f"Requires-Dist: {r}" for r in requirements),
            "",
        ]
    )
    generated = {
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: ossmedia-bundle\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": "[console_scripts]\nossmedia = ossmedia_cli:main\n",
    }
    path = out_dir / f"ossmedia-{version}-py3-none-any.whl"
    records: list[str] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:

        def add(name: str, data: bytes) -> None:
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
            records.append(_record_line(name, data))

        for name, source in _sources(root):
            try:
                add(name, source.read_bytes())
            except OSError as exc:
                raise BundleError(f"cannot read {source}: {exc.strerror}") from None
        for name, text in generated.items():
            add(name, text.encode())
        records.append(f"{info}/RECORD,,")
        add_record = zipfile.ZipInfo(f"{info}/RECORD", date_time=_EPOCH)
        add_record.external_attr = 0o644 << 16
        wheel.writestr(add_record, "\n".join(records) + "\n", zipfile.ZIP_DEFLATED)
    return path
