"""``ossmedia bench emulator``: 64 KiB appends/s through the emulator vs a bare ASGI app.

Both servers run as separate processes on the same stack (uvicorn, httptools, the default
event loop, one worker): the emulator in memory mode (``ossmedia emulator --memory``) and
:mod:`simulator.bench.bare_server`, which only reads the body and answers 200 with the
headers ``oss2`` needs. The same load generator (:mod:`simulator.bench.append_load`: N
``oss2`` clients in threads, each appending to its own object) drives both for a fixed time,
in alternating rounds so that machine noise hits both alike. Goal: the emulator reaches at
least 50 % of the baseline's appends per second (median of the per-round ratios).

``--multipart`` runs the multipart workload instead: every client uploads 5 MiB parts
(``--part-mib``), completing an upload every ``--parts`` parts and deleting the object again;
oss2 checks each completed object's combined CRC-64. There the goal is about cost: the
emulator's server CPU per MiB at most twice the baseline's (median of the per-round ratios).

After every emulator round each object's length is read back with HEAD and must equal its
appends times the chunk size: a benchmark that loses appends measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import oss2

from simulator import lifetime
from simulator.bench.append_load import LoadResult, LoadSettings, median, run_load
from simulator.bench.bare_server import BareServer, spawned_bare_server
from simulator.bench.procfs import process_cpu_s
from simulator.emulator.handle import EmulatorHandle, spawned_emulator

GOAL_RATIO = 0.5
# Multipart: the emulator's server CPU per MiB over the baseline's, at most.
MULTIPART_GOAL_CPU_RATIO = 2.0
MIB = 1024 * 1024
# The bare app checks no signature; any well-formed key will do.
_BARE_KEY_ID = "LTAI5tBenchBareServer0"
_BARE_KEY_SECRET = "bench-bare-server-secret"  # noqa: S105 - not a secret, the bare app ignores it


@dataclass(frozen=True)
class Target:
    """A server the load runs against."""

    name: str
    endpoint: str
    bucket: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    pid: int | None = None


def _object_lengths(target: Target, result: LoadResult) -> list[dict[str, Any]]:
    """Each client's object as the server stores it, next to what the client appended."""
    session = oss2.Session()
    session.session.trust_env = False
    auth = oss2.Auth(target.access_key_id, target.access_key_secret)
    bucket = oss2.Bucket(auth, target.endpoint, target.bucket, session=session)
    objects = []
    for tally in result.clients:
        length = int(bucket.head_object(tally.key).content_length)
        objects.append({"key": tally.key, "appends": tally.appends, "length": length})
    return objects


def _round_figures(
    result: LoadResult, server_cpu_s: float | None, client_cpu_s: float
) -> dict[str, Any]:
    # Warm-up appends are served inside the measured CPU window too, so divide by all of them.
    requests = max(1, sum(tally.appends for tally in result.clients))
    mib = requests * result.chunk_bytes / (1024 * 1024)
    return {
        "appends": result.appends,
        "elapsed_s": round(result.elapsed_s, 3),
        "appends_per_s": round(result.appends_per_s, 1),
        "mib_per_s": round(result.mib_per_s, 2),
        "p50_ms": round(result.latency_ms(0.50), 2),
        "p99_ms": round(result.latency_ms(0.99), 2),
        "server_cpu_us_per_append": (
            None if server_cpu_s is None else round(server_cpu_s / requests * 1e6, 1)
        ),
        "client_cpu_us_per_append": round(client_cpu_s / requests * 1e6, 1),
        "server_cpu_ms_per_mib": None
        if server_cpu_s is None
        else round(server_cpu_s / mib * 1e3, 2),
    }


def _summary(rounds: list[dict[str, Any]], name: str) -> dict[str, float | None]:
    mine = [r for r in rounds if r["target"] == name]
    figures = ("appends_per_s", "mib_per_s", "p50_ms", "p99_ms")
    summary: dict[str, float | None] = {
        figure: round(median([float(r[figure]) for r in mine]), 2) for figure in figures
    }
    for figure in ("server_cpu_us_per_append", "client_cpu_us_per_append", "server_cpu_ms_per_mib"):
        known = [float(r[figure]) for r in mine if r[figure] is not None]
        summary[figure] = round(median(known), 1) if known else None
    return summary


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return None


