"""Concurrent ``oss2`` append (or multipart) load for a fixed time, with latencies and counts.

Each client is a thread with its own ``oss2.Session`` (its own connection pool) and
``oss2.Bucket``, appending fixed-size chunks to its own object at the position the previous
reply announced, and passing ``init_crc`` so oss2 computes the client-side CRC-64 on every run
(it compares it only when the server returns one). All clients start together after one
warm-up append each (connection set-up is not measured) and stop at the same deadline, each
after at least one measured append. With ``parts_per_upload`` set, every "append" is one
UploadPart of a multipart upload instead (:mod:`simulator.bench.multipart_writer`).
"""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import oss2

from simulator.bench.multipart_writer import MultipartWriter
from simulator.oss.crc import crc64

Clock = Callable[[], float]


@dataclass(frozen=True)
class LoadSettings:
    """One load run.

    Attributes:
        endpoint: ``http://host:port`` of the server.
        bucket: bucket name (path-style addressing on an IP endpoint).
        access_key_id: key id oss2 signs with.
        access_key_secret: its secret.
        clients: concurrent clients (threads).
        chunk_bytes: size of every append.
        duration_s: how long the measured part lasts.
        key_prefix: objects are ``<key_prefix><client index>``.
        parts_per_upload: 0 for appends; otherwise each write is an UploadPart of
            ``chunk_bytes`` and an upload is completed (then deleted) every that many parts.
    """

    endpoint: str
    bucket: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    clients: int
    chunk_bytes: int
    duration_s: float
    key_prefix: str
    parts_per_upload: int = 0


@dataclass
class ClientTally:
    """What one client did: appends (warm-up included) and the position it ended at."""

    key: str
    appends: int = 0
    next_position: int = 0
    latencies_s: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class LoadResult:
    """The outcome of one load run.

    Attributes:
        appends: measured appends (warm-up excluded) over all clients.
        elapsed_s: from the common start to the last client's last reply.
        chunk_bytes: size of every append.
        latencies_s: every measured append's latency.
        clients: per-client tallies (warm-up included in ``appends``).
    """

    appends: int
    elapsed_s: float
    chunk_bytes: int
    latencies_s: list[float]
    clients: list[ClientTally]

    @property
    def appends_per_s(self) -> float:
        """Measured appends per second."""
        return self.appends / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mib_per_s(self) -> float:
        """Measured payload throughput in MiB/s."""
        return self.appends_per_s * self.chunk_bytes / (1024 * 1024)

    def latency_ms(self, quantile: float) -> float:
        """A latency quantile in milliseconds (``quantile`` in 0..1)."""
        return percentile(self.latencies_s, quantile) * 1000.0

    @property
    def errors(self) -> list[str]:
        """Errors that stopped a client (an empty list on a clean run)."""
        return [f"{c.key}: {c.error}" for c in self.clients if c.error is not None]


def percentile(values: list[float], quantile: float) -> float:
    """Nearest-rank percentile (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(quantile * len(ordered)) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    """The median (0.0 for no values)."""
    return statistics.median(values) if values else 0.0


def _make_bucket(settings: LoadSettings) -> oss2.Bucket:
    session = oss2.Session()
    # Loopback traffic must not be sent to a proxy from the environment.
    session.session.trust_env = False
    auth = oss2.Auth(settings.access_key_id, settings.access_key_secret)
    return oss2.Bucket(auth, settings.endpoint, settings.bucket, session=session)


def _append(bucket: oss2.Bucket, tally: ClientTally, chunk: bytes, crc: int) -> int:
    result = bucket.append_object(tally.key, tally.next_position, chunk, init_crc=crc)
    tally.appends += 1
    tally.next_position = int(result.next_position)
    # Without a server CRC (the baseline) keep starting from 0: the client still hashes.
    return int(result.crc) if result.crc is not None else 0


def run_load(
    settings: LoadSettings,
    *,
    clock: Clock = time.perf_counter,
    stop: threading.Event | None = None,
) -> LoadResult:
    """Run ``settings.clients`` appending clients for ``settings.duration_s``.

    Args:
        settings: the run.
        clock: monotonic seconds (injected for tests of the timing logic).
        stop: once set, every client ends after its append in progress (a run cut short).

    Returns:
        Counts and latencies; a client that hit an error stops and records it in its tally.
    """
    chunk = os.urandom(settings.chunk_bytes)
    chunk_crc = crc64(chunk)
    tallies = [ClientTally(f"{settings.key_prefix}{i}") for i in range(settings.clients)]
    start_at: list[float] = []
    # The barrier's action stamps the common start once every client has warmed up.
    ready = threading.Barrier(settings.clients + 1, action=lambda: start_at.append(clock()))
    finished_at = [0.0] * settings.clients

    def client(index: int) -> None:
        tally = tallies[index]
        crc = 0
        writer: MultipartWriter | None = None
        try:
            bucket = _make_bucket(settings)
            if settings.parts_per_upload:
                writer = MultipartWriter(bucket, tally.key, settings.parts_per_upload, chunk_crc)

            def step(crc: int) -> int:
                if writer is None:
                    return _append(bucket, tally, chunk, crc)
                writer.write(chunk)
                tally.appends += 1
                return 0

            crc = step(crc)  # warm-up: connect, first request
        except oss2.exceptions.OssError as exc:
            tally.error = f"{type(exc).__name__} {exc.status} {exc.code}"
        finally:
            ready.wait()
        if tally.error is not None:
            return
        deadline = start_at[0] + settings.duration_s
        now = clock()
        try:
            # At least one measured append each, however slow the machine is.
            while True:
                crc = step(crc)
                after = clock()
                tally.latencies_s.append(after - now)
                now = after
                if now >= deadline or (stop is not None and stop.is_set()):
                    break
        except oss2.exceptions.OssError as exc:
            tally.error = f"{type(exc).__name__} {exc.status} {exc.code}"
        finished_at[index] = clock()

    threads = [
        threading.Thread(target=client, args=(i,), name=f"append-client-{i}", daemon=True)
        for i in range(settings.clients)
    ]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = max(0.0, max(finished_at) - start_at[0])
    latencies = [latency for tally in tallies for latency in tally.latencies_s]
    return LoadResult(
        appends=len(latencies),
        elapsed_s=elapsed,
        chunk_bytes=settings.chunk_bytes,
        latencies_s=latencies,
        clients=tallies,
    )
