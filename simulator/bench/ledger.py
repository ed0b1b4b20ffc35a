"""``ossmedia bench ledger``: the recording ledger on PostgreSQL next to SQLite.

Two figures, each against SQLite measured in the same run on the same machine:

- **Reads.** A ledger of ``--cameras`` x ``--per-camera`` recordings (bulk-loaded into both
  engines; the goal is 10,000 x 1,000) and the query behind the camera-day page and
  ``GET /api/cameras/{id}/recordings``: one page of ``--limit`` recordings of a random camera
  in a random day window, first pages and continued pages (cursor). p50 and p99 in ms.
- **Ingest.** ``segment.closed`` events per second through :meth:`Ledger.record_segment`
  (one transaction each, as ingest does) with one and with two replicas on PostgreSQL (a
  replica = its own engine and pool, ``--threads`` writers each), next to one on SQLite.

The PostgreSQL server is a private one made by ``initdb`` in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from cloud.console.ledger import Ledger, SegmentFacts
from simulator.database import PostgresServer

DAY_MS = 86_400_000
SEGMENT_MS = 60_000
START_MS = 1_764_000_000_000
GOAL_P99_MS = 50.0


def _rows(cameras: int, per_camera: int) -> Iterator[tuple[Any, ...]]:
    for c in range(cameras):
        device = f"cam-{c:05d}"
        for n in range(per_camera):
            start = START_MS + n * SEGMENT_MS
            yield (
                f"{c:08x}{n:08x}".ljust(32, "0"),
                device,
                n,
                f"videos/{device}/{n:06d}.mp4",
                1_000_000,
                str(2**63 + n),
                start,
                start + SEGMENT_MS,
                start + SEGMENT_MS + 500,
            )


_COLUMNS = "event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms"


def _camera_rows(cameras: int, per_camera: int) -> list[tuple[str, int, int]]:
    last = START_MS + per_camera * SEGMENT_MS
    return [(f"cam-{c:05d}", per_camera, last) for c in range(cameras)]


def _load_postgres(url: str, cameras: int, per_camera: int) -> None:
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(f"COPY recordings ({_COLUMNS}) FROM STDIN") as copy:
            for row in _rows(cameras, per_camera):
                copy.write_row(row)
        with conn.cursor().copy(
            "COPY cameras (device_id, n_recordings, last_end_ms) FROM STDIN"
        ) as copy:
            for row in _camera_rows(cameras, per_camera):
                copy.write_row(row)
        conn.execute("ANALYZE")


def _load_sqlite(path: str, cameras: int, per_camera: int) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.executemany(
            f"INSERT INTO recordings ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",  # noqa: S608
            _rows(cameras, per_camera),
        )
        db.executemany(
            "INSERT INTO cameras (device_id, n_recordings, last_end_ms) VALUES (?,?,?)",
            _camera_rows(cameras, per_camera),
        )
        db.execute("ANALYZE")


def _pages(
    ledger: Ledger, cameras: int, per_camera: int, queries: int, limit: int
) -> dict[str, float]:
    rng = random.Random(7)  # noqa: S311 - load pattern, not security
    span = per_camera * SEGMENT_MS
    first: list[float] = []
    continued: list[float] = []
    for _ in range(queries):
        device = f"cam-{rng.randrange(cameras):05d}"
        day = START_MS + rng.randrange(max(1, span - DAY_MS) + 1)
        t0 = time.perf_counter()
        page = ledger.list_recordings(
            device, from_ms=day, to_ms=day + DAY_MS, after=None, limit=limit
        )
        first.append((time.perf_counter() - t0) * 1000)
        if page.next_after is not None:
            after = (int(page.next_after[0]), str(page.next_after[1]))
            t0 = time.perf_counter()
            ledger.list_recordings(
                device, from_ms=day, to_ms=day + DAY_MS, after=after, limit=limit
            )
            continued.append((time.perf_counter() - t0) * 1000)
    both = first + continued
    return {
        "p50_ms": round(statistics.median(both), 3),
        "p99_ms": round(statistics.quantiles(both, n=100)[98], 3),
        "first_page_p99_ms": round(statistics.quantiles(first, n=100)[98], 3),
        "queries": len(both),
    }


def _ingest(ledgers: list[Ledger], threads: int, events: int) -> float:
    """Events per second written by ``threads`` writers on each ledger handle."""
    per_writer = events // (len(ledgers) * threads)
    workers = []
    for r, ledger in enumerate(ledgers):
        for t in range(threads):

            def write(ledger: Ledger = ledger, tag: str = f"{r}{t}") -> None:
                for n in range(per_writer):
                    facts = SegmentFacts(
                        event_id=f"e{tag}{n:010d}".ljust(32, "0"),
                        device_id=f"ing-{tag}",
                        seq=n,
                        object_key=f"videos/ing-{tag}/{n}.mp4",
                        size=1000,
                        crc64=n,
                        start_ms=START_MS + n * 1000,
                        end_ms=START_MS + n * 1000 + 1000,
                    )
                    ledger.record_segment(facts, now_ms=START_MS)

            workers.append(threading.Thread(target=write))
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per_writer * len(workers) / (time.perf_counter() - t0)


def main(argv: list[str]) -> int:
    """Run the benchmark; prints one JSON document."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench ledger", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--per-camera", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=50, help="page size (the console's default)")
    parser.add_argument("--events", type=int, default=4000, help="ingest events per run")
    parser.add_argument("--threads", type=int, default=4, help="writers per replica")
    args = parser.parse_args(argv)
    server = PostgresServer()
    try:
        with tempfile.TemporaryDirectory(prefix="ossmedia-bench-ledger-") as work:
            sqlite_path = str(Path(work) / "ledger.sqlite3")
            pg_url = server.create_database()
            Ledger(pg_url, migrate=True).close()
            Ledger(sqlite_path).close()
            t0 = time.perf_counter()
            _load_postgres(pg_url, args.cameras, args.per_camera)
            load_pg = time.perf_counter() - t0
            t0 = time.perf_counter()
            _load_sqlite(sqlite_path, args.cameras, args.per_camera)
            load_sqlite = time.perf_counter() - t0
            pg, lite = Ledger(pg_url), Ledger(sqlite_path)
            reads = {
                "postgresql": _pages(pg, args.cameras, args.per_camera, args.queries, args.limit),
                "sqlite": _pages(lite, args.cameras, args.per_camera, args.queries, args.limit),
            }
            second = Ledger(pg_url)
            ingest = {
                "sqlite_one": _ingest([lite], args.threads, args.events),
                "postgresql_one": _ingest([pg], args.threads, args.events),
                "postgresql_two": _ingest([pg, second], args.threads, args.events),
            }
            for ledger in (pg, lite, second):
                ledger.close()
    finally:
        server.stop()
    report = {
        "recordings": args.cameras * args.per_camera,
        "cameras": args.cameras,
        "load_s": {"postgresql": round(load_pg, 1), "sqlite": round(load_sqlite, 1)},
        "page": reads,
        "page_p99_ratio_postgresql_to_sqlite": round(
            reads["postgresql"]["p99_ms"] / reads["sqlite"]["p99_ms"], 2
        ),
        "goal_postgresql_p99_ms": GOAL_P99_MS,
        "goal_met": reads["postgresql"]["p99_ms"] <= GOAL_P99_MS,
        "ingest_events_per_s": {k: round(v, 1) for k, v in ingest.items()},
        "ingest_ratio_to_sqlite_one": {
            k: round(v / ingest["sqlite_one"], 2) for k, v in ingest.items()
        },
    }
    print(json.dumps(report, indent=2))
    return 0