def _measure(
    target: Target,
    args: argparse.Namespace,
    label: str,
    duration_s: float,
    stop: threading.Event,
) -> tuple[dict[str, Any], list[str]]:
    """One load run against one server: its figures and any problems (errors, lost bytes)."""
    chunk_bytes = args.part_mib * MIB if args.multipart else args.chunk_kib * 1024
    load = LoadSettings(
        endpoint=target.endpoint,
        bucket=target.bucket,
        access_key_id=target.access_key_id,
        access_key_secret=target.access_key_secret,
        clients=args.clients,
        chunk_bytes=chunk_bytes,
        duration_s=duration_s,
        key_prefix=f"bench/{label}/client-",
        parts_per_upload=args.parts if args.multipart else 0,
    )
    server_before = process_cpu_s(target.pid)
    client_before = time.process_time()
    result = run_load(load, stop=stop)
    client_cpu_s = time.process_time() - client_before
    server_after = process_cpu_s(target.pid)
    server_cpu_s = (
        None if server_before is None or server_after is None else server_after - server_before
    )
    entry: dict[str, Any] = {"target": target.name}
    entry.update(_round_figures(result, server_cpu_s, client_cpu_s))
    problems = [f"{target.name} {label}: {error}" for error in result.errors]
    if target.name == "emulator" and not args.multipart:
        entry["objects"] = _object_lengths(target, result)
        problems += [f"emulator {label}: {p}" for p in lost_bytes(entry["objects"], chunk_bytes)]
    return entry, problems


def lost_bytes(objects: list[dict[str, Any]], chunk_bytes: int) -> list[str]:
    """Objects whose stored length is not their appends times the chunk size.

    Args:
        objects: ``{"key", "appends", "length"}`` per object, as the report lists them.
        chunk_bytes: size of every append.

    Returns:
        One message per object that does not add up (empty when every append landed once).
    """
    return [
        f"{o['key']} is {o['length']} bytes after {o['appends']} appends of {chunk_bytes}"
        for o in objects
        if o["length"] != o["appends"] * chunk_bytes
    ]


