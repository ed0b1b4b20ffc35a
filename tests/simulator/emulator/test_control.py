"""The control surface is declared once (``Control``); the emulator, the handle and the admin
routes all match it, down to which parameters are keyword-only."""

from __future__ import annotations

import inspect

import pytest

from simulator.emulator.control import ENDPOINTS, Control
from simulator.emulator.handle import EmulatorHandle
from simulator.emulator.server import Emulator

METHODS = sorted(
    name
    for name, member in vars(Control).items()
    if inspect.isfunction(member) and not name.startswith("_")
)


def _shape(function: object) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_every_control_method_has_one_admin_route() -> None:
    assert sorted(ENDPOINTS) == METHODS
    assert len(set(ENDPOINTS.values())) == len(ENDPOINTS)


@pytest.mark.parametrize("implementation", [Emulator, EmulatorHandle], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_implementations_match_the_declaration(implementation: type, name: str) -> None:
    assert _shape(getattr(implementation, name)) == _shape(getattr(Control, name))


def test_a_drifted_signature_is_noticed() -> None:
    class Drifted:
        def create_role(self, name: str, *, policies: list[object]) -> str:
            return name

    assert _shape(Drifted.create_role) != _shape(Control.create_role)


def _conforms(emulator: Emulator, handle: EmulatorHandle) -> tuple[Control, Control]:
    # Checked by mypy: both are structurally a Control.
    return emulator, handle
