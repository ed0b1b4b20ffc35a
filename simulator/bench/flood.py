"""``ossmedia bench flood``: one camera floods the responder with validly signed requests.

The responder runs as in production (default per-device limits, shared state in a private
Redis). A probe camera measures sequential round trips to unsealed credentials twice: alone
(the baseline) and while a second camera, in a process of its own, publishes ``--requests``
freshly signed requests as fast as its connection takes them. Reported: the probe's p50/p99
both times and their difference (goal: p99 grows by less than 100 ms), how many replies took the responder itself
more than 25 ms / 100 ms / 250 ms / 1 s from receiving the request (its own share of a round
trip, from its request-to-reply histogram), the flooder's outcomes, and what the flood left
in Redis (goal: less than 1 MB and a handful of keys, because a request refused for its
rate stores nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from schemas.keys import DeviceKeys
from simulator import lifetime
from simulator.bench.responder.client import Connection, Device, now_ms
from simulator.bench.responder.phases import describe
from simulator.bench.responder.run import _process, _wait_http, emulator_sections
from simulator.broker import MosquittoSettings, pick_free_port, running_mosquitto
from simulator.emulator.handle import spawned_emulator

PREFIX = "floodbench"
GOAL_P99_DELTA_MS = 100.0
GOAL_STATE_BYTES = 1 << 20


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia bench flood`` parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench flood",
        description=(
            "One camera floods the responder (default limits, Redis state) with validly "
            "signed requests; measure another camera's round trips before and during the "
            "flood, and what the flood leaves in Redis."
        ),
        epilog=lifetime.exit_status_help("every goal met", "a goal missed"),
    )
    parser.add_argument("--requests", type=int, default=50_000, help="flood size (%(default)s)")
    parser.add_argument("--samples", type=int, default=500, help="probe round trips per run")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser


@contextmanager
def _redis(work: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(work)]
    with _process(command, {}, work / "redis.log") as proc:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        yield url


def _config(path: Path, *, broker_url: str, emulator: Any, registry: Path, state: str) -> int:
    metrics_port = pick_free_port()
    path.write_text(
        f"""
{emulator_sections(broker_url, PREFIX, emulator)}
[state]
url = "{state}"

[registry]
url = "sqlite://{registry}"

[service]
metrics_port = {metrics_port}
log_level = "WARNING"
""",
        encoding="utf-8",
    )
    return metrics_port


def _responder_seconds(metrics_port: int) -> dict[float, float]:
    """The responder's own request-to-reply histogram (cumulative count per bucket bound)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        text = response.read().decode()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("ossmedia_responder_request_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def _inside(before: dict[float, float], after: dict[float, float]) -> dict[str, float]:
    """Between two readings: how many replies the responder published, and how many of them
    took it more than 25 ms, 100 ms, 250 ms, 1 s from receiving the request (its own share of a round trip)."""
    total = after[math.inf] - before.get(math.inf, 0)
    return {
        "replies": total,
        "over_25ms": total - (after[0.025] - before.get(0.025, 0)),
        "over_100ms": total - (after[0.1] - before.get(0.1, 0)),
        "over_250ms": total - (after[0.25] - before.get(0.25, 0)),
        "over_1s": total - (after[1.0] - before.get(1.0, 0)),
    }


def _probe(host: str, port: int, devices: list[Device]) -> list[float]:
    """One round trip to unsealed credentials per device, one after the other, in seconds.

    Each sample is a different camera, so the probe never meets its own rate limit: what is
    measured is the responder's answer to a well-behaved camera.
    """
    got = threading.Event()
    box: list[bytes] = []

    def on_reply(_device_id: str, payload: bytes) -> None:
        box.append(payload)
        got.set()

    conn = Connection(
        host, port, on_reply, prefix=PREFIX, device_ids=[d.device_id for d in devices]
    )
    times: list[float] = []
    try:
        for device in devices:
            request_id, payload = device.request(now_ms())
            box.clear()
            got.clear()
            start = time.perf_counter()
            conn.publish(device.device_id, payload)
            if not got.wait(30):
                raise RuntimeError("the probe got no reply within 30 s")
            doc = json.loads(box[0])
            if not doc.get("ok") or doc["request_id"] != request_id:
                raise RuntimeError(f"unexpected reply to the probe: {doc.get('error')}")
            device.open(doc)
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
    return times


def _flood(host: str, port: int, device: Device, count: int, started: Any = None) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def on_reply(_device_id: str, payload: bytes) -> None:
        doc = json.loads(payload)
        code = "ok" if doc.get("ok") else str(doc.get("error", {}).get("code", "?"))
        with lock:
            outcomes[code] = outcomes.get(code, 0) + 1

    conn = Connection(host, port, on_reply, prefix=PREFIX, device_ids=[device.device_id])
    start = time.perf_counter()
    if started is not None:
        started.set()
    try:
        for _ in range(count):
            conn.publish(device.device_id, device.request(now_ms())[1])
        # The broker has them all once the last PUBACK is in; the responder drops most of
        # them unanswered (the flooder is inside its retry-after), so replies are not awaited.
        conn.publish_and_wait(device.device_id, device.request(now_ms())[1])
    finally:
        conn.close()
    with lock:
        return {
            "requests": count + 1,
            "published_s": round(time.perf_counter() - start, 1),
            "answered": dict(outcomes),
        }


