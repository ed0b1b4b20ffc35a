"""Shared pytest configuration: fixtures live in ``tests/fixtures`` as plugins."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.emulator",
    "tests.fixtures.postgres",
    "tests.fixtures.redis",
]


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strip proxy variables: every test talks to loopback services only."""
    for name in list(os.environ):
        if name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
            monkeypatch.delenv(name, raising=False)
