"""``ossmedia demo``: the whole system on this machine, in one command.

Starts the OSS + STS emulator, Mosquitto (or the embedded amqtt broker when Mosquitto is not
installed), a credential responder, the web console, and 8 cameras recording real H.264
test-pattern video (synthetic bytes without PyAV); prints the URLs and a live summary; ends
on Ctrl-C or after ``--duration`` with the integrity report of every stored byte.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from simulator.broker import MosquittoNotFoundError, find_mosquitto
from simulator.demo.amqtt_broker import running_amqtt
from simulator.fleet.cli import quiet_logs
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import Scenario
from simulator.fleet.services import LocalServices
from simulator.video import video_available

__all__ = ["build_parser", "main"]

_FOREVER_S = 7 * 24 * 3600.0


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia demo`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia demo",
        description=(
            "Run everything locally with no cloud account: the OSS + STS emulator, an MQTT "
            "broker (Mosquitto, or amqtt when Mosquitto is missing), the credential responder, "
            "the web console and 8 cameras recording test-pattern video. Prints the URLs and a "
            "live summary; Ctrl-C (or --duration) ends it with the integrity report. Exit "
            "status 0 means every recorded byte is stored exactly once."
        ),
    )
    parser.add_argument(
        "--duration", type=float, help="record for this many seconds (default: until Ctrl-C)"
    )
    parser.add_argument("--cameras", type=int, default=8, help="number of cameras (8)")
    parser.add_argument(
        "--bitrate", type=int, default=256_000, help="video bitrate per camera (256000)"
    )
    parser.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="which local broker to run (auto: Mosquitto when installed)",
    )
    parser.add_argument("--no-console", action="store_true", help="do not start the web console")
    parser.add_argument("--report", type=Path, help="also write the JSON report here")
    parser.add_argument("--verbose", action="store_true", help="show the cameras' warnings")
    return parser


def _choose_broker(choice: str) -> str:
    if choice != "auto":
        return choice
    try:
        find_mosquitto()
    except MosquittoNotFoundError:
        return "amqtt"
    return "mosquitto"


@contextlib.contextmanager
def _console(services: LocalServices, workdir: Path, out: TextIO) -> Iterator[None]:
    """Run the web console against the services; yields once it serves."""
    from cloud.console.passwords import hash_password
    from cloud.console.runtime import Console
    from cloud.console.settings import ConsoleSettings
    from simulator.broker import DEFAULT_CONSOLE_USER

    password = secrets.token_urlsafe(9)
    emulator = services.emulator
    host, _, port = services.urls.broker_url.removeprefix("mqtt://").partition(":")
    data: dict[str, Any] = {
        "http": {"port": 0},
        "operators": [{"username": "demo", "password_hash": hash_password(password)}],
        "mqtt": {"host": host, "port": int(port), "username": DEFAULT_CONSOLE_USER},
        "oss": {
            "endpoint": emulator.oss_endpoint,
            "bucket": emulator.bucket,
            "region": emulator.region,
            "access_key_id": emulator.access_key_id,
            "access_key_secret": emulator.access_key_secret,
        },
        "ledger": {"path": str(workdir / "console.sqlite3")},
        "reconcile": {"interval_s": 10},
        "registry": {"url": services.settings.registry.url},
    }
    from cloud.console.devices import RegistryDevices

    console = Console(
        ConsoleSettings.model_validate(data), devices=RegistryDevices(services.registry)
    )
    url = console.start()
    print(f"  web console:  {url}  (user demo, password {password})", file=out, flush=True)
    try:
        yield
    finally:
        console.stop()


def main(argv: list[str]) -> int:
    """Run ``ossmedia demo``."""
    args = build_parser().parse_args(argv)
    quiet_logs(args.verbose)
    out = sys.stderr
    stop = threading.Event()
    started = time.monotonic()
    stop_at: list[float] = []

    def interrupt(*_: object) -> None:
        if not stop_at:
            stop_at.append(time.monotonic() - started)
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, interrupt)
    broker_kind = _choose_broker(args.broker)
    video = video_available()
    print(
        f"ossmedia demo: {args.cameras} cameras, "
        f"{'H.264 test-pattern video' if video else 'synthetic bytes (PyAV not installed)'}, "
        f"broker {broker_kind}; Ctrl-C ends the recording and prints the integrity report",
        file=out,
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ossmedia-demo-")))
        broker_url = None
        if broker_kind == "amqtt":
            broker_url = stack.enter_context(running_amqtt())

        def announce(services: LocalServices) -> None:
            emu = services.emulator
            print(f"  OSS + STS emulator: {emu.oss_endpoint}  bucket {emu.bucket}", file=out)
            print(f"  MQTT broker:  {services.urls.broker_url}", file=out, flush=True)
            if not args.no_console:
                try:
                    stack.enter_context(_console(services, workdir, out))
                except Exception as exc:  # the demo runs on without its console
                    print(f"  web console not started: {exc}", file=out, flush=True)

        settings = FleetSettings(
            cameras=args.cameras,
            duration_s=args.duration or _FOREVER_S,
            bitrate_bps=args.bitrate,
            scenario=Scenario(
                name="demo", description="a small fleet, no faults", boot_spread_s=1.0
            ),
            drain_s=30.0,
            broker_url=broker_url,
            basic_broker=broker_kind == "amqtt",
            workdir=workdir,
            rollover_s=3600.0,  # one playable fMP4 object per camera and hour
            video=video,
            progress_s=5.0,
        )
        try:
            report = run_fleet(settings, out=out, stop=stop, on_services=announce)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if args.duration is None:
            report.set_duration(round(stop_at[0] if stop_at else report.wall_s, 1))
    print(report.summary())
    if args.report is not None:
        report.write(args.report)
    return report.exit_status
