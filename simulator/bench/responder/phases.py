"""The three measurements: round trip, throughput, boot storm."""

from __future__ import annotations

import heapq
import json
import multiprocessing
import os
import random
import re
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from schemas.keys import DeviceKeys
from simulator import lifetime
from simulator.bench.responder.client import Connection, Device, now_ms

WAIT_S = 10.0


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def round_trip(
    host: str, port: int, device: Device, samples: int, *, prefix: str, unseal: bool
) -> list[float]:
    """Sequential request/reply round trips of one device, in seconds.

    With ``unseal``, each reply must be the success reply to that very request and is opened
    (the clock stops after unsealing); otherwise the reply must be the request echoed back.
    """
    got = threading.Event()
    box: list[bytes] = []

    def on_reply(device_id: str, payload: bytes) -> None:
        box.append(payload)
        got.set()

    conn = Connection(host, port, on_reply, prefix=prefix)
    times: list[float] = []
    try:
        for n in range(samples + 50):  # the first 50 warm caches and connections
            request_id, payload = device.request(now_ms())
            box.clear()
            got.clear()
            start = time.perf_counter()
            conn.publish(device.device_id, payload)
            if not got.wait(WAIT_S):
                raise RuntimeError(f"no reply within {WAIT_S} s")
            reply = box[0]
            if unseal:
                doc = json.loads(reply)
                if not doc.get("ok") or doc["request_id"] != request_id:
                    raise RuntimeError(f"unexpected reply: {doc.get('error')}")
                device.open(doc)
            elif reply != payload:
                raise RuntimeError("the echo returned something else")
            elapsed = time.perf_counter() - start
            if n >= 50:
                times.append(elapsed)
    finally:
        conn.close()
    return times


def throughput(
    host: str,
    port: int,
    devices: list[Device],
    duration_s: float,
    *,
    prefix: str,
    expect_ok: bool,
    start_at: float | None = None,
) -> float:
    """Completed round trips per second with every device keeping one request in flight.

    The client does the same work against both servers: it parses each reply and matches its
    ``request_id`` with the request in flight (with ``expect_ok`` the reply must also be a
    success). Unsealing is left to the round-trip measurement, so that on a machine where
    clients and server share the cores, client work does not weigh on one side only.
    Counting starts at ``start_at`` (wall clock; one second from now by default), so that
    several client processes measure the same window.
    """
    by_id = {d.device_id: d for d in devices}
    lock = threading.Lock()
    state: dict[str, Any] = {"counting": False, "stop": False, "done": 0, "errors": 0}
    codes: dict[str, int] = {}
    pending: dict[str, str] = {}
    conn: Connection

    def send(device_id: str) -> None:
        request_id, payload = by_id[device_id].request(now_ms())
        pending[device_id] = request_id
        conn.publish(device_id, payload)

    def on_reply(device_id: str, payload: bytes) -> None:
        doc = json.loads(payload)
        ok = doc.get("request_id") == pending.get(device_id)
        if expect_ok and not doc.get("ok"):
            ok = False
            code = doc.get("error", {}).get("code", "?")
            codes[code] = codes.get(code, 0) + 1
        with lock:
            if state["counting"]:
                state["done" if ok else "errors"] += 1
            stop = state["stop"]
        if not stop:
            send(device_id)

    conn = Connection(host, port, on_reply, prefix=prefix, device_ids=list(by_id))
    try:
        for device in devices:
            send(device.device_id)
        begin = time.time() + 1.0 if start_at is None else start_at
        time.sleep(max(0.0, begin - time.time()))  # warm-up
        with lock:
            state["counting"] = True
        start = time.perf_counter()
        time.sleep(duration_s)
        with lock:
            state["counting"] = False
            state["stop"] = True
            done, errors = state["done"], state["errors"]
        elapsed = time.perf_counter() - start
        time.sleep(0.3)  # let the last replies drain before disconnecting
    finally:
        conn.close()
    if errors:
        raise RuntimeError(f"{errors} wrong replies during the throughput run: {codes}")
    return float(done) / elapsed


def _throughput_worker(
    job: tuple[str, int, list[tuple[str, DeviceKeys]], float, str, bool, float],
) -> float:
    host, port, devs, duration_s, prefix, expect_ok, start_at = job
    devices = [Device(device_id, keys) for device_id, keys in devs]
    return throughput(
        host, port, devices, duration_s, prefix=prefix, expect_ok=expect_ok, start_at=start_at
    )


