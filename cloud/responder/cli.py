"""``ossmedia responder``: run the credential responder.

Settings come from ``--config FILE`` (TOML) and ``OSSMEDIA_<SECTION>_<FIELD>`` environment
overrides; ``--example-config`` prints a complete commented file. SIGTERM or SIGINT stops it
gracefully: no new requests are taken and those in flight are answered.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import TextIO

from cloud.config import load_settings
from cloud.errors import CloudError
from cloud.responder.logs import configure_logging


def example_config() -> str:
    """The commented example configuration shipped with the package."""
    return files("cloud.responder").joinpath("example.toml").read_text(encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia responder`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia responder",
        description=(
            "Answer camera credential requests over MQTT with per-device, prefix-scoped STS "
            "credentials. Settings: --config FILE plus OSSMEDIA_<SECTION>_<FIELD> overrides."
        ),
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument(
        "--example-config", action="store_true", help="print a complete commented config and exit"
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the settings and exit (prints no secret)"
    )
    return parser


def run(argv: list[str], environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """Run ``ossmedia responder`` with an explicit environment and output streams.

    Returns:
        0 after a graceful stop, 1 on a configuration error.
    """
    args = build_parser().parse_args(argv)
    if args.example_config:
        out.write(example_config())
        return 0
    config = args.config or (
        Path(environ["OSSMEDIA_CONFIG"]) if "OSSMEDIA_CONFIG" in environ else None
    )
    try:
        settings = load_settings(config, environ)
    except CloudError as exc:
        err.write(f"ossmedia responder: {exc}\n")
        return 1
    if args.check:
        out.write("settings are valid\n")
        return 0
    configure_logging(settings.service.log_level, err)
    from cloud.responder.app import build_responder

    try:
        responder = build_responder(settings)
    except (CloudError, OSError) as exc:
        err.write(f"ossmedia responder: {exc}\n")
        return 1
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    responder.start()
    while not stop.wait(0.5):
        pass
    responder.stop()
    return 0


GC_THRESHOLDS = (20_000, 20, 20)
"""The responder process's garbage-collector thresholds (CPython's defaults: 700, 10, 10).

Each request allocates many short-lived objects (paho packets and message records, the
parsed request, the reply). With the default first-generation threshold a collection runs
every few requests and walks every young object still alive, those of all the requests in
flight; with this one nearly all of them are freed by reference counting before a collection
sees them. At full load the defaults cost about a tenth of the process's CPU.
"""


def main(argv: list[str]) -> int:
    """Entry point of ``ossmedia responder`` (a process of its own)."""
    gc.set_threshold(*GC_THRESHOLDS)
    return run(argv, os.environ, sys.stdout, sys.stderr)
