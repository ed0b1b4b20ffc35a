"""A bundle's manifest (versions, SHA-256 of every file, target) and its size report."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from device.bundle.targets import Target

__all__ = ["UNHASHED", "manifest_for", "size_report"]

UNHASHED = ("MANIFEST.json", "SIZES.txt")
"""Files the manifest does not list: itself, and the report made from it."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_for(
    top: Path, *, version: str, target: Target, python: str, left_out: Mapping[str, str]
) -> dict[str, Any]:
    """Describe the bundle laid out under ``top``.

    Returns:
        A JSON-ready dictionary: ``version``, ``target``, ``machines``, ``python``,
        ``wheels`` (name, version, file, size, sha256), ``files`` (path to SHA-256),
        ``left_out`` (dependencies a camera does without, with the reason) and
        ``oss_client``.
    """
    files = {
        path.relative_to(top).as_posix(): _sha256(path)
        for path in sorted(top.rglob("*"))
        if path.is_file() and path.relative_to(top).as_posix() not in UNHASHED
    }
    wheels = []
    for path in sorted((top / "wheels").glob("*.whl")):
        name, wheel_version = path.name.split("-")[:2]
        wheels.append(
            {
                "name": name,
                "version": wheel_version,
                "file": path.name,
                "size": path.stat().st_size,
                "sha256": files[f"wheels/{path.name}"],
            }
        )
    return {
        "format": 1,
        "name": "ossmedia-camera",
        "version": version,
        "target": target.name,
        "machines": list(target.machines),
        "python": python,
        "oss_client": "http",
        "left_out": dict(left_out),
        "wheels": wheels,
        "files": files,
        "sizes": {
            "wheels_bytes": sum(w["size"] for w in wheels),
            "files_bytes": sum((top / name).stat().st_size for name in files),
        },
    }


def size_report(manifest: Mapping[str, Any]) -> str:
    """A plain-text table of the wheels by size, largest first, with totals."""
    rows = sorted(manifest["wheels"], key=lambda w: -w["size"])
    width = max((len(w["name"]) for w in rows), default=4)
    lines = [
        f"ossmedia camera bundle {manifest['version']} for {manifest['target']}, "
        f"CPython {manifest['python']}",
        "",
        f"{'wheel':<{width}}  {'version':<12} {'bytes':>10}",
    ]
    lines += [f"{w['name']:<{width}}  {w['version']:<12} {w['size']:>10,}" for w in rows]
    sizes = manifest["sizes"]
    lines += [
        "",
        f"{'wheels':<{width}}  {'':<12} {sizes['wheels_bytes']:>10,}",
        f"{'all files':<{width}}  {'':<12} {sizes['files_bytes']:>10,}",
        "",
        "left out: " + ", ".join(sorted(manifest["left_out"])),
    ]
    return "\n".join(lines) + "\n"
