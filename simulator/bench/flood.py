"""``ossmedia bench flood``: one camera floods the responder with validly signed requests.

The broker runs ``deploy/mosquitto/mosquitto.conf`` (plain MQTT instead of TLS, otherwise as
shipped): cameras log in on the camera listener with accounts of their own in the
dynamic-security plugin, the responder on the service listener. The responder runs as in
production (default per-device limits, shared state in a private Redis) with its broker-side
quarantine on (``--no-quarantine`` measures it without). A probe measures sequential round
trips to unsealed credentials of well-behaved cameras twice: alone (the baseline) and while a
camera, in a process of its own, publishes ``--requests`` freshly signed requests as fast as
its connection takes them. Once cut off by the broker, the flooder tries to reconnect every
``--reconnect-every`` seconds until the probe is done.

Reported: the probe's p50/p99 both times and their difference (goal: p99 grows by less than
100 ms), how many replies took the responder itself more than 25 ms / 100 ms / 250 ms / 1 s
from receiving the request (its own share of a round trip, from its request-to-reply
histogram), how much of the flood the broker took before it cut the camera off and how its
reconnects fared, the flooder's outcomes, and what the flood left in Redis (goal: less than
1 MB and a handful of keys, because a request refused for its rate stores nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import secrets
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
from pydantic import SecretStr

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.registry.broker_accounts import BrokerAdminSettings, DynsecAccounts
from cloud.registry.dynsec_control import session
from schemas.ids import DeviceId
from schemas.keys import DeviceKeys
from schemas.topics import Topics
from simulator import lifetime
from simulator.bench.flooder import flood_process
from simulator.bench.report import say, submit
from simulator.bench.responder.client import Connection, Device, now_ms
from simulator.bench.responder.phases import describe
from simulator.bench.responder.run import _process, _wait_http, emulator_sections
from simulator.broker import MosquittoProcess, pick_free_port
from simulator.broker.deployed import adapt_deploy_config
from simulator.emulator.handle import spawned_emulator

PREFIX = "ossmedia"  # deploy/mosquitto/acl is rendered for the default prefix
GOAL_P99_DELTA_MS = 100.0
GOAL_STATE_BYTES = 1 << 20
PROBE_ACCOUNT = "bench.probe"
PROBE_WAIT_S = 10.0
TOPICS = Topics(PREFIX)


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia bench flood`` parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench flood",
        description=(
            "One camera floods the responder (default limits, Redis state, broker from "
            "deploy/mosquitto) with validly signed requests; measure other cameras' round "
            "trips before and during the flood, what the broker took of the flood before the "
            "responder's quarantine cut the camera off, and what the flood left in Redis."
        ),
        epilog=lifetime.exit_status_help("every goal met", "a goal missed"),
    )
    parser.add_argument("--requests", type=int, default=50_000, help="flood size (%(default)s)")
    parser.add_argument("--samples", type=int, default=500, help="probe round trips per run")
    parser.add_argument(
        "--no-quarantine",
        action="store_true",
        help="run the responder without [quarantine] (the flood is only muted, not cut off)",
    )
    parser.add_argument(
        "--quarantine-period",
        type=float,
        default=300.0,
        help="the responder's quarantine.period_s (default: %(default)s)",
    )
    parser.add_argument(
        "--reconnect-every",
        type=float,
        default=0.1,
        help="seconds between the cut-off flooder's reconnect attempts (default: %(default)s)",
    )
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


@contextmanager
def _deployed_broker(
    work: Path, passwords: dict[str, str]
) -> Iterator[tuple[MosquittoProcess, int]]:
    """deploy/mosquitto/mosquitto.conf without TLS: the broker (camera listener) and the
    service port."""
    work.mkdir()
    adapted = adapt_deploy_config(
        work,
        services={"svc.responder": passwords["svc.responder"]},
        admins={
            "svc.provisioner": passwords["svc.provisioner"],
            "svc.quarantine": passwords["svc.quarantine"],
        },
    )
    broker = adapted.process(work / "run")
    broker.start()
    try:
        yield broker, adapted.service_port
    finally:
        broker.stop()


def _probe_account(admin: BrokerAdminSettings, password: str) -> None:
    """One bench account on the camera listener that may ask for every camera (the probe
    speaks for hundreds of cameras over one connection); real cameras never get such a role."""
    acls = [
        {"acltype": "publishClientSend", "topic": f"{PREFIX}/v1/+/creds/req", "allow": True},
        {"acltype": "publishClientReceive", "topic": f"{PREFIX}/v1/+/creds/res", "allow": True},
        {"acltype": "subscribePattern", "topic": f"{PREFIX}/v1/+/creds/res", "allow": True},
    ]
    commands: list[dict[str, Any]] = [
        {"command": "createRole", "rolename": PROBE_ACCOUNT, "acls": acls},
        {
            "command": "createClient",
            "username": PROBE_ACCOUNT,
            "password": password,
            "roles": [{"rolename": PROBE_ACCOUNT}],
        },
    ]
    with session(admin, PROBE_ACCOUNT) as opened:
        for answer in opened.run(commands):
            if answer.get("error"):
                raise RuntimeError(f"cannot create the probe account: {answer['error']}")


def _config(
    path: Path,
    *,
    broker_url: str,
    emulator: Any,
    registry: Path,
    state: str,
    quarantine: str,
) -> int:
    metrics_port = pick_free_port()
    broker_lines = 'username = "svc.responder"'
    path.write_text(
        f"""
{emulator_sections(broker_url, PREFIX, emulator, broker_lines=broker_lines)}
[state]
url = "{state}"