def parallel_throughput(
    host: str,
    port: int,
    devices: list[Device],
    duration_s: float,
    *,
    prefix: str,
    expect_ok: bool,
    processes: int,
) -> float:
    """:func:`throughput` split over several client processes measuring the same window.

    One Python client process tops out at a few thousand round trips per second; splitting
    the devices keeps the measuring side from being what is measured.
    """
    start_at = time.time() + 3.0  # time for every process to start and warm up
    jobs = [
        (
            host,
            port,
            [(d.device_id, d.keys) for d in devices[n::processes]],
            duration_s,
            prefix,
            expect_ok,
            start_at,
        )
        for n in range(processes)
    ]
    with ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=lifetime.join_group,
        initargs=(lifetime.child_process_group(), os.getpid()),
    ) as pool:
        return sum(pool.map(_throughput_worker, jobs))


def _sts_calls(metrics_url: str) -> float:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(metrics_url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^ossmedia_responder_sts_calls_total\{[^}]*\} (\S+)$", text, re.M)
    )


@dataclass
class StormResult:
    """What the boot storm measured."""

    devices: int
    done: int
    last_s: float
    p50_s: float
    requests: int
    throttled_replies: int
    other_errors: int
    sts_calls: float
    max_sts_rate: float
    rates: list[float] = field(default_factory=list)


def storm(
    host: str,
    port: int,
    devices: list[Device],
    *,
    prefix: str,
    metrics_url: str,
    timeout_s: float,
    progress: Callable[[str], None],
    seed: int = 1,
) -> StormResult:
    """Every device asks at once; throttled ones come back after ``retry_after_ms`` + jitter."""
    rng = random.Random(seed)  # noqa: S311 - jitter, not security
    by_id = {d.device_id: d for d in devices}
    done_at: dict[str, float] = {}
    pending: dict[str, str] = {}
    heap: list[tuple[float, str]] = []
    cond = threading.Condition()
    counts = {"requests": 0, "throttled": 0, "other": 0}
    start = time.monotonic()
    conn: Connection

    def send(device_id: str) -> None:
        request_id, payload = by_id[device_id].request(now_ms())
        with cond:
            pending[device_id] = request_id
            counts["requests"] += 1
        conn.publish(device_id, payload)

    def on_reply(device_id: str, payload: bytes) -> None:
        doc = json.loads(payload)
        with cond:
            if pending.get(device_id) != doc.get("request_id"):
                return
        if doc.get("ok"):
            by_id[device_id].open(doc)
            with cond:
                done_at.setdefault(device_id, time.monotonic() - start)
                cond.notify_all()
            return
        code = doc["error"]["code"]
        retry_ms = doc["error"]["retry_after_ms"] or 1000
        with cond:
            counts["throttled" if code == "sts_throttled" else "other"] += 1
            # Jitter on top of the responder's hint, as the camera agent does
            # (device/credentials.py: up to a quarter of the wait, at least up to a second).
            base = retry_ms / 1000
            delay = base + rng.uniform(0, max(0.25 * base, 1.0))
            heapq.heappush(heap, (time.monotonic() + delay, device_id))
            cond.notify_all()

    conn = Connection(host, port, on_reply, prefix=prefix)
    stop = threading.Event()

    def scheduler() -> None:
        while not stop.is_set():
            with cond:
                now = time.monotonic()
                due = []
                while heap and heap[0][0] <= now:
                    due.append(heapq.heappop(heap)[1])
                wait = (heap[0][0] - now) if heap else 0.05
            for device_id in due:
                send(device_id)
            if not due:
                with cond:
                    cond.wait(min(max(wait, 0.001), 0.05))

    rates: list[float] = []

    def sampler() -> None:
        last_t, last_n = time.monotonic(), _sts_calls(metrics_url)
        next_print = last_t + 5
        while not stop.wait(1.0):
            t, n = time.monotonic(), _sts_calls(metrics_url)
            rates.append((n - last_n) / (t - last_t))
            last_t, last_n = t, n
            if t >= next_print:
                next_print = t + 5
                with cond:
                    finished = len(done_at)
                progress(
                    f"  storm t={t - start:5.1f}s  credentials {finished}/{len(devices)}  "
                    f"STS {rates[-1]:.0f}/s"
                )

    base_calls = _sts_calls(metrics_url)
    threads = [
        threading.Thread(target=scheduler, daemon=True),
        threading.Thread(target=sampler, daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        for device in devices:
            send(device.device_id)
        with cond:
            cond.wait_for(lambda: len(done_at) == len(devices), timeout_s)
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        conn.close()
    finish = sorted(done_at.values())
    return StormResult(
        devices=len(devices),
        done=len(done_at),
        last_s=finish[-1] if finish else float("nan"),
        p50_s=statistics.median(finish) if finish else float("nan"),
        requests=counts["requests"],
        throttled_replies=counts["throttled"],
        other_errors=counts["other"],
        sts_calls=_sts_calls(metrics_url) - base_calls,
        max_sts_rate=max(rates) if rates else 0.0,
        rates=rates,
    )


def describe(values: list[float]) -> dict[str, Any]:
    """p50 / p99 / mean in milliseconds."""
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 3),
        "p99_ms": round(percentile(values, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(values) * 1000, 3),
        "samples": len(values),
    }
