"""`ossmedia bench`: benchmarks that report ratios against a baseline measured in the same run.

This machine class is shared and noisy, so every benchmark measures its own baseline
(a bare server, a raw client loop, an echo responder) right next to the system under test
and reports both figures and their ratio. Each benchmark lives in its own module exposing
``main(argv) -> int``; this module only dispatches.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS: dict[str, tuple[str, str]] = {
    "emulator": ("simulator.bench.emulator", "64 KiB appends/s through oss2 vs a bare ASGI app"),
    "responder": ("simulator.bench.responder", "credential round trip, throughput, boot storm"),
    "device": ("simulator.bench.device", "MediaFile throughput, catch-up rate, agent memory"),
    "fleet": ("simulator.bench.fleet", "fleet size, chaos integrity, STS calls per device-hour"),
    "camera": ("simulator.bench.camera", "the camera bundle natively and on emulated ARM boards"),
    "live": ("simulator.bench.live", "console live edge latency and clip export vs raw GETs"),
    "flood": ("simulator.bench.flood", "one camera's request flood: others' p99, Redis growth"),
    "console-login": (
        "simulator.bench.console_login",
        "a sign-in flood on a real console: its memory, an operator's sign-in",
    ),
    "ledger": ("simulator.bench.ledger", "ledger pages p50/p99 and ingest/s, PostgreSQL vs SQLite"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ossmedia bench",
        description=(
            "Run a benchmark. Each one measures a baseline in the same run and reports both "
            "figures and their ratio; add --help after a name for its options."
        ),
    )
    sub = parser.add_subparsers(dest="name", metavar="NAME")
    for name, (_, summary) in BENCHMARKS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str]) -> int:
    """Dispatch ``ossmedia bench NAME ...`` to the benchmark's own module."""
    parser = build_parser()
    if not argv or argv[0].startswith("-") or argv[0] not in BENCHMARKS:
        parser.parse_args(argv[:1])
        parser.print_help()
        return 2
    module_name, _ = BENCHMARKS[argv[0]]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        parser.exit(2, f"ossmedia bench {argv[0]}: not available in this version yet.\n")
    return int(module.main(argv[1:]))
