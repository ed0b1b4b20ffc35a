"""``ossmedia bench fleet``: the fleet benchmarks.

- ``chaos``: N cameras x T of the ``chaos`` scenario; must end with zero bytes lost,
  duplicated or corrupted (goal: 1,000 cameras x 10 minutes on 2 cores).
- ``capacity``: the largest fleet sustained at a bitrate (256 kbit/s): fleets of growing
  size run ``steady``; a size is sustained when every byte is accounted for, the cameras
  recorded at their bitrate and the mean backlog (produced minus stored) of the run's last
  quarter exceeds the third quarter's by no more than 2 s of recording per camera
  (goal: 5,000).
- ``sts``: STS calls per device-hour at steady state with 3,600 s credentials (goal <= 1.3):
  the calls after the boot leases, per device-hour, next to the total. Measuring it needs a
  run longer than one refresh period (about 45 minutes with 3,600 s credentials).

Each prints progress while it runs and a result line per measurement; ``--json`` writes the
fleet reports. Exit status: 0 when every run passed and every goal was met; 1 when a run
failed its verdict or a goal was missed (capacity below --goal, STS rate above 1.3 or not
measured); 2 on bad arguments. Ctrl-C or SIGTERM ends the run in progress like ``ossmedia
fleet`` (the cameras drain, its report says it was interrupted) and starts no further one; a
benchmark stopped early has not shown its goal (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator import lifetime
from simulator.fleet.cli import CAMERAS_DRAIN, quiet_logs, refuse
from simulator.fleet.errors import FleetError, FleetServiceError
from simulator.fleet.report import FleetReport
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import load_scenario
from simulator.fleet.verdict import EXIT_STATUS, Reason

__all__ = ["build_parser", "main"]

# Backlog growth over the second half allowed as noise: this many seconds of each camera's
# recording (the growth is of mean backlogs, so a chunk's rise and fall averages out).
_GROWTH_SLACK_S = 2.0
# The STS goal: calls per device-hour at steady state with 3,600 s credentials.
_STS_GOAL_PER_DEVICE_HOUR = 1.3


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia bench fleet`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench fleet",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=lifetime.exit_status_help(
            "every run passed and every goal was met",
            "a run failed its verdict, or a goal was missed or not shown",
        ),
    )
    parser.add_argument("which", choices=("chaos", "capacity", "sts", "all"))
    parser.add_argument("--cameras", type=int, default=1000, help="chaos/sts fleet size (1000)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds per run (600)")
    parser.add_argument("--bitrate", type=int, default=256_000, help="bits/s per camera")
    parser.add_argument(
        "--sizes",
        default="250,500,1000,2000,3000,5000",
        help="capacity: fleet sizes to try, ascending, comma separated",
    )
    parser.add_argument("--processes", type=int, default=2, help="camera processes (2)")
    parser.add_argument(
        "--chunk", type=int, default=64 * 1024, help="bytes per chunk and append (65536)"
    )
    parser.add_argument(
        "--oss-client",
        choices=("oss2", "http"),
        default="oss2",
        help="the cameras' object store client (oss2, the camera's default)",
    )
    parser.add_argument(
        "--goal", type=int, default=5000, help="capacity: cameras the fleet must sustain (5000)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the fleet reports here")
    return parser


def _run(
    args: argparse.Namespace, scenario: str, cameras: int, shutdown: lifetime.Shutdown
) -> FleetReport:
    settings = FleetSettings(
        cameras=cameras,
        duration_s=args.duration,
        bitrate_bps=args.bitrate,
        chunk_bytes=args.chunk,
        scenario=load_scenario(scenario),
        seed=args.seed,
        processes=args.processes,
        drain_s=max(60.0, args.duration / 2),
        oss_client=args.oss_client,
    )
    report = run_fleet(settings, out=sys.stderr, stop=shutdown.stop)
    print(report.summary(), flush=True)
    return report


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise FleetError(f"--sizes {text!r}: expected whole numbers, comma separated") from None
    if not sizes or min(sizes) < 1 or sizes != sorted(set(sizes)):
        raise FleetError(f"--sizes {text!r}: expected positive sizes, ascending")
    return sizes


def main(argv: list[str]) -> int:
    """Run ``ossmedia bench fleet``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sizes = _sizes(args.sizes)
        if args.cameras < 1:
            raise FleetError(f"--cameras must be at least 1, not {args.cameras}")
        return _main(args, sizes)
    except FleetServiceError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return EXIT_STATUS[Reason.INFRASTRUCTURE]
    except FleetError as exc:
        return refuse(parser.prog, str(exc))


