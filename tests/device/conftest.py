"""Fixtures for device integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.emulator.handle import EmulatorHandle
from tests.device.stack import Stack
from tests.fixtures.broker import MosquittoFactory


@pytest.fixture
def stack_factory(
    mosquitto_factory: MosquittoFactory,
    make_emulator: Callable[..., EmulatorHandle],
    tmp_path: Path,
) -> Iterator[Callable[..., Stack]]:
    """Start a stack: ``stack_factory(emulator={...EmulatorSettings}, limits=Limits(...))``."""
    stacks: list[Stack] = []

    def make(*, emulator: dict[str, Any] | None = None, **kwargs: Any) -> Stack:
        workdir = tmp_path / f"stack-{len(stacks)}"
        workdir.mkdir()
        stack = Stack(mosquitto_factory(), make_emulator(**(emulator or {})), workdir, **kwargs)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    """Broker + emulator + real responder with default settings."""
    return stack_factory()
