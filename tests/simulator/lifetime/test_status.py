"""The exit statuses are declared once; every long-running command's --help and the docs
list them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from simulator.bench import device, emulator, fleet
from simulator.bench.responder import run as responder
from simulator.demo import cli as demo
from simulator.fleet import cli as fleet_cli
from simulator.lifetime import EXIT_STATUSES, signal_status

DOCS = Path(__file__).resolve().parents[3] / "docs" / "lifetime.md"


def test_signal_statuses_are_128_plus_the_signal() -> None:
    assert signal_status(2) == 130
    assert signal_status(15) == 143


@pytest.mark.parametrize(
    "parser",
    [
        fleet_cli.build_parser(),
        emulator.build_parser(),
        fleet.build_parser(),
        device.build_parser(),
        responder.build_parser(),
    ],
    ids=["fleet", "bench emulator", "bench fleet", "bench device", "bench responder"],
)
def test_help_lists_every_status(parser: argparse.ArgumentParser) -> None:
    text = " ".join(parser.format_help().split())
    for status in EXIT_STATUSES:
        assert f"{status.code} " in text, status


def test_demo_help_says_what_a_signal_does_to_the_status() -> None:
    text = " ".join(demo.build_parser().format_help().split())
    assert "the report of what was run decides the status" in text
    assert "130 (SIGINT) or 143 (SIGTERM)" in text


def test_docs_list_every_status() -> None:
    text = DOCS.read_text()
    for status in EXIT_STATUSES:
        assert f"| {status.code} |" in text, status