def _main(args: argparse.Namespace, sizes: list[int]) -> int:
    quiet_logs(False)
    reports: list[FleetReport] = []
    with lifetime.command_lifetime("ossmedia bench fleet", draining=CAMERAS_DRAIN) as shutdown:
        try:
            failed = _measure(args, reports, shutdown, sizes)
        except lifetime.DrainSkipped as skipped:
            print("ossmedia bench fleet: stopped without draining", file=sys.stderr)
            return lifetime.signal_status(skipped.signum)
    if args.json is not None:
        args.json.write_text(
            json.dumps([json.loads(r.to_json()) for r in reports], indent=2), encoding="utf-8"
        )
    # A benchmark stopped early has not shown its goal, whatever its report says.
    return 1 if failed or shutdown.requested else 0


def _measure(
    args: argparse.Namespace,
    reports: list[FleetReport],
    shutdown: lifetime.Shutdown,
    sizes: list[int],
) -> bool:
    """Run the chosen benchmarks until done or stopped; whether one failed."""
    failed = False
    if args.which in ("chaos", "all"):
        report = _run(args, "chaos", args.cameras, shutdown)
        reports.append(report)
        failed |= not report.ok
        print(
            f"RESULT chaos: {args.cameras} cameras x {args.duration:g} s: lost "
            f"{report.lost_bytes} duplicated {report.duplicated_bytes} corrupted "
            f"{report.corrupted_bytes} of {report.produced_bytes} bytes -> "
            f"{'PASS' if report.ok else 'FAIL'}",
            flush=True,
        )
    if args.which in ("capacity", "all") and not shutdown.requested:
        best = 0
        for size in sizes:
            if shutdown.requested:
                break
            report = _run(args, "steady", size, shutdown)
            reports.append(report)
            slack = _GROWTH_SLACK_S * size * args.bitrate / 8
            # Producers starved of CPU fall behind too: the fleet must record at its bitrate
            # (allowing for the boot spread).
            expected = size * args.bitrate / 8 * (args.duration - 5.0)
            sustained = report.ok and report.cameras_not_drained == 0
            sustained = sustained and report.spool_end_growth_bytes <= slack
            sustained = sustained and report.produced_bytes >= 0.95 * expected
            share = min(1.0, report.produced_bytes / max(1.0, expected))
            print(
                f"capacity {size} cameras at {args.bitrate} bit/s: backlog growth over the "
                f"second half {report.spool_end_growth_bytes} B, produced "
                f"{share:.0%} of the bitrate -> "
                f"{'sustained' if sustained else 'falling behind'}",
                flush=True,
            )
            if not sustained or shutdown.requested:
                break
            best = size
        short = best < args.goal
        failed |= short
        print(
            f"RESULT capacity: largest fleet sustained: {best} cameras (goal {args.goal}) -> "
            f"{'FAIL' if short else 'PASS'}",
            flush=True,
        )
    if args.which in ("sts", "all") and not shutdown.requested:
        report = _run(args, "steady", args.cameras, shutdown)
        reports.append(report)
        device_hours = args.cameras * args.duration / 3600
        after_boot = max(0, report.sts_calls - args.cameras) / device_hours
        rate = report.sts_steady_per_device_hour
        steady = "not measured (no camera refreshed)" if rate is None else f"{rate:.2f}/device-hour"
        met = report.ok and rate is not None and rate <= _STS_GOAL_PER_DEVICE_HOUR
        failed |= not met
        print(
            f"RESULT sts: {report.sts_calls} STS calls for {args.cameras} cameras x "
            f"{args.duration:g} s ({report.sts_calls_per_device_hour:.2f}/device-hour incl. "
            f"boot); after the boot leases {after_boot:.2f}/device-hour; steady state (gaps "
            f"between each camera's STS keys, {report.sts_steady_intervals} intervals): "
            f"{steady} (goal <= {_STS_GOAL_PER_DEVICE_HOUR}) -> {'PASS' if met else 'FAIL'}",
            flush=True,
        )
    return failed
