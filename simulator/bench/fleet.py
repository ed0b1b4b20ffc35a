"""``ossmedia bench fleet``: the fleet benchmarks.

- ``chaos``: N cameras x T of the ``chaos`` scenario; must end with zero bytes lost,
  duplicated or corrupted (goal: 1,000 cameras x 10 minutes on 2 cores).
- ``capacity``: the largest fleet sustained at a bitrate (256 kbit/s): fleets of growing
  size run ``steady``; a size is sustained when every byte is accounted for, the cameras
  recorded at their bitrate and the mean backlog (produced minus stored) of the run's last
  quarter exceeds the third quarter's by no more than 2 s of recording per camera
  (goal: 5,000).
- ``sts``: STS calls per device-hour at steady state with 3,600 s credentials (goal <= 1.3):
  the calls after the boot leases, per device-hour, next to the total.

Each prints progress while it runs and a result line per measurement; ``--json`` writes the
fleet reports. Ctrl-C or SIGTERM ends the run in progress like ``ossmedia fleet`` (the
cameras drain, its report says it was stopped early) and starts no further one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from simulator import lifetime
from simulator.fleet.cli import CAMERAS_DRAIN, quiet_logs
from simulator.fleet.report import FleetReport
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import load_scenario

__all__ = ["build_parser", "main"]

# Backlog growth over the second half allowed as noise: this many seconds of each camera's
# recording (the growth is of mean backlogs, so a chunk's rise and fall averages out).
_GROWTH_SLACK_S = 2.0


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia bench fleet`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench fleet",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=lifetime.exit_status_help(
            "every run accounted for every byte", "a byte was lost, duplicated or corrupted"
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
    started = time.monotonic()
    report = run_fleet(settings, out=sys.stderr, stop=shutdown.stop)
    if shutdown.signal_name is not None and shutdown.at is not None:
        report.stopped_early(shutdown.signal_name, max(0.0, shutdown.at - started))
    print(report.summary(), flush=True)
    return report


def main(argv: list[str]) -> int:
    """Run ``ossmedia bench fleet``."""
    args = build_parser().parse_args(argv)
    quiet_logs(False)
    reports: list[FleetReport] = []
    with lifetime.command_lifetime("ossmedia bench fleet", draining=CAMERAS_DRAIN) as shutdown:
        try:
            failed = _measure(args, reports, shutdown)
        except lifetime.DrainSkipped:  # the first signal decides the exit status
            print("ossmedia bench fleet: stopped without draining", file=sys.stderr)
            failed = True
    if args.json is not None:
        args.json.write_text(
            json.dumps([json.loads(r.to_json()) for r in reports], indent=2), encoding="utf-8"
        )
    if shutdown.requested:
        return shutdown.exit_status()
    return 1 if failed else 0


def _measure(
    args: argparse.Namespace, reports: list[FleetReport], shutdown: lifetime.Shutdown
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
        for size in (int(s) for s in args.sizes.split(",")):
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
            print(
                f"capacity {size} cameras at {args.bitrate} bit/s: backlog growth over the "
                f"second half {report.spool_end_growth_bytes} B, produced "
                f"{report.produced_bytes / max(1.0, expected):.0%} of the bitrate -> "
                f"{'sustained' if sustained else 'falling behind'}",
                flush=True,
            )
            if not sustained or shutdown.requested:
                break
            best = size
        print(f"RESULT capacity: largest fleet sustained: {best} cameras", flush=True)
    if args.which in ("sts", "all") and not shutdown.requested:
        report = _run(args, "steady", args.cameras, shutdown)
        reports.append(report)
        device_hours = args.cameras * args.duration / 3600
        after_boot = max(0, report.sts_calls - args.cameras) / device_hours
        rate = report.sts_steady_per_device_hour
        steady = "not measured (no camera refreshed)" if rate is None else f"{rate:.2f}/device-hour"
        print(
            f"RESULT sts: {report.sts_calls} STS calls for {args.cameras} cameras x "
            f"{args.duration:g} s ({report.sts_calls_per_device_hour:.2f}/device-hour incl. "
            f"boot); after the boot leases {after_boot:.2f}/device-hour; steady state (gaps "
            f"between each camera's STS keys, {report.sts_steady_intervals} intervals): "
            f"{steady}",
            flush=True,
        )
    return failed
