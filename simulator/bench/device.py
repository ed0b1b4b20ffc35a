"""``ossmedia bench device``: the camera SDK and agent against their baselines.

Three measurements, each next to a baseline taken in the same run:

* ``throughput``: appends per second through ``MediaFile`` (exactly-once bookkeeping, CRC-64,
  tenacity) against a bare ``oss2`` ``append_object`` loop, same emulator, same chunk size,
  runs interleaved; goal: MediaFile at 90 % or more of the bare loop. Reported for the
  agent's path (each chunk's CRC comes from the spool) and for ``write(data)`` (hashed), and
  for the agent's path over the stdlib client (``[oss] client = "http"``).
* ``catchup``: an agent records at 4 Mbit/s through a 30 s OSS outage, then drains its spool;
  goal: drain rate of at least 5 times the recording bitrate.
* ``memory``: resident memory of an ``ossmedia camera`` process recording and uploading at
  4 Mbit/s, once per object store client (``[oss] client = "oss2"``, then ``"http"``), each
  next to two idle interpreters: one that imported what that agent imports, one that
  imported only the third-party libraries it is built on (the floor no agent code can go
  below); goal: 50 MB or less, for the ``http`` client (the one for constrained cameras).

The emulator runs as a separate process (a camera does not share its CPU with OSS); the
broker is a real Mosquitto and the responder is the real one, in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import oss2
from pydantic import SecretStr

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.responder.app import build_responder
from cloud.settings import BrokerSettings as ResponderBroker
from cloud.settings import (
    GrantSettings,
    Limits,
    RegistrySettings,
    ResponderSettings,
    ServiceSettings,
    StsSettings,
)
from device.agent.agent import Agent
from device.clock import SystemClock
from device.crc64 import crc64
from device.media_file import MediaFile
from device.osshttp import AccessKeys, HttpObjectStore, RequestSigner
from device.settings import AgentSettings
from device.store import OssObjectStore
from simulator import lifetime
from simulator.bench.procfs import status_kib
from simulator.broker import MosquittoProcess, MosquittoSettings
from simulator.emulator.handle import EmulatorHandle, spawned_emulator

RECORDING_BPS = 4_000_000


@dataclass
class Result:
    """One benchmark's figures."""

    name: str
    figures: dict[str, float | str] = field(default_factory=dict)
    goal: str = ""
    met: bool = False


# -- local services ---------------------------------------------------------------------


@dataclass
class LocalStack:
    """Mosquitto, an emulator process and a responder, with a registry to provision cameras."""

    broker: MosquittoProcess
    emulator: EmulatorHandle
    registry: Registry

    def camera_settings(self, device_id: str, workdir: Path, **source: Any) -> AgentSettings:
        _, secret = self.registry.add(device_id)
        return AgentSettings.model_validate(
            {
                "device_id": device_id,
                "secret": secret,
                "broker": {"url": f"mqtt://{self.broker.host}:{self.broker.port}"},
                "spool": {"dir": str(workdir / device_id)},
                "source": {"kind": "pattern", "bitrate_bps": RECORDING_BPS, **source},
            }
        )


