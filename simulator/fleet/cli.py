"""``ossmedia fleet``: simulate a camera fleet under a chaos scenario and audit every byte."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from simulator import lifetime
from simulator.fleet.checks import check_report_path
from simulator.fleet.errors import FleetInputError, FleetServiceError
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import builtin_names, load_scenario
from simulator.fleet.verdict import EXIT_STATUS, Reason, exit_status_help

__all__ = ["CAMERAS_DRAIN", "build_parser", "main", "quiet_logs"]

CAMERAS_DRAIN = "the cameras upload what they hold, then the report follows"


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia fleet`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia fleet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run N virtual cameras, built from the real camera agent, against a local "
            "Mosquitto, OSS + STS emulator and credential responder (or given services), "
            "inject a chaos scenario, then read every camera's objects back and account for "
            "every byte it produced (SHA-256 per produced chunk, CRC-64 per object).\n\n"
            "RESULT: OK only when every camera was audited, every produced byte is stored "
            "exactly once (or dropped by a spool policy the scenario forces), nothing is "
            "left spooled, every scenario step was applied and something was produced.\n"
            + exit_status_help()
            + "\n\nCtrl-C or SIGTERM ends the recording early: the cameras upload what they "
            "hold (up to --drain seconds) and the report covers what was recorded "
            "(interrupted: true). "
            + lifetime.signal_help()
            + " Every process the run starts ends with it, even when it is killed."
        ),
        epilog=(
            f"built-in scenarios: {', '.join(builtin_names())}\n"
            "with --endpoint, the emulator's admin token is read from OSSMEDIA_ADMIN_TOKEN and\n"
            "each run writes under its own key prefix (fleet-runs/<run>/<device_id>/).\n"
            "the JSON report and the external-service requirements: docs/fleet.md."
        ),
    )
    parser.add_argument("--cameras", type=int, default=10, help="number of cameras (10)")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds each camera records (60)"
    )
    parser.add_argument("--bitrate", type=int, default=256_000, help="bits/s per camera (256000)")
    parser.add_argument(
        "--chunk", type=int, default=16 * 1024, help="bytes per produced chunk and append (16384)"
    )
    parser.add_argument(
        "--scenario", default="steady", help="a built-in scenario name or a .toml file (steady)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (1)")
    parser.add_argument(
        "--processes", type=int, default=1, help="camera processes, one event loop each (1)"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds allowed to upload the backlog (60)"
    )
    parser.add_argument(
        "--output",
        choices=["append", "hls"],
        default="append",
        help="append: bytes appended to objects; hls: TS segments and a live playlist from "
        "each camera's generated H.264 pattern (append)",
    )
    parser.add_argument(
        "--oss-client",
        choices=("oss2", "http"),
        default="oss2",
        help="the cameras' object store client (oss2, the camera's default)",
    )
    parser.add_argument("--report", type=Path, help="write the JSON report to this file")
    parser.add_argument("--broker", help="use this MQTT broker (mqtt://host:port)")
    parser.add_argument("--endpoint", help="use this running emulator (http://host:port)")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: temporary)")
    parser.add_argument("--verbose", action="store_true", help="show the cameras' warnings")
    return parser


def quiet_logs(verbose: bool) -> None:
    """Keep the progress readable: thousands of cameras warn about every injected fault."""
    logging.basicConfig(level=logging.WARNING if verbose else logging.ERROR)


def refuse(prog: str, message: str) -> int:
    """Print one line for an operator error and return its exit status."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_STATUS[Reason.INVALID_INPUT]


def main(argv: list[str]) -> int:
    """Run ``ossmedia fleet``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
        if args.report is not None:
            check_report_path(args.report)
    except FleetInputError as exc:
        return refuse(parser.prog, str(exc))
    quiet_logs(args.verbose)
    settings = FleetSettings(
        cameras=args.cameras,
        duration_s=args.duration,
        bitrate_bps=args.bitrate,
        chunk_bytes=args.chunk,
        scenario=scenario,
        seed=args.seed,
        processes=args.processes,
        drain_s=args.drain,
        broker_url=args.broker,
        emulator_endpoint=args.endpoint,
        admin_token=os.environ.get("OSSMEDIA_ADMIN_TOKEN"),
        workdir=args.workdir,
        oss_client=args.oss_client,
        output=args.output,
    )
    with lifetime.command_lifetime("ossmedia fleet", draining=CAMERAS_DRAIN) as shutdown:
        try:
            report = run_fleet(settings, out=sys.stderr, stop=shutdown.stop)
        except lifetime.DrainSkipped as skipped:
            print("ossmedia fleet: stopped without draining; no report", file=sys.stderr)
            return lifetime.signal_status(skipped.signum)
        except FleetInputError as exc:
            return refuse(parser.prog, str(exc))
        except FleetServiceError as exc:
            print(f"{parser.prog}: {exc}", file=sys.stderr)
            return EXIT_STATUS[Reason.INFRASTRUCTURE]
    print(report.summary())
    if args.report is not None:
        report.write(args.report)
        print(f"report written to {args.report}")
    return report.exit_status