def run_benchmark(args: argparse.Namespace, stop: threading.Event | None = None) -> dict[str, Any]:
    """Run the warm-up and all rounds against both servers; return the report document.

    Args:
        args: the parsed command line.
        stop: once set, the measurement in progress ends early and no further one starts;
            the ratio then covers the rounds completed before it.
    """
    stop = stop or threading.Event()
    rounds: list[dict[str, Any]] = []
    problems: list[str] = []
    ratios: list[float] = []
    cost_ratios: list[float] = []
    load_before = _load_average()
    with spawned_emulator("--quiet") as emulator, spawned_bare_server() as bare:
        targets = _targets(emulator, bare)
        if args.warmup > 0:
            # Fresh processes are slower for a while (allocator, caches, lazy imports): the
            # first measured round would otherwise be biased against whichever went first.
            for target in targets:
                if not stop.is_set():
                    _, warm_problems = _measure(target, args, "warmup", args.warmup, stop)
                    problems += warm_problems
            _progress(f"warm-up done ({args.warmup:g} s per server)")
        for number in range(1, args.rounds + 1):
            # ABBA order (baseline first in odd rounds, emulator first in even ones) cancels
            # a steady drift of the machine's speed over the run.
            ordered = targets if number % 2 else targets[::-1]
            by_name: dict[str, dict[str, Any]] = {}
            for target in ordered:
                if stop.is_set():
                    break
                entry, entry_problems = _measure(
                    target, args, f"round-{number}", args.duration, stop
                )
                entry = {"round": number, **entry}
                if stop.is_set():
                    entry["cut_short"] = True  # left out of the ratio
                problems += entry_problems
                rounds.append(entry)
                by_name[target.name] = entry
                _progress(
                    f"round {number}/{args.rounds} {target.name:<8} "
                    f"{entry['appends_per_s']:>8.1f} appends/s  {entry['mib_per_s']:>7.2f} MiB/s  "
                    f"p50 {entry['p50_ms']:.2f} ms  p99 {entry['p99_ms']:.2f} ms  "
                    f"server CPU {entry['server_cpu_us_per_append']} us/append"
                )
            if stop.is_set():
                break
            base = by_name["baseline"]["appends_per_s"]
            ratios.append(by_name["emulator"]["appends_per_s"] / base if base else 0.0)
            base_cost = by_name["baseline"]["server_cpu_ms_per_mib"]
            emu_cost = by_name["emulator"]["server_cpu_ms_per_mib"]
            if base_cost and emu_cost is not None:
                cost_ratios.append(emu_cost / base_cost)
    ratio = round(median(ratios), 3)  # the verdict uses the figure the report shows
    cost_ratio = round(median(cost_ratios), 3) if cost_ratios else None
    if args.multipart:
        met = cost_ratio is not None and cost_ratio <= MULTIPART_GOAL_CPU_RATIO
    else:
        met = bool(ratios) and ratio >= GOAL_RATIO
    # Figures of complete rounds only: a measurement cut short is listed, not summarised.
    rounds_done = [r for r in rounds if r["round"] <= len(ratios)]
    baseline, emulated = _summary(rounds_done, "baseline"), _summary(rounds_done, "emulator")
    base_cpu, emu_cpu = (
        baseline["server_cpu_us_per_append"],
        emulated["server_cpu_us_per_append"],
    )
    return {
        "benchmark": "emulator",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            # Other work on the machine: the ratio is only as good as the quiet it ran in.
            "load_average_1m": {"start": load_before, "end": _load_average()},
        },
        "settings": {
            "workload": "multipart" if args.multipart else "append",
            "clients": args.clients,
            "chunk_kib": args.part_mib * 1024 if args.multipart else args.chunk_kib,
            "parts_per_upload": args.parts if args.multipart else None,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
        },
        "rounds": rounds,
        "baseline": baseline,
        "emulator": emulated,
        "round_ratios": [round(r, 3) for r in ratios],
        "ratio": ratio,
        # What the ratio would be if only the servers' CPU limited the rate (informative).
        "server_cpu_ratio": round(base_cpu / emu_cpu, 3) if base_cpu and emu_cpu else None,
        # Emulator over baseline server CPU per MiB (median of the rounds); the multipart goal.
        "server_cpu_per_mib_ratio": cost_ratio,
        "round_cpu_per_mib_ratios": [round(r, 3) for r in cost_ratios],
        "goal_ratio": GOAL_RATIO,
        "goal_cpu_per_mib_ratio": MULTIPART_GOAL_CPU_RATIO if args.multipart else None,
        "met": met,
        "rounds_completed": len(ratios),
        "stopped_by": None,
        "problems": problems,
    }


def _targets(emulator: EmulatorHandle, bare: BareServer) -> list[Target]:
    return [
        Target(
            "baseline", bare.endpoint, emulator.bucket, _BARE_KEY_ID, _BARE_KEY_SECRET, bare.pid
        ),
        Target(
            "emulator",
            emulator.oss_endpoint,
            emulator.bucket,
            emulator.access_key_id,
            emulator.access_key_secret,
            emulator.pid,
        ),
    ]