@contextlib.contextmanager
def local_stack(workdir: Path) -> Iterator[LocalStack]:
    """Start the services a camera needs; stop them at the end."""
    broker = MosquittoProcess(MosquittoSettings(), workdir / "broker")
    broker.start()
    try:
        with spawned_emulator("--quiet") as emulator:
            master = new_master_key()
            registry_url = f"sqlite:///{workdir / 'registry.db'}"
            registry = Registry(open_store(registry_url), MasterKey.from_text(master))
            settings = ResponderSettings(
                broker=ResponderBroker(url=broker.url, keepalive_s=10),
                sts=StsSettings(
                    endpoint=emulator.sts_endpoint,
                    region=emulator.region,
                    access_key_id=emulator.access_key_id,
                    access_key_secret=SecretStr(emulator.access_key_secret),
                    role_arn=emulator.role_arn,
                ),
                grant=GrantSettings(
                    bucket=emulator.bucket,
                    oss_endpoint=emulator.oss_endpoint,
                    region=emulator.region,
                ),
                limits=Limits(device_requests_per_minute=600, device_burst=50),
                registry=RegistrySettings(url=registry_url, master_key=SecretStr(master)),
                service=ServiceSettings(metrics_port=-1, workers=4, log_level="ERROR"),
            )
            responder = build_responder(settings, with_http=False)
            responder.start()
            try:
                if not responder.service.wait_connected(15):
                    raise RuntimeError("the responder did not connect to the broker")
                yield LocalStack(broker, emulator, registry)
            finally:
                responder.stop()
                registry.close()
    finally:
        broker.stop()


# -- throughput -------------------------------------------------------------------------


def bench_throughput(chunk_bytes: int, appends: int, rounds: int) -> Result:
    """MediaFile appends vs a bare oss2 append loop on the same emulator.

    Two MediaFile paths are measured: ``write(data)``, which hashes each chunk (CRC-64) while
    its request is on the wire, and ``write(data, crc64=...)``, the agent's path, where the
    spool already holds each chunk's CRC. Rounds run in ABBA order so drift on a shared
    machine hits every path alike.
    """
    chunks = [os.urandom(chunk_bytes) for _ in range(8)]
    crcs = [crc64(chunk) for chunk in chunks]
    rates: dict[str, list[float]] = {"bare": [], "hashing": [], "known_crc": [], "http": []}
    with spawned_emulator("--quiet") as emulator:
        auth = oss2.Auth(emulator.access_key_id, emulator.access_key_secret)
        bucket = oss2.Bucket(auth, emulator.oss_endpoint, emulator.bucket)
        store = OssObjectStore(auth, emulator.oss_endpoint, emulator.bucket)
        keys = AccessKeys(emulator.access_key_id, emulator.access_key_secret)
        http_store = HttpObjectStore(
            RequestSigner(lambda: keys, SystemClock()), emulator.oss_endpoint, emulator.bucket
        )

        def run(path: str, key: str) -> float:
            start = time.perf_counter()
            if path == "bare":
                position = 0
                for i in range(appends):
                    result = bucket.append_object(key, position, chunks[i % 8])
                    position = result.next_position
            else:
                media = MediaFile(http_store if path == "http" else store, key, "aw")
                for i in range(appends):
                    known = None if path == "hashing" else crcs[i % 8]
                    media.write(chunks[i % 8], crc64=known)
                media.close()
            return appends * chunk_bytes / (time.perf_counter() - start)

        order = ["bare", "hashing", "known_crc", "http"]
        for round_no in range(rounds + 1):  # round 0 warms every path up
            for path in order + order[::-1]:
                rate = run(path, f"bench/{path}-{round_no}-{time.perf_counter_ns()}")
                if round_no > 0:
                    rates[path].append(rate)
    bare = statistics.median(rates["bare"]) / 1e6
    hashing = statistics.median(rates["hashing"]) / 1e6
    known = statistics.median(rates["known_crc"]) / 1e6
    http = statistics.median(rates["http"]) / 1e6
    return Result(
        "throughput",
        {
            "chunk_kib": chunk_bytes / 1024,
            "appends_per_run": appends,
            "runs_per_path": 2 * rounds,
            "bare_oss2_mb_s": round(bare, 1),
            "mediafile_known_crc_mb_s": round(known, 1),
            "mediafile_hashing_mb_s": round(hashing, 1),
            "mediafile_http_known_crc_mb_s": round(http, 1),
            "ratio_known_crc": round(known / bare, 3),
            "ratio_hashing": round(hashing / bare, 3),
            "ratio_http_known_crc": round(http / bare, 3),
            **{
                f"{path}_runs_mb_s": " ".join(f"{rate / 1e6:.0f}" for rate in values)
                for path, values in rates.items()
            },
        },
        "MediaFile (agent path, CRC from the spool) >= 90 % of bare oss2",
        known / bare >= 0.9,
    )


