"""Two responder processes, one broker, Redis: each request answered exactly once (duplicate
deliveries get byte-identical copies), and the rules hold across processes, even when one
process is SIGKILLed mid-run and restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.registry import MasterKey, Registry, new_master_key
from cloud.registry.redis_store import RedisDeviceStore
from simulator.broker import MosquittoProcess, pick_free_port
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.protocol_client import Keys, ProtocolClient, encode, make_request
from tests.cloud.responder.harness import BROAD_POLICY

ROOT = Path(__file__).resolve().parents[3]
DEVICES = [f"cam-so{n:02d}" for n in range(30)]


def _config(
    path: Path,
    *,
    broker: MosquittoProcess,
    emulator: EmulatorHandle,
    role_arn: str,
    redis_url: str,
    client_id: str,
    metrics_port: int,
    registry_url: str | None = None,
    device_cache_s: float = 2.0,
    device_burst: int = 3,
) -> None:
    path.write_text(
        f"""
[broker]
url = "{broker.url}"
client_id = "{client_id}"
persistent_session = true
shared_group = "scaleout"
reconnect_initial_s = 0.05
reconnect_max_s = 0.5

[sts]
endpoint = "{emulator.sts_endpoint}"
region = "{emulator.region}"
access_key_id = "{emulator.access_key_id}"
role_arn = "{role_arn}"
attempts = 2
retry_max_wait_s = 0.05

[grant]
bucket = "{emulator.bucket}"
oss_endpoint = "{emulator.oss_endpoint}"

[limits]
device_requests_per_minute = 60
device_burst = {device_burst}
device_cache_s = {device_cache_s}
sts_calls_per_second = 9
sts_max_queue_ms = 200

[state]
url = "{redis_url}"

[registry]
url = "{registry_url or redis_url}"

[service]
workers = 8
metrics_port = {metrics_port}
log_level = "DEBUG"
""",
        encoding="utf-8",
    )


class ResponderProcess:
    """``ossmedia responder --config FILE`` in a subprocess."""

    def __init__(self, config: Path, env: dict[str, str], port: int, log: Path) -> None:
        self.config, self.env, self.port, self.log = config, env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ossmedia_cli", "responder", "--config", str(self.config)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                with opener.open(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError("responder did not become healthy: " + self.log.read_text()[-2000:])

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


def responder_pair(
    tmp_path: Path,
    *,
    master_key: str,
    client_prefix: str,
    emulator: EmulatorHandle,
    **config: Any,
) -> list[ResponderProcess]:
    """Two responders ``a`` and ``b`` (not started yet) sharing ``config`` (see :func:`_config`),
    each with its own client id, metrics port, config file and log under ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        OSSMEDIA_MASTER_KEY=master_key, OSSMEDIA_STS_ACCESS_KEY_SECRET=emulator.access_key_secret
    )
    procs = []
    for name in ("a", "b"):
        path = tmp_path / f"responder-{name}.toml"
        port = pick_free_port()
        _config(
            path,
            emulator=emulator,
            client_id=f"{client_prefix}-{name}",
            metrics_port=port,
            **config,
        )
        procs.append(ResponderProcess(path, env, port, tmp_path / f"responder-{name}.log"))
    return procs


@pytest.fixture
def pair(
    mosquitto: MosquittoProcess,
    make_emulator: Callable[..., EmulatorHandle],
    redis_url: str,
    tmp_path: Path,
) -> Iterator[tuple[list[ResponderProcess], dict[str, Keys], EmulatorHandle, MosquittoProcess]]:
    emulator = make_emulator(sts_rate=10)
    role_arn = emulator.create_role("camera-broad", [BROAD_POLICY])
    master_key = new_master_key()
    registry = Registry(RedisDeviceStore.from_url(redis_url), MasterKey.from_text(master_key))
    keys = {d: Keys.from_secret(registry.add(d)[1]) for d in DEVICES}
    registry.close()
    procs = responder_pair(
        tmp_path,
        master_key=master_key,
        client_prefix="responder",
        broker=mosquitto,
        emulator=emulator,
        role_arn=role_arn,
        redis_url=redis_url,
    )
    for proc in procs:
        proc.start()
    yield procs, keys, emulator, mosquitto
    for proc in procs:
        proc.stop()


def test_two_responders_one_killed_every_request_answered_once(
    pair: tuple[list[ResponderProcess], dict[str, Keys], EmulatorHandle, MosquittoProcess],
) -> None:
    procs, keys, emulator, broker = pair
    emulator.set_faults({"rules": [{"operations": ["AssumeRole"], "latency_ms": 30}]})
    client = ProtocolClient(broker.host, broker.port)
    sent: dict[str, tuple[str, dict[str, object]]] = {}
    try:
        for round_no in range(3):
            for device in DEVICES:
                request = make_request(keys[device], device)
                sent[str(request["request_id"])] = (device, request)
                client.publish(device, encode(request))
            if round_no == 0:
                procs[0].kill()  # SIGKILL with requests in flight
            if round_no == 1:
                procs[0].start()  # same client id: the broker hands back its session
        deadline = time.monotonic() + 30

        def answers() -> dict[str, list[bytes]]:
            got: dict[str, list[bytes]] = {}
            for deliveries in list(client.replies.values()):
                for d in list(deliveries):
                    got.setdefault(str(d.doc["request_id"]), []).append(d.payload)
            return got

        while set(sent) - set(answers()) and time.monotonic() < deadline:
            time.sleep(0.05)
        got = answers()
        assert set(got) == set(sent), f"{len(set(sent) - set(got))} request(s) never answered"
        for request_id, copies in got.items():
            assert len(set(copies)) == 1, f"{request_id} got different answers"
        duplicates = sum(len(c) - 1 for c in got.values())
        # Only a reply published in the instant between its PUBLISH and the request's PUBACK
        # can be sent twice (the broker redelivers; the shared reply cache answers the same).
        assert duplicates <= 8
        # The restarted process answered what its session kept while it was dead.
        runs = procs[0].log.read_text().split('"msg": "started"')
        assert len(runs) == 3
        assert runs[2].count('"msg": "answered"') > 0
        outcomes = [json.loads(c[0]) for c in got.values()]
        assert any(o["ok"] for o in outcomes)
        # The STS cap (9/s) is shared: the emulator (10/s) never had to throttle.
        assume_role = emulator.stats()["requests"].get("AssumeRole", {})
        assert set(assume_role) == {"200"}, assume_role
        assert any(not o["ok"] and o["error"]["code"] == "sts_throttled" for o in outcomes)

        # Duplicate and replay rules hold whichever process answers.
        request_id, (device, request) = next(
            (rid, s) for rid, s in sent.items() if json.loads(got[rid][0])["ok"]
        )
        for _ in range(4):
            assert client.ask(device, encode(request)).payload == got[request_id][0]
        for _ in range(4):
            replay = make_request(keys[device], device, nonce=str(request["nonce"]))
            assert client.ask(device, replay).doc["error"]["code"] == "replay"
        # The per-device limit (burst 3, then one a second) is shared too.
        codes = [
            client.ask("cam-so29", make_request(keys["cam-so29"], "cam-so29")).doc for _ in range(6)
        ]
        limited = [c for c in codes if not c["ok"] and c["error"]["code"] == "rate_limited"]
        assert len(limited) >= 2
    finally:
        client.close()
    assert [p.stop() for p in procs] == [0, 0]
