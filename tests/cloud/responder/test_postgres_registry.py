"""Two responder processes on one PostgreSQL registry: a revocation and a rotation made
with ``ossmedia devices`` take effect on both within ``device_cache_s``."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.registry.cli import run as devices_cli
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.protocol_client import Keys, ProtocolClient, encode, make_request
from tests.cloud.responder.harness import BROAD_POLICY
from tests.cloud.responder.test_scaleout import responder_pair

CACHE_S = 1.0
REVOKED = [f"cam-pr{n:02d}" for n in range(6)]
ROTATED = [f"cam-pq{n:02d}" for n in range(6)]


def _answered_ids(log: Path) -> set[str]:
    ids = set()
    for line in log.read_text().splitlines():
        if '"answered"' in line:
            ids.add(str(json.loads(line).get("request_id", "")))
    return ids


def test_revocation_and_rotation_reach_both_responders_within_the_cache_time(
    mosquitto: MosquittoProcess,
    make_emulator: Callable[..., EmulatorHandle],
    redis_url: str,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    emulator = make_emulator()
    role_arn = emulator.create_role("camera-broad", [BROAD_POLICY])
    master_key = new_master_key()
    out, err = io.StringIO(), io.StringIO()
    assert devices_cli(["--registry", postgres_url, "migrate"], {}, out, err) == 0, err.getvalue()
    registry = Registry(open_store(postgres_url), MasterKey.from_text(master_key))
    keys = {d: Keys.from_secret(registry.add(d)[1]) for d in REVOKED + ROTATED}
    procs = responder_pair(
        tmp_path,
        master_key=master_key,
        client_prefix="responder-pg",
        broker=mosquitto,
        emulator=emulator,
        role_arn=role_arn,
        redis_url=redis_url,
        registry_url=postgres_url,
        device_cache_s=CACHE_S,
        device_burst=20,
    )
    client = ProtocolClient(mosquitto.host, mosquitto.port)
    try:
        for proc in procs:
            proc.start()
        # Every device is looked up (and cached) by both responders before the change.
        for _ in range(4):
            for device, k in keys.items():
                reply = client.ask(device, encode(make_request(k, device))).doc
                assert reply["ok"], reply
        for device in REVOKED:
            registry.revoke(device)
        new_keys = {d: Keys.from_secret(registry.rotate(d)[1]) for d in ROTATED}
        changed_at = time.monotonic()
        # The property under test is a time bound: wait it out once, then every answer from
        # either responder must reflect the change.
        time.sleep(max(0.0, changed_at + CACHE_S + 0.3 - time.monotonic()))
        asked: list[str] = []
        for _ in range(4):
            for device in REVOKED:
                request = make_request(keys[device], device)
                asked.append(str(request["request_id"]))
                reply = client.ask(device, encode(request)).doc
                assert (reply["ok"], reply["error"]["code"]) == (False, "revoked")
            for device in ROTATED:
                old = make_request(keys[device], device)
                reply = client.ask(device, encode(old)).doc
                assert (reply["ok"], reply["error"]["code"]) == (False, "bad_signature")
                new = make_request(new_keys[device], device)
                reply = client.ask(device, encode(new)).doc
                assert reply["ok"], reply
                asked += [str(old["request_id"]), str(new["request_id"])]
        # Both processes answered some of those requests (the shared subscription spreads
        # them), so the bound held on each, not only on one.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            per_process = [_answered_ids(p.log) & set(asked) for p in procs]
            if all(per_process) and sum(map(len, per_process)) >= len(asked):
                break
            time.sleep(0.1)
        assert all(per_process), [len(p) for p in per_process]
    finally:
        client.close()
        registry.close()
        stops = [p.stop() for p in procs]
    assert stops == [0, 0]