# -- catch-up ---------------------------------------------------------------------------


def bench_catchup(workdir: Path, outage_s: float) -> Result:
    """Catch-up rate after an OSS outage, while still recording at 4 Mbit/s.

    The rate is the bytes uploaded from the end of the outage until the spool is back to
    less than one chunk, divided by that time: it includes the wait for the uploader's
    backoff to notice that OSS is back.
    """
    with local_stack(workdir) as stack:
        settings = stack.camera_settings("cam-bench-catchup", workdir, duration_s=outage_s + 60)
        agent = Agent(settings)
        agent.start()
        pause = threading.Event()
        try:
            _wait(lambda: agent.uploader.stats.appended_chunks >= 2, 30)
            stack.emulator.set_faults({"outages": [{"duration_s": outage_s, "mode": "error"}]})
            outage_start = time.monotonic()
            pause.wait(outage_s)
            outage_end = time.monotonic()
            backlog = agent.spool.stats().bytes
            before = agent.journal.state.counters.uploaded_bytes
            _wait(lambda: agent.journal.state.counters.uploaded_bytes > before, 60)
            resumed = time.monotonic()
            _wait(lambda: agent.spool.stats().bytes < settings.spool.chunk_bytes, 120)
            caught_up = time.monotonic()
            uploaded = agent.journal.state.counters.uploaded_bytes - before
        finally:
            agent.stop()
            agent.run()
    rate = uploaded / max(caught_up - outage_end, 1e-6)
    recording = RECORDING_BPS / 8
    return Result(
        "catchup",
        {
            "outage_s": round(outage_end - outage_start, 1),
            "backlog_mb": round(backlog / 1e6, 2),
            "chunk_kib": settings.spool.chunk_bytes / 1024,
            "first_append_after_s": round(resumed - outage_end, 2),
            "caught_up_after_s": round(caught_up - outage_end, 2),
            "catchup_mb_s": round(rate / 1e6, 2),
            "recording_mb_s": round(recording / 1e6, 2),
            "ratio": round(rate / recording, 1),
        },
        "catch-up >= 5 x recording bitrate",
        rate >= 5 * recording,
    )


def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark step timed out")
        pause.wait(0.02)