def _flood_process(
    host: str, port: int, name: str, secret: str, count: int, started: Any, out: Any
) -> None:
    """The flooding camera in a process of its own (``spawn``): sharing the probe's process,
    it would hold the interpreter lock and delay the probe's own client, not the responder."""
    out.put(_flood(host, port, Device(name, DeviceKeys.from_secret(secret)), count, started))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the flood and return the results."""
    results: dict[str, Any] = {"parameters": {"requests": args.requests, "samples": args.samples}}
    with (
        lifetime.workdir("ossmedia-bench-flood-") as work,
        running_mosquitto(
            MosquittoSettings(max_inflight_messages=1000, max_queued_messages=100_000),
            work / "mosquitto",
        ) as broker,
        spawned_emulator("--quiet") as emulator,
        _redis(work) as state,
    ):
        master_key = new_master_key()
        registry = Registry(
            open_store(f"sqlite://{work / 'registry.db'}"), MasterKey.from_text(master_key)
        )
        _say(f"provisioning {2 * args.samples + 1} cameras ...")
        devices = [
            Device(name, DeviceKeys.from_secret(registry.add(name)[1]))
            for name in [f"probe-{n:05d}" for n in range(2 * args.samples)]
        ]
        flooder_secret = registry.add("flooder")[1]
        flooder = Device("flooder", DeviceKeys.from_secret(flooder_secret))
        registry.close()
        config = work / "responder.toml"
        metrics_port = _config(
            config,
            broker_url=broker.url,
            emulator=emulator,
            registry=work / "registry.db",
            state=state,
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
            "OSSMEDIA_MASTER_KEY": master_key,
            "OSSMEDIA_STS_ACCESS_KEY_SECRET": emulator.access_key_secret,
        }
        command = [sys.executable, "-m", "ossmedia_cli", "responder", "--config", str(config)]
        with _process(command, env, work / "responder.log") as responder:
            _wait_http(
                f"http://127.0.0.1:{metrics_port}/healthz", responder, work / "responder.log"
            )
            rds = redis.Redis.from_url(state)
            host, port = broker.host, broker.port
            _say(f"baseline: {args.samples} probe round trips ...")
            hist0 = _responder_seconds(metrics_port)
            base = describe(_probe(host, port, devices[: args.samples]))
            hist1 = _responder_seconds(metrics_port)
            mem0 = int(rds.info("memory")["used_memory"])
            _say(f"flood: {args.requests} signed requests from one camera, probe alongside ...")
            spawn = multiprocessing.get_context("spawn")
            out = spawn.Queue()
            started = spawn.Event()
            proc = spawn.Process(
                target=_flood_process,
                args=(host, port, flooder.device_id, flooder_secret, args.requests, started, out),
            )
            proc.start()
            if not started.wait(120):
                raise RuntimeError("the flooding camera did not start")
            time.sleep(0.5)  # its requests are arriving
            during = describe(_probe(host, port, devices[args.samples :]))
            hist2 = _responder_seconds(metrics_port)
            box: dict[str, Any] = out.get(timeout=3600)
            proc.join(60)
            mem1 = int(rds.info("memory")["used_memory"])
            # What the flooding camera itself holds: every key naming it, and their size.
            own = list(rds.scan_iter(match=f"*{flooder.device_id}*", count=1000))
            own_bytes = sum(int(rds.memory_usage(key) or 0) for key in own)
            rds.close()
    delta = during["p99_ms"] - base["p99_ms"]
    results.update(
        {
            "probe_alone": base,
            "probe_during_flood": during,
            "p99_delta_ms": round(delta, 3),
            "responder_alone": _inside(hist0, hist1),
            "responder_during_flood": _inside(hist1, hist2),
            "flood": box,
            "flooder_keys": len(own),
            "flooder_bytes": own_bytes,
            "redis_used_memory_added": mem1 - mem0,
        }
    )
    _say(
        f"  probe p99 {base['p99_ms']:.2f} -> {during['p99_ms']:.2f} ms (+{delta:.2f}, goal < "
        f"{GOAL_P99_DELTA_MS:g}) | the flooder holds {len(own)} keys, {own_bytes} bytes in "
        f"Redis (used_memory +{(mem1 - mem0) / 1024:.1f} KiB with the probe's own; goal < 1 MiB)"
        f" | flood replies {box.get('answered')} | replies over 100 ms inside the responder: "
        f"{results['responder_alone']['over_100ms']:g} alone, "
        f"{results['responder_during_flood']['over_100ms']:g} during the flood"
    )
    return results


def main(argv: list[str]) -> int:
    """Entry point of ``ossmedia bench flood``."""
    args = build_parser().parse_args(argv)
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    ok = (
        results["p99_delta_ms"] < GOAL_P99_DELTA_MS
        and results["redis_used_memory_added"] < GOAL_STATE_BYTES
    )
    _say("all goals met" if ok else "some goals were missed (see above)")
    return 0 if ok else 1
