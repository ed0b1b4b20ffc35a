"""Two console replicas on one PostgreSQL ledger, 20 cameras publishing: one replica is
SIGKILLed mid-ingest. Every segment.closed and the last status of each camera end in the
ledger exactly once, the survivor serves pages and API (with a session made on the dead
replica), and the reconciler keeps running; the killed replica comes back with its broker
session and finishes what was in flight to it."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import oss2
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from cloud.console.cli import main as console_cli
from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.registry.cli import run as devices_cli
from simulator.broker import MosquittoProcess, pick_free_port
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.console.camera import TestCamera, wire
from tests.cloud.console.conftest import OPERATOR, PASSWORD, PASSWORD_HASH, login
from tests.fixtures.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[3]
CAMERAS = 20
SEGMENTS = 12  # per camera
START_MS = 1_764_000_000_000


def _config(
    path: Path,
    *,
    name: str,
    port: int,
    ledger: str,
    registry: str,
    broker: str,
    emu: EmulatorHandle,
) -> None:
    path.write_text(
        f"""
[http]
host = "127.0.0.1"
port = {port}
[session]
secret = "{"r" * 40}"
[[operators]]
username = "{OPERATOR}"
password_hash = "{PASSWORD_HASH}"
[mqtt]
url = "{broker}"
client_id = "console-{name}"
shared_group = "consoles"
[oss]
endpoint = "{emu.oss_endpoint}"
bucket = "{emu.bucket}"
region = "{emu.region}"
access_key_id = "{emu.access_key_id}"
access_key_secret = "{emu.access_key_secret}"
[ledger]
url = "{ledger}"
[registry]
url = "{registry}"
[reconcile]
interval_s = 0.3
lease_s = 2.0
recheck_after_s = 1
"""
    )


class Replica:
    def __init__(self, config: Path, env: dict[str, str], port: int, log: Path) -> None:
        self.config, self.env, self.url, self.log = config, env, f"http://127.0.0.1:{port}", log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ossmedia_cli", "console", "--config", str(self.config)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        _wait(lambda: self._healthy(), 30, f"replica {self.url}: {self.log}")

    def _healthy(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, self.log.read_text()[-2000:]
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _scalar(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def _text(url: str, sql: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    return "" if row is None else str(row[0])


def test_two_replicas_one_killed_mid_ingest_nothing_lost_nothing_twice(
    postgres_server: PostgresServer,
    mosquitto: MosquittoProcess,
    console_emulator: EmulatorHandle,
    root_bucket: oss2.Bucket,
    tmp_path: Path,
) -> None:
    ledger_url = postgres_server.create_database()
    registry_url = postgres_server.create_database()
    master_key = new_master_key()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["OSSMEDIA_MASTER_KEY"] = master_key
    assert (
        devices_cli(["--registry", registry_url, "migrate"], {}, io.StringIO(), io.StringIO()) == 0
    )
    registry = Registry(open_store(registry_url), MasterKey.from_text(master_key))
    cameras = [
        TestCamera.provision(registry, f"cam-rep{n:02d}", root_bucket) for n in range(CAMERAS)
    ]
    registry.close()
    replicas = []
    for name in ("a", "b"):
        config = tmp_path / f"console-{name}.toml"
        port = pick_free_port()
        _config(
            config,
            name=name,
            port=port,
            ledger=ledger_url,
            registry=registry_url,
            broker=mosquitto.url,
            emu=console_emulator,
        )
        if name == "a":
            assert console_cli(["--config", str(config), "migrate"]) == 0
        replicas.append(Replica(config, env, port, tmp_path / f"console-{name}.log"))
    a, b = replicas
    # Every message is recorded (objects uploaded) before publishing starts.
    messages: list[tuple[str, bytes]] = []
    for i in range(SEGMENTS):
        for cam in cameras:
            start = START_MS + i * 2000
            event = cam.record(f"{i:04d}.mp4", os.urandom(64), start, start + 2000)
            messages.append((cam.events_topic(), wire(event)))
            messages.append((cam.status_topic(), wire(cam.status(start + 2000))))
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cameras")
    publisher.connect(mosquitto.host, mosquitto.port)
    publisher.loop_start()
    try:
        for replica in replicas:
            replica.start()
        with httpx.Client(base_url=a.url, timeout=10) as on_a:
            login(on_a, OPERATOR, PASSWORD)
            cookies = dict(on_a.cookies)
        done = threading.Event()

        def publish() -> None:
            for topic, payload in messages:
                publisher.publish(topic, payload, qos=1).wait_for_publish(10)
                time.sleep(0.002)
            done.set()

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        _wait(
            lambda: _scalar(ledger_url, "SELECT COUNT(*) FROM recordings") >= 40,
            60,
            "the first recordings",
        )
        a.kill()  # SIGKILL with messages in flight to it
        # The survivor serves pages and API, with the session made on the dead replica.
        with httpx.Client(base_url=b.url, timeout=10, cookies=cookies) as on_b:
            api = on_b.get("/api/cameras")
            assert api.status_code == 200, api.text
            assert on_b.get("/").status_code == 200
            assert on_b.get("/healthz").status_code == 200
        # The reconcile lease is (or, once the dead holder's lapses, becomes) the survivor's.
        assert b.proc is not None
        survivor = f":{b.proc.pid}:"
        _wait(
            lambda: (
                survivor in _text(ledger_url, "SELECT holder FROM leases WHERE name = 'reconcile'")
            ),
            30,
            "the survivor to take the reconcile lease",
        )
        thread.join(120)
        assert done.is_set()
        a.start()  # same client id: the broker hands back what it kept for it
        total = CAMERAS * SEGMENTS
        _wait(
            lambda: _scalar(ledger_url, "SELECT COUNT(*) FROM recordings") == total,
            60,
            "every recording",
        )
        # Each camera's newest status (the last one it sent) is the one on file.
        _wait(
            lambda: (
                _scalar(
                    ledger_url,
                    "SELECT COUNT(*) FROM cameras WHERE status_issued_ms = "
                    "(SELECT MAX(end_ms) FROM recordings r WHERE r.device_id = cameras.device_id)",
                )
                == CAMERAS
            ),
            30,
            "every camera's last status",
        )
        # Exactly once: the per-camera counters were not bumped by any redelivery.
        assert _scalar(ledger_url, "SELECT SUM(n_recordings) FROM cameras") == total
        assert _scalar(ledger_url, "SELECT MIN(n_recordings) FROM cameras") == SEGMENTS
        # The reconciler kept running after the kill: every recording checked against OSS.
        _wait(
            lambda: (
                _scalar(
                    ledger_url, "SELECT COUNT(*) FROM recordings WHERE verification = 'verified'"
                )
                == total
            ),
            60,
            "the reconciler to verify every recording",
        )
        assert b.log.read_text().count("Traceback") == 0
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        stops = [r.stop() for r in replicas]
    assert stops == [0, 0]