# -- memory -----------------------------------------------------------------------------


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, RssAnon) of a process in KiB: resident total and its private anonymous part."""
    values = status_kib(pid, ("VmRSS", "RssAnon"))
    return values["VmRSS"], values["RssAnon"]


def _sample(process: subprocess.Popen[bytes], seconds: float) -> list[tuple[int, int]]:
    samples: list[tuple[int, int]] = []
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while time.monotonic() < deadline and process.poll() is None:
        rss, anon = _memory_kib(process.pid)
        if rss:
            samples.append((rss, anon))
        pause.wait(0.2)
    return samples


AGENT_IMPORTS = "ossmedia_cli, device.agent.cli"
"""What an ``ossmedia camera`` process imports before it reads its configuration."""

LIBRARY_IMPORTS = "oss2, paho.mqtt.client, tenacity, crcmod, pydantic.main, pydantic.fields, ctypes"
"""The libraries under the agent: the object store client, MQTT, retries, CRC, the protocol
and settings models, and ctypes for AES-GCM unsealing through the OpenSSL that ``hashlib``
and ``ssl`` already load (``schemas/aesgcm.py``)."""

CLIENT_IMPORTS = {
    "oss2": ("oss2", "oss2"),
    "http": ("device.osshttp", "http.client, mimetypes"),
}
"""Per ``[oss] client``: what the agent imports once configured with it, and what its object
store client stands on (oss2; or the standard library modules the device's own client uses)."""


def _libraries(client: str) -> str:
    """The floor for ``client``: LIBRARY_IMPORTS with oss2 swapped for that client's base."""
    rest = LIBRARY_IMPORTS.split(", ", 1)[1]
    return f"{CLIENT_IMPORTS[client][1]}, {rest}"


def _idle_kib(imports: str) -> tuple[int, int]:
    """(VmRSS, RssAnon) in KiB of an interpreter that imported ``imports`` and waits."""
    idle = subprocess.Popen(  # noqa: S603 - fixed command line
        [
            sys.executable,
            "-c",
            f"import {imports}, time; print('ready', flush=True); time.sleep(60)",
        ],
        env={**os.environ, "MALLOC_ARENA_MAX": "2"},
        stdout=subprocess.PIPE,
        process_group=lifetime.child_process_group(),
    )
    try:
        # Sampled once the imports are done: on a loaded machine they take seconds.
        ready = idle.stdout.readline() if idle.stdout is not None else b""
        if ready.strip() != b"ready":
            raise RuntimeError(f"importing {imports} failed")
        return max(_sample(idle, 1.0), default=(0, 0))
    finally:
        idle.kill()
        idle.wait()


def _camera_kib(
    stack: LocalStack, workdir: Path, client: str, duration_s: float
) -> tuple[list[tuple[int, int]], int, int]:
    """Run one recording, uploading camera; return its samples, exit code, uploaded bytes."""
    device_id = f"cam-bench-memory-{client}"
    settings = stack.camera_settings(device_id, workdir, duration_s=duration_s)
    config = workdir / f"camera-{client}.toml"
    config.write_text(_toml(settings, client))
    camera = subprocess.Popen(  # noqa: S603 - fixed command line
        [sys.executable, "-m", "ossmedia_cli", "camera", "--config", str(config),
         "--until-drained", "--log-level", "WARNING"],
        env={**os.environ, "MALLOC_ARENA_MAX": "2"},  # as the systemd unit sets it
        process_group=lifetime.child_process_group(),
    )  # fmt: skip
    try:
        samples = _sample(camera, duration_s + 30)
        code = camera.wait(60)
    finally:
        if camera.poll() is None:
            camera.kill()
            camera.wait()
    uploaded = sum(
        obj.size
        for obj in oss2.ObjectIteratorV2(
            oss2.Bucket(
                oss2.Auth(stack.emulator.access_key_id, stack.emulator.access_key_secret),
                stack.emulator.oss_endpoint,
                stack.emulator.bucket,
            ),
            prefix=f"videos/{device_id}/",
        )
    )
    return samples, code, uploaded


def bench_memory(workdir: Path, duration_s: float) -> Result:
    """Resident memory of a recording, uploading ``ossmedia camera`` process, per client."""
    figures: dict[str, float | str] = {}
    peaks: dict[str, float] = {}
    codes: list[int] = []
    idle = {
        client: (
            _idle_kib(_libraries(client)),
            _idle_kib(f"{AGENT_IMPORTS}, {CLIENT_IMPORTS[client][0]}"),
        )
        for client in CLIENT_IMPORTS
    }
    with local_stack(workdir) as stack:
        runs = {c: _camera_kib(stack, workdir, c, duration_s) for c in CLIENT_IMPORTS}
    for client, (samples, code, uploaded) in runs.items():
        libraries, baseline = idle[client]
        steady = samples[len(samples) // 4 :] or samples or [(0, 0)]
        peak = max(rss for rss, _ in steady) / 1024
        peaks[client] = peak
        codes.append(code)
        figures.update(
            {
                f"{client}_libraries_rss_mb": round(libraries[0] / 1024, 1),
                f"{client}_idle_imports_rss_mb": round(baseline[0] / 1024, 1),
                f"{client}_agent_peak_rss_mb": round(peak, 1),
                f"{client}_agent_median_rss_mb": round(
                    statistics.median(r for r, _ in steady) / 1024, 1
                ),
                f"{client}_agent_peak_anon_mb": round(max(a for _, a in steady) / 1024, 1),
                f"{client}_agent_over_idle_mb": round(peak - baseline[0] / 1024, 1),
                f"{client}_uploaded_mb": round(uploaded / 1e6, 2),
                f"{client}_exit_code": code,
            }
        )
    figures["http_saves_mb"] = round(peaks["oss2"] - peaks["http"], 1)
    figures["recorded_s"] = duration_s
    return Result(
        "memory",
        figures,
        'agent RSS <= 50 MB with [oss] client = "http"',
        peaks["http"] <= 50 and codes == [0, 0],
    )


def _toml(settings: AgentSettings, client: str) -> str:
    return "\n".join(
        [
            f'device_id = "{settings.device_id}"',
            f'secret = "{settings.secret.get_secret_value()}"',
            "[broker]",
            f'url = "{settings.broker.url}"',
            "[spool]",
            f'dir = "{settings.spool.dir}"',
            "[oss]",
            f'client = "{client}"',
            "[source]",
            'kind = "pattern"',
            f"bitrate_bps = {settings.source.bitrate_bps}",
            f"duration_s = {settings.source.duration_s}",
            "",
        ]
    )


# -- command line -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``ossmedia bench device``."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench device",
        description=(
            "MediaFile append throughput vs bare oss2, spool catch-up after an OSS outage, "
            "and the camera agent's resident memory. Ctrl-C or SIGTERM lets the benchmark in "
            "progress finish and skips the others."
        ),
        epilog=lifetime.exit_status_help("every goal met", "a goal missed"),
    )
    parser.add_argument(
        "--only", choices=["throughput", "catchup", "memory"], action="append", default=None
    )
    parser.add_argument("--chunk-kib", type=int, default=256, help="append size (default 256)")
    parser.add_argument("--appends", type=int, default=120, help="appends per round (120)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (5)")
    parser.add_argument("--outage", type=float, default=30.0, help="outage seconds (30)")
    parser.add_argument("--duration", type=float, default=20.0, help="memory run seconds (20)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    return parser


def main(argv: list[str]) -> int:
    """Run the device benchmarks; exit 0 when every goal is met, 1 otherwise."""
    args = build_parser().parse_args(argv)
    # The agent's own warnings (upload paused during the outage) are expected here.
    logging.basicConfig(level=logging.ERROR)
    chosen = args.only or ["throughput", "catchup", "memory"]
    results: list[Result] = []
    benches: dict[str, Callable[[Path], Result]] = {
        "throughput": lambda _: bench_throughput(args.chunk_kib * 1024, args.appends, args.rounds),
        "catchup": lambda work: bench_catchup(work / "catchup", args.outage),
        "memory": lambda work: bench_memory(work / "memory", args.duration),
    }
    with lifetime.command_lifetime(
        "ossmedia bench device", draining="finishing the benchmark in progress"
    ) as shutdown:
        try:
            with lifetime.workdir("ossmedia-bench-device-") as workdir:
                for name in (n for n in benches if n in chosen):
                    if shutdown.requested:
                        break
                    results.append(benches[name](workdir))
        except lifetime.DrainSkipped as skipped:
            print("ossmedia bench device: stopped at once; no results", file=sys.stderr)
            return lifetime.signal_status(skipped.signum)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for result in results:
            figures = ", ".join(f"{k}={v}" for k, v in result.figures.items())
            verdict = "met" if result.met else "NOT met"
            print(f"{result.name:<11} {figures}  [{result.goal}: {verdict}]")
    if shutdown.requested:
        print(
            f"stopped early by {shutdown.signal_name}: {len(results)} of {len(chosen)} "
            "benchmarks completed",
            file=sys.stderr,
        )
    # A benchmark a stop signal skipped met no goal.
    return 0 if len(results) == len(chosen) and all(r.met for r in results) else 1
