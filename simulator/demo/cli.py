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
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from simulator.broker import MosquittoNotFoundError, find_mosquitto
from simulator.demo.amqtt_broker import running_amqtt
from simulator.fleet.cli import CAMERAS_DRAIN, quiet_logs
from simulator.fleet.report import FleetReport
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import Scenario
from simulator.fleet.services import LocalServices
from simulator.fleet.verdict import exit_status_help
from simulator.lifetime import (
    DrainSkipped,
    Shutdown,
    command_lifetime,
    signal_help,
    signal_status,
)
from simulator.lifetime import workdir as lifetime_workdir
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
            "live summary; Ctrl-C or SIGTERM (or --duration) ends it with the integrity "
            "report, after the cameras have uploaded what they hold (up to 30 s); a second "
            "Ctrl-C or SIGTERM skips that drain. Every process it starts ends with it, even "
            "when it is killed."
        ),
        epilog=exit_status_help() + " " + signal_help(),
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
    data: dict[str, Any] = {
        "http": {"port": 0},
        "operators": [{"username": "demo", "password_hash": hash_password(password)}],
        "mqtt": {"url": services.urls.broker_url, "username": DEFAULT_CONSOLE_USER},
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
    broker_kind = _choose_broker(args.broker)
    video = video_available()
    print(
        f"ossmedia demo: {args.cameras} cameras, "
        f"{'H.264 test-pattern video' if video else 'synthetic bytes (PyAV not installed)'}, "
        f"broker {broker_kind}; Ctrl-C ends the recording and prints the integrity report",
        file=out,
        flush=True,
    )
    with command_lifetime("ossmedia demo", draining=CAMERAS_DRAIN) as shutdown:
        try:
            report = _run(args, broker_kind, video, shutdown, out)
        except DrainSkipped as skipped:
            print("ossmedia demo: stopped without draining; no report", file=out, flush=True)
            return signal_status(skipped.signum)
    print(report.summary())
    if args.report is not None:
        report.write(args.report)
    return report.exit_status


def _run(
    args: argparse.Namespace, broker_kind: str, video: bool, shutdown: Shutdown, out: TextIO
) -> FleetReport:
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(lifetime_workdir("ossmedia-demo-"))
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
        report = run_fleet(settings, out=out, stop=shutdown.stop, on_services=announce)
    if args.duration is None and not report.interrupted:
        report.set_duration(round(report.wall_s, 1))
    return report
