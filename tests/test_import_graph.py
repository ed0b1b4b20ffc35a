"""Package boundaries: what each package may import (docs/development.md, "Layers").

- ``device`` runs on cameras: never ``cloud`` or ``simulator``, and nothing that only the
  ``[cloud]`` or ``[sim]`` extras install (web frameworks, Redis, the STS SDK, PyAV ...).
- ``schemas`` is the shared protocol: only the standard library, pydantic and cryptography.
- ``cloud`` never imports ``device`` or ``simulator``: the services speak to cameras only
  through ``schemas``.
- Inside ``simulator`` the sub-packages form layers (:data:`SIMULATOR_LAYERS`): a module may
  import its own sub-package and lower layers only, so the shared bases stay a leaf and the
  emulator assembles the services without any of them importing it back; and no two modules of
  ``simulator`` import each other in a circle (``TYPE_CHECKING`` imports included).
- Package ``__init__`` modules are eager facades: no module-level ``__getattr__``.

Checked twice: statically (every import statement, including ones inside functions and
``TYPE_CHECKING`` blocks) and at run time (importing every module and looking at
``sys.modules``). The static rules are checked against a copy of the tree with a bad import
planted, so a rule that can no longer fail is noticed.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "development.md"
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
    "sqlalchemy",
    "alembic",
    "psycopg",
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
CLOUD_FORBIDDEN = {"device", "simulator"}

# Bottom to top; a sub-package may import its own layer's package and lower layers only.
SIMULATOR_LAYERS: tuple[tuple[str, ...], ...] = (
    ("lifetime",),  # process lifetime of the commands: standard library only
    ("base", "boards", "broker", "database", "netfault", "video"),  # shared bases, tools
    ("iam", "oss"),  # services on the shared bases
    ("sts",),  # AssumeRole, on IAM
    ("emulator",),  # assembles IAM, STS and OSS into one server
    ("fleet",),  # runs cameras, responder, broker and emulator together
    ("bench", "demo"),  # entry points over everything below
)
_RANK = {name: rank for rank, layer in enumerate(SIMULATOR_LAYERS) for name in layer}


def _modules(package: str, root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    base = root / package
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imported_modules(module: str, path: Path) -> set[str]:
    """Dotted names imported anywhere in a module (relative imports resolved).

    ``from a.b import c`` yields ``a.b`` and ``a.b.c`` (``c`` may be a module or a name).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                base = node.module
            else:
                # from . / from .. : resolve against the module's own package.
                package_parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join([*parts, *(node.module.split(".") if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    names.discard("")
    return names


def _imported_top_levels(module: str, path: Path) -> set[str]:
    """Top-level package names imported anywhere in a module (relative imports resolved)."""
    return {name.split(".")[0] for name in _imported_modules(module, path)}


def _simulator_layer_violations(module: str, imports: set[str]) -> list[str]:
    own = module.split(".")[1] if module.count(".") >= 1 else None
    if own is None:
        return []
    if own not in _RANK:
        return [f"{module}: sub-package simulator.{own} has no layer in SIMULATOR_LAYERS"]
    others = {
        parts[1]
        for parts in (name.split(".") for name in imports)
        if parts[0] == "simulator" and len(parts) > 1 and parts[1] != own
    }
    return [
        f"{module} imports simulator.{other} (a layer above or beside simulator.{own})"
        for other in sorted(others)
        if other not in _RANK or _RANK[other] >= _RANK[own]
    ]


def _simulator_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each import circle among simulator's modules, once, as ``a -> b -> a``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[str] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(" <-> ".join(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def boundary_violations(root: Path) -> list[str]:
    """Every broken import rule in the tree under ``root`` (empty when all hold)."""
    bad: list[str] = []
    for module, path in _modules("device", root):
        names = {n.split(".")[0] for n in _imported_modules(module, path)}
        bad += [f"{module} imports {n}" for n in sorted(names & DEVICE_FORBIDDEN_STATIC)]
    for module, path in _modules("schemas", root):
        names = {n.split(".")[0] for n in _imported_modules(module, path)} - {"__future__"}
        bad += [
            f"{module} imports {n}"
            for n in sorted(names)
            if n not in sys.stdlib_module_names and n not in SCHEMAS_ALLOWED
        ]
    for module, path in _modules("cloud", root):
        names = {n.split(".")[0] for n in _imported_modules(module, path)}
        bad += [f"{module} imports {n}" for n in sorted(names & CLOUD_FORBIDDEN)]
    graph: dict[str, set[str]] = {}
    simulator_modules = dict(_modules("simulator", root))
    for module, path in simulator_modules.items():
        imports = _imported_modules(module, path)
        bad += _simulator_layer_violations(module, imports)
        graph[module] = {n for n in imports if n in simulator_modules and n != module}
    # A package's __init__ runs before its modules: importing ``simulator.x.y`` imports
    # ``simulator.x`` first, so a module importing its own package facade is no circle.
    for module in graph:
        graph[module] = {n for n in graph[module] if not module.startswith(n + ".")}
    bad += [f"import circle: {cycle}" for cycle in _simulator_cycles(graph)]
    for package in PACKAGES:
        for module, path in _modules(package, root):
            if path.name != "__init__.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(
                isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
                for node in tree.body
            ):
                bad.append(f"{module}: a lazy module __getattr__ (package facades are eager)")
    return bad


def test_every_boundary_rule_holds() -> None:
    assert boundary_violations(ROOT) == []


def test_the_rules_are_written_down_where_the_docstring_says() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "## Layers" in text
    for layer in SIMULATOR_LAYERS:
        for name in layer:
            assert f"simulator/{name}" in text, name


PLANTED = [
    ("device/errors.py", "import cloud.settings", "device.errors imports cloud"),
    ("device/appender.py", "import redis", "device.appender imports redis"),
    ("schemas/ids.py", "import oss2", "schemas.ids imports oss2"),
    ("cloud/settings.py", "from device import errors", "cloud.settings imports device"),
    ("cloud/registry/__init__.py", "import simulator.oss", "cloud.registry imports simulator"),
    (
        "simulator/oss/errors.py",
        "from simulator.emulator.server import Emulator",
        "simulator.oss.errors imports simulator.emulator",
    ),
    (
        "simulator/iam/models.py",
        "from simulator.sts import errors",
        "simulator.iam.models imports simulator.sts",
    ),
    ("simulator/base/asgi.py", "import simulator.iam", "simulator.base.asgi imports simulator.iam"),
    (
        "simulator/emulator/oss_wiring.py",
        "from simulator.emulator.server import Emulator",
        "import circle:",
    ),
    ("simulator/oss/__init__.py", "def __getattr__(name): ...", "simulator.oss: a lazy module"),
]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


@pytest.mark.parametrize(("file", "line", "expected"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_bad_import_is_caught(
    tree_copy: Path, file: str, line: str, expected: str
) -> None:
    target = tree_copy / file
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(f"{original}\n{line}\n", encoding="utf-8")
        found = boundary_violations(tree_copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert any(message.startswith(expected) for message in found), found


def test_static_walk_finds_modules() -> None:
    for package in PACKAGES:
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
        ("cloud", CLOUD_FORBIDDEN),
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