[registry]
url = "sqlite://{registry}"

[service]
metrics_port = {metrics_port}
log_level = "WARNING"
{quarantine}
""",
        encoding="utf-8",
    )
    return metrics_port


def _responder_seconds(metrics_port: int) -> tuple[dict[float, float], dict[str, float]]:
    """The responder's own request-to-reply histogram (cumulative count per bucket bound), and
    its quarantine outcomes with its count of dropped requests (``dropped``)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        text = response.read().decode()
    buckets: dict[float, float] = {}
    quarantine: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("ossmedia_responder_request_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ossmedia_responder_dropped_total "):
            quarantine["dropped"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ossmedia_responder_quarantine_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            quarantine[outcome] = float(line.rsplit(" ", 1)[1])
    return buckets, quarantine


def _inside(before: dict[float, float], after: dict[float, float]) -> dict[str, float]:
    """Between two readings: how many replies the responder published, and how many of them
    took it more than 25 ms, 100 ms, 250 ms, 1 s from receiving the request (its own share of
    a round trip)."""
    total = after[math.inf] - before.get(math.inf, 0)
    return {
        "replies": total,
        "over_25ms": total - (after[0.025] - before.get(0.025, 0)),
        "over_100ms": total - (after[0.1] - before.get(0.1, 0)),
        "over_250ms": total - (after[0.25] - before.get(0.25, 0)),
        "over_1s": total - (after[1.0] - before.get(1.0, 0)),
    }


def _probe(host: str, port: int, devices: list[Device], password: str) -> tuple[list[float], int]:
    """One round trip to unsealed credentials per device, one after the other, in seconds,
    and how many requests got no reply within ``PROBE_WAIT_S`` (lost).

    Each sample is a different camera, so the probe never meets its own rate limit: what is
    measured is the responder's answer to a well-behaved camera.
    """
    got = threading.Event()
    box: list[bytes] = []

    def on_reply(_device_id: str, payload: bytes) -> None:
        box.append(payload)
        got.set()

    conn = Connection(
        host,
        port,
        on_reply,
        prefix=PREFIX,
        device_ids=[d.device_id for d in devices],
        username=PROBE_ACCOUNT,
        password=password,
    )
    times: list[float] = []
    lost = 0
    try:
        for device in devices:
            request_id, payload = device.request(now_ms())
            box.clear()
            got.clear()
            start = time.perf_counter()
            conn.publish(device.device_id, payload)
            if not got.wait(PROBE_WAIT_S):
                lost += 1
                continue
            doc = json.loads(box[0])
            if not doc.get("ok") or doc["request_id"] != request_id:
                raise RuntimeError(f"unexpected reply to the probe: {doc.get('error')}")
            device.open(doc)
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
    return times, lost


def _quarantine_section(args: argparse.Namespace, broker: MosquittoProcess) -> str:
    if args.no_quarantine:
        return ""
    return f"""
[quarantine]
url = "{broker.url}"
username = "svc.quarantine"
period_s = {args.quarantine_period}
"""


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the flood and return the results."""
    results: dict[str, Any] = {
        "parameters": {
            "requests": args.requests,
            "samples": args.samples,
            "quarantine": not args.no_quarantine,
            "quarantine_period_s": args.quarantine_period,
        }
    }
    passwords = {
        name: secrets.token_urlsafe(18)
        for name in ("svc.responder", "svc.provisioner", "svc.quarantine", PROBE_ACCOUNT, "flooder")
    }
    with (
        lifetime.workdir("ossmedia-bench-flood-") as work,
        _deployed_broker(work / "mosquitto", passwords) as (broker, service_port),
        spawned_emulator("--quiet") as emulator,
        _redis(work) as state,
    ):
        admin = BrokerAdminSettings(
            url=broker.url,
            username="svc.provisioner",
            password=SecretStr(passwords["svc.provisioner"]),
        )
        _probe_account(admin, passwords[PROBE_ACCOUNT])
        master_key = new_master_key()
        registry = Registry(
            open_store(f"sqlite://{work / 'registry.db'}"), MasterKey.from_text(master_key)
        )
        say(f"provisioning {2 * args.samples + 1} cameras ...")
        devices = [
            Device(name, DeviceKeys.from_secret(registry.add(name)[1]))
            for name in [f"probe-{n:05d}" for n in range(2 * args.samples)]
        ]
        flooder_secret = registry.add("flooder")[1]
        DynsecAccounts(admin, topics=TOPICS).ensure(DeviceId("flooder"), passwords["flooder"])
        registry.close()
        config = work / "responder.toml"
        metrics_port = _config(
            config,
            broker_url=f"mqtt://127.0.0.1:{service_port}",
            emulator=emulator,
            registry=work / "registry.db",
            state=state,
            quarantine=_quarantine_section(args, broker),
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
            "OSSMEDIA_MASTER_KEY": master_key,
            "OSSMEDIA_STS_ACCESS_KEY_SECRET": emulator.access_key_secret,
            "OSSMEDIA_BROKER_PASSWORD": passwords["svc.responder"],
            "OSSMEDIA_QUARANTINE_PASSWORD": passwords["svc.quarantine"],
        }
        command = [sys.executable, "-m", "ossmedia_cli", "responder", "--config", str(config)]
        with _process(command, env, work / "responder.log") as responder:
            _wait_http(
                f"http://127.0.0.1:{metrics_port}/healthz", responder, work / "responder.log"
            )
            rds = redis.Redis.from_url(state)
            host, port = broker.host, broker.port
            probe_password = passwords[PROBE_ACCOUNT]
            say(f"baseline: {args.samples} probe round trips ...")
            hist0, _ = _responder_seconds(metrics_port)
            alone, lost_alone = _probe(host, port, devices[: args.samples], probe_password)
            base = describe(alone)
            hist1, before = _responder_seconds(metrics_port)
            mem0 = int(rds.info("memory")["used_memory"])
            say(f"flood: {args.requests} signed requests from one camera, probe alongside ...")
            spawn = multiprocessing.get_context("spawn")
            out = spawn.Queue()
            started, stop = spawn.Event(), spawn.Event()
            proc = spawn.Process(
                target=flood_process,
                args=(
                    PREFIX,
                    host,
                    port,
                    "flooder",
                    flooder_secret,
                    passwords["flooder"],
                    args.requests,
                    args.reconnect_every,
                    started,
                    stop,
                    out,
                ),
            )
            proc.start()
            if not started.wait(120):
                raise RuntimeError("the flooding camera did not start")
            flooded, lost_during = _probe(host, port, devices[args.samples :], probe_password)
            during = describe(flooded)
            stop.set()
            hist2, quarantine = _responder_seconds(metrics_port)
            box: dict[str, Any] = out.get(timeout=3600)
            proc.join(60)
            mem1 = int(rds.info("memory")["used_memory"])
            # What the flooding camera itself holds: every key naming it, and their size.
            own = list(rds.scan_iter(match="*flooder*", count=1000))
            own_bytes = sum(int(rds.memory_usage(key) or 0) for key in own)
            rds.close()
    delta = during["p99_ms"] - base["p99_ms"]
    # Flood requests that reached the responder and were dropped unanswered (muted).
    dropped = quarantine.get("dropped", 0) - before.get("dropped", 0)
    results.update(
        {
            "probe_alone": base,
            "probe_during_flood": during,
            "probe_lost": {"alone": lost_alone, "during_flood": lost_during},
            "p99_delta_ms": round(delta, 3),
            "responder_alone": _inside(hist0, hist1),
            "responder_during_flood": _inside(hist1, hist2),
            "quarantine": {k: v for k, v in quarantine.items() if k != "dropped"},
            "responder_dropped": dropped,
            # What the broker took of the flood, at least: acknowledged to the flooder, or
            # seen by the responder (dropped, or answered before the mute).
            "taken_by_broker_at_least": max(
                box["acknowledged"], dropped + sum(box["answered"].values())
            ),
            "flood": box,
            "flooder_keys": len(own),
            "flooder_bytes": own_bytes,
            "redis_used_memory_added": mem1 - mem0,
        }
    )
    say(
        f"  probe p99 {base['p99_ms']:.2f} -> {during['p99_ms']:.2f} ms (+{delta:.2f}, goal < "
        f"{GOAL_P99_DELTA_MS:g}), lost {lost_during} | the broker took at least "
        f"{results['taken_by_broker_at_least']:g} of {box['requests']} flood requests "
        f"({box['acknowledged']} acknowledged to the flooder, {results['responder_dropped']:g} "
        f"dropped by the responder), cut off after "
        f"{box['cut_off_after_s']} s, reconnects refused {box['reconnects_refused']}, accepted "
        f"{box['reconnects_accepted']} | the flooder holds {len(own)} keys, {own_bytes} bytes "
        f"in Redis (used_memory +{(mem1 - mem0) / 1024:.1f} KiB with the probe's own; goal < "
        f"1 MiB) | flood replies {box.get('answered')} | replies over 100 ms inside the "
        f"responder: {results['responder_alone']['over_100ms']:g} alone, "
        f"{results['responder_during_flood']['over_100ms']:g} during the flood"
    )
    return results


def main(argv: list[str]) -> int:
    """Entry point of ``ossmedia bench flood``."""
    args = build_parser().parse_args(argv)
    results = run(args)
    ok = (
        results["p99_delta_ms"] < GOAL_P99_DELTA_MS
        and results["redis_used_memory_added"] < GOAL_STATE_BYTES
        and not results["probe_lost"]["during_flood"]
    )
    return submit(results, args.json, ok=ok)
