"""Bundles built once per test session (the package index is consulted, wheels are cached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.bundle import Bundle, BundleSpec, build_bundle, target

REPO = Path(__file__).resolve().parents[3]


class Bundles:
    """Builds each (target, Python) bundle on first request and keeps it for the session."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._built: dict[tuple[str, str], Bundle] = {}

    def get(self, name: str, python: str = "3.11") -> Bundle:
        key = (name, python)
        if key not in self._built:
            spec = BundleSpec(target(name), python, REPO, self.out / f"{name}-{python}")
            self._built[key] = build_bundle(spec)
        return self._built[key]


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return Bundles(tmp_path_factory.mktemp("bundles"))
