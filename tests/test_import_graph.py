"""Package boundaries: what each top-level package may import (DESIGN.md, "Packages").

- ``device`` runs on cameras: never ``cloud`` or ``simulator``, and nothing that only the
  ``[cloud]`` or ``[sim]`` extras install (web frameworks, Redis, the STS SDK, PyAV ...).
- ``schemas`` is the shared protocol: only the standard library, pydantic and cryptography.

Checked twice: statically (every import statement, including ones inside functions and
``TYPE_CHECKING`` blocks) and at run time (importing every module and looking at
``sys.modules``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("device", "cloud", "schemas", "simulator")

# Distributions the base install does not bring (import names).
EXTRAS_ONLY = {
    "aliyunsdksts",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "jinja2",
    "multipart",
    "python_multipart",
    "redis",
    "prometheus_client",
    "av",
    "amqtt",
    "httpx",
    "fastapi",
    "flask",
    "django",
    "aiohttp",
}

DEVICE_FORBIDDEN = {"cloud", "simulator"} | EXTRAS_ONLY
# oss2 itself loads aliyunsdkcore (a dependency of oss2), so it may appear at run time, but
# camera code must not call the Alibaba Cloud SDK core (STS and friends) directly.
DEVICE_FORBIDDEN_STATIC = DEVICE_FORBIDDEN | {"aliyunsdkcore"}
SCHEMAS_ALLOWED = {"schemas", "pydantic", "pydantic_core", "cryptography", "typing_extensions"}


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    base = ROOT / package
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imported_top_levels(module: str, path: Path) -> set[str]:
    """Top-level package names imported anywhere in a module (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                names.add(node.module.split(".")[0])
            else:
                # from . / from .. : resolve against the module's own package.
                package_parts = module.split(".") if is_package else module.split(".")[:-1]
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names.add(target[0] if target else "")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def test_static_walk_finds_modules() -> None:
    for package in ("device", "schemas"):
        assert len(list(_modules(package))) > 3, package


def test_import_resolution_of_the_walker(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text(
        "import os, cloud.responder\n"
        "from ..simulator import fleet\n"
        "from . import sibling\n"
        "def f():\n    import redis\n"
        "importlib.import_module('starlette.applications')\n"
    )
    names = _imported_top_levels("device.agent.x", sample)
    assert {"os", "cloud", "device", "redis", "starlette"} <= names
    assert "simulator" not in names  # `from ..simulator` inside device.agent is device.simulator
    nested = tmp_path / "y.py"
    nested.write_text("from ...simulator import fleet\n")
    assert _imported_top_levels("device.agent.y", nested) == {"simulator"}


@pytest.mark.parametrize(("module", "path"), list(_modules("device")), ids=lambda v: str(v))
def test_device_imports_nothing_from_cloud_simulator_or_extras(module: str, path: Path) -> None:
    bad = _imported_top_levels(module, path) & DEVICE_FORBIDDEN_STATIC
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize(("module", "path"), list(_modules("schemas")), ids=lambda v: str(v))
def test_schemas_imports_only_stdlib_pydantic_cryptography(module: str, path: Path) -> None:
    names = _imported_top_levels(module, path) - {"__future__"}
    bad = {n for n in names if n not in sys.stdlib_module_names and n not in SCHEMAS_ALLOWED}
    assert not bad, f"{module} imports {sorted(bad)}"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_all_packages_import() -> None:
    result = _run("import device, cloud, schemas, simulator")
    assert result.returncode == 0, result.stderr


_LOAD_ALL = """
import importlib, json, pkgutil, sys
pkg = importlib.import_module(sys.argv[1])
failed = []
for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules}), "failed": failed}))
"""


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("device", DEVICE_FORBIDDEN),
        ("schemas", {"device", "cloud", "simulator", "aliyunsdkcore"} | EXTRAS_ONLY),
    ],
)
def test_importing_every_module_loads_nothing_forbidden(package: str, forbidden: set[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_ALL, package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == []
    assert not set(report["loaded"]) & forbidden, sorted(set(report["loaded"]) & forbidden)