def _print_table(report: dict[str, Any]) -> None:
    header = f"{'':<9}{'appends/s':>11}{'MiB/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(f"{header}{'server CPU us/append':>22}{'client CPU us/append':>22}")
    for name in ("baseline", "emulator"):
        figures = report[name]
        print(
            f"{name:<9}{figures['appends_per_s']:>11.1f}{figures['mib_per_s']:>9.2f}"
            f"{figures['p50_ms']:>9.2f}{figures['p99_ms']:>9.2f}"
            f"{figures['server_cpu_us_per_append']!s:>22}"
            f"{figures['client_cpu_us_per_append']!s:>22}"
        )
    verdict = "met" if report["met"] else "NOT met"
    multipart = report["settings"]["workload"] == "multipart"
    if report["stopped_by"] is not None:
        print(
            f"stopped early by {report['stopped_by']}: {report['rounds_completed']} of "
            f"{report['settings']['rounds']} rounds completed"
        )
    if multipart:
        print(
            f"server CPU per MiB: baseline {report['baseline']['server_cpu_ms_per_mib']} ms, "
            f"emulator {report['emulator']['server_cpu_ms_per_mib']} ms; emulator/baseline "
            f"{report['server_cpu_per_mib_ratio']} (median of "
            f"{report['round_cpu_per_mib_ratios']}); goal <= "
            f"{report['goal_cpu_per_mib_ratio']:g}: {verdict}"
        )
        print(f"parts/s emulator/baseline {report['ratio']:.1%}")
    else:
        print(
            f"ratio emulator/baseline {report['ratio']:.1%} (median of {report['round_ratios']}); "
            f"goal >= {report['goal_ratio']:.0%}: {verdict}"
        )
    print(f"server CPU per append, baseline/emulator: {report['server_cpu_ratio']}")
    for problem in report["problems"]:
        print(f"problem: {problem}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``ossmedia bench emulator``."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench emulator",
        description=(
            "Appends per second from concurrent oss2 clients against the emulator in memory "
            "mode, next to a bare ASGI app on the same server stack that only reads the body "
            "and answers 200; rounds alternate between the two (ABBA order, after a warm-up). "
            f"Goal: the emulator reaches at least {GOAL_RATIO:.0%} of the baseline (median of "
            "the per-round ratios)."
        ),
        epilog=(
            "Ctrl-C or SIGTERM ends the measurement in progress; the report covers the "
            "rounds completed before it. "
            + lifetime.exit_status_help("goal met", "goal missed or appends lost")
        ),
    )
    parser.add_argument(
        "--clients",
        type=_positive_int,
        default=8,
        help="concurrent oss2 clients, one thread each (default: %(default)s)",
    )
    parser.add_argument(
        "--chunk-kib",
        type=_positive_int,
        default=64,
        help="size of every append in KiB (default: %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=_positive_float,
        default=10.0,
        help="seconds per round and server (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=_non_negative_float,
        default=2.0,
        help="unmeasured seconds per server before the rounds; 0: none (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        default=3,
        help="rounds, each measuring both servers (default: %(default)s)",
    )
    parser.add_argument(
        "--multipart",
        action="store_true",
        help="multipart workload: every write is one UploadPart; the goal is the emulator's "
        f"server CPU per MiB at most {MULTIPART_GOAL_CPU_RATIO:g}x the baseline's",
    )
    parser.add_argument(
        "--part-mib",
        type=_positive_int,
        default=5,
        help="with --multipart: size of every part in MiB (default: %(default)s)",
    )
    parser.add_argument(
        "--parts",
        type=_positive_int,
        default=2,
        help="with --multipart: parts per upload before it is completed (default: %(default)s)",
    )
    parser.add_argument(
        "--no-fail",
        action="store_true",
        help="exit 0 even when the goal is missed (lost appends still fail)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON on stdout (progress goes to stderr)",
    )
    return parser  # fmt: skip


def main(argv: list[str]) -> int:
    """Run the benchmark and report.

    Args:
        argv: arguments after ``ossmedia bench emulator``.

    Returns:
        0 if the goal is met (or ``--no-fail``), 1 if it is missed or an append was lost
        or failed (a run stopped early is judged on its completed rounds), 2 for bad
        arguments, 130 / 143 when a second SIGINT / SIGTERM left no report.
    """
    args = build_parser().parse_args(argv)
    work = (
        f"{args.part_mib} MiB multipart parts ({args.parts} per upload)"
        if args.multipart
        else f"{args.chunk_kib} KiB appends"
    )
    _progress(
        f"ossmedia bench emulator: {args.clients} clients, {work}, "
        f"{args.rounds} x {args.duration:g} s per server"
    )
    with lifetime.command_lifetime(
        "ossmedia bench emulator", draining="ending the measurement in progress"
    ) as shutdown:
        try:
            report = run_benchmark(args, shutdown.stop)
        except lifetime.DrainSkipped as skipped:
            _progress("ossmedia bench emulator: stopped at once; no report")
            return lifetime.signal_status(skipped.signum)
    report["stopped_by"] = shutdown.signal_name
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    if report["problems"]:
        return 1
    return 0 if report["met"] or args.no_fail else 1
