"""Run a fleet: services, cameras, the scenario, live progress, and the end-of-run audit.

:func:`run_fleet` is the whole ``ossmedia fleet`` command as a function: it starts (or connects
to) the services, provisions the cameras, runs them in one or more groups (a group is one
selector loop; several groups run in child processes to use every core), applies the
scenario's steps, prints a progress line while it runs, and finally reads back and audits
every camera's objects into a :class:`~simulator.fleet.report.FleetReport`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import queue
import random
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from simulator import lifetime
from simulator.fleet.camera import SkewPlan
from simulator.fleet.chaos import ChaosDriver, plan_skews, plan_spool_limits
from simulator.fleet.checks import check_services, check_settings
from simulator.fleet.emulator_state import delta_stats, injected_by_cause, restore_faults
from simulator.fleet.errors import FleetError, FleetServiceError
from simulator.fleet.group import (
    CameraSpec,
    GroupResult,
    GroupSnapshot,
    GroupSpec,
    group_process_main,
    run_group,
)
from simulator.fleet.hls import hls_camera_settings
from simulator.fleet.kills import GroupProcesses
from simulator.fleet.latency import merge_counts
from simulator.fleet.recovery import CameraPoint, Recovery, measure_recovery
from simulator.fleet.report import FleetReport, build_report, histogram_quantile
from simulator.fleet.scenario import Scenario
from simulator.fleet.services import LocalServices, local_services
from simulator.fleet.verify import verify_cameras
from simulator.netfault import LinkProfile

__all__ = ["FleetSettings", "run_fleet"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetSettings:
    """One fleet run.

    Attributes:
        cameras: number of virtual cameras.
        duration_s: how long each camera records.
        bitrate_bps: each camera's bitrate.
        chunk_bytes: size of each produced piece (and of each spool chunk / append); a
            chunk is spooled when full or 2 s old, whichever is later to come at the bitrate
            (:func:`chunk_age_s`).
        scenario: the faults to inject.
        seed: seeds every random choice of the run.
        processes: camera groups, each in its own process (1: all in this process).
        drain_s: after recording ends, how long cameras may take to upload what they hold.
        broker_url: an external broker (``None``: start Mosquitto).
        emulator_endpoint: an external emulator (``None``: start one in this process).
        admin_token: the external emulator's admin token.
        workdir: scratch directory, spools included (``None``: a temporary one, in memory
            when ``/dev/shm`` exists: see :func:`_scratch_root`).
        clip: replay these bytes (a pre-encoded video clip) instead of synthetic bytes.
        progress_s: progress line period.
        rollover_s: start a new object after this much recording time.
        video: cameras encode real H.264 test-pattern video (PyAV) live.
        basic_broker: the external broker lacks MQTT 5 and shared subscriptions (amqtt).
        oss_client: the cameras' object store client, ``oss2`` (the camera's default) or
            ``http`` (the camera's stdlib client: the same requests, less work per request).
        store_dir: the local emulator keeps objects in files here (``None``: in memory, or,
            for a run that produces more than :data:`MEMORY_STORE_LIMIT_BYTES`, in files in a
            temporary directory on disk).
        output: ``append`` (bytes appended to objects) or ``hls`` (the agent's HLS mode on
            its generated H.264 pattern: TS segments and a live playlist; ``bitrate_bps``,
            ``chunk_bytes``, ``clip`` and ``video`` do not apply).
    """

    cameras: int = 10
    duration_s: float = 60.0
    bitrate_bps: int = 256_000
    chunk_bytes: int = 16 * 1024
    scenario: Scenario = field(
        default_factory=lambda: Scenario(name="steady", description="no faults")
    )
    seed: int = 1
    processes: int = 1
    drain_s: float = 60.0
    broker_url: str | None = None
    emulator_endpoint: str | None = None
    admin_token: str | None = None
    workdir: Path | None = None
    clip: bytes | None = None
    progress_s: float = 2.0
    rollover_s: float = 20.0
    video: bool = False
    basic_broker: bool = False
    store_dir: Path | None = None
    oss_client: str = "oss2"
    output: str = "append"


def chunk_age_s(settings: FleetSettings) -> float:
    """How long a camera buffers before it spools a chunk: 2 s like the camera default, or
    as long as a ``chunk_bytes`` chunk takes to fill at the bitrate, so larger chunks do mean
    fewer, larger appends."""
    return max(2.0, settings.chunk_bytes * 8 / settings.bitrate_bps)


def camera_settings(
    settings: FleetSettings,
    services: LocalServices,
    device_id: str,
    spool: Path,
    spool_max_bytes: int | None = None,
) -> dict[str, Any]:
    squeezed = {} if spool_max_bytes is None else {"max_bytes": spool_max_bytes}
    return {
        "device_id": device_id,
        "secret": services.provision(device_id),
        "broker": {
            "url": services.urls.broker_url,
            "username": device_id,
            "reconnect_initial_s": 0.5,
            "reconnect_max_s": 5.0,
            "keepalive_s": 15,
        },
        "credentials": {
            "duration_s": settings.scenario.credential_duration_s,
            "request_timeout_s": 5.0,
            "retry_initial_s": 0.5,
            "retry_max_s": 5.0,
        },
        "spool": {
            "dir": str(spool / device_id),
            "chunk_bytes": max(1024, settings.chunk_bytes),
            "chunk_max_age_s": chunk_age_s(settings),
            "policy": "drop_oldest",
            **squeezed,
        },
        "oss": {"client": settings.oss_client},
        "upload": {
            "rollover_s": settings.rollover_s,
            "outage_initial_s": 0.5,
            "outage_max_s": 3.0,
            "status_interval_s": 30.0,
            "retry": {"attempts": 4, "initial_s": 0.1, "max_s": 1.0, "request_timeout_s": 10},
        },
        **(hls_camera_settings(settings.duration_s) if settings.output == "hls" else {}),
    }


class _Progress:
    """Merges group snapshots, prints the progress line and keeps history for recovery."""

    def __init__(self, cameras: int, out: TextIO, period_s: float) -> None:
        self.cameras = cameras
        self.out = out
        self.period_s = period_s
        self.latest: dict[int, GroupSnapshot] = {}
        self.history: list[tuple[float, dict[str, CameraPoint]]] = []
        self._next = 0.0
        self.start = time.monotonic()

    def add(self, group: int, snap: GroupSnapshot) -> None:
        self.latest[group] = snap

    def tick(self) -> None:
        now = time.monotonic() - self.start
        figures = [cam for snap in self.latest.values() for cam in snap.cameras]
        self.history.append(
            (
                now,
                {
                    cam.device_id: CameraPoint(cam.uploaded, cam.produced, cam.connected)
                    for cam in figures
                },
            )
        )
        if now < self._next:
            return
        self._next = now + self.period_s
        errors: dict[str, int] = {}
        for snap in self.latest.values():
            for key, n in snap.errors.items():
                errors[key] = errors.get(key, 0) + n
        online = sum(cam.connected for cam in figures)
        produced = sum(cam.produced for cam in figures)
        stored = sum(cam.uploaded for cam in figures)
        spool = sum(cam.spool for cam in figures)
        errs = " ".join(f"{k}={v}" for k, v in sorted(errors.items())) or "none"
        print(
            f"[{now:6.1f}s] online {online}/{self.cameras} | produced {produced / 1e6:8.2f} MB | "
            f"stored {stored / 1e6:8.2f} MB | spool {spool / 1e6:7.2f} MB | errors: {errs}",
            file=self.out,
            flush=True,
        )


def _split(items: list[CameraSpec], groups: int) -> list[tuple[CameraSpec, ...]]:
    return [tuple(items[i::groups]) for i in range(groups) if items[i::groups]]


def run_fleet(
    settings: FleetSettings,
    *,
    out: TextIO = sys.stderr,
    stop: threading.Event | None = None,
    on_services: Callable[[LocalServices], None] | None = None,
) -> FleetReport:
    """Run the whole fleet and return its report.

    Args:
        settings: the run.
        out: where progress lines go.
        stop: set to end the recording early (cameras then upload what they hold).
        on_services: called once the services are up (the demo prints URLs there).

    Returns:
        The report; ``report.ok`` says whether every byte was proven, ``report.failures``
        why not.

    Raises:
        FleetInputError: a setting, the scenario or an external service given is unusable
            (found before any service starts).
        FleetServiceError: the run's services could not be started.
    """
    stop = stop or threading.Event()
    check_settings(settings)
    check_services(settings)
    # Against an emulator shared with other runs, each run writes under its own prefix so
    # its audit reads its own objects only.
    prefix = "videos/{device_id}/"
    if settings.emulator_endpoint is not None:
        run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        prefix = f"fleet-runs/{run_id}/{{device_id}}/"
    with contextlib.ExitStack() as stack:
        workdir = settings.workdir or stack.enter_context(
            lifetime.workdir("ossmedia-fleet-", root=_scratch_root())
        )
        store_dir = settings.store_dir
        if store_dir is None and _projected_bytes(settings) > MEMORY_STORE_LIMIT_BYTES:
            store_dir = stack.enter_context(lifetime.workdir("ossmedia-fleet-store-"))
        try:
            services = stack.enter_context(
                local_services(
                    workdir,
                    credential_duration_s=settings.scenario.credential_duration_s,
                    with_proxies="link" in settings.scenario.actions(),
                    seed=settings.seed,
                    broker_url=settings.broker_url,
                    emulator_endpoint=settings.emulator_endpoint,
                    admin_token=settings.admin_token,
                    basic_broker=settings.basic_broker,
                    store_dir=store_dir,
                    prefix_template=prefix,
                )
            )
        except FleetError:
            raise
        except Exception as exc:
            raise FleetServiceError(f"the run's services did not start: {exc}") from None
        if on_services is not None:
            on_services(services)
        return _run(settings, services, workdir, out, stop)
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow


def _run(
    settings: FleetSettings,
    services: LocalServices,
    workdir: Path,
    out: TextIO,
    stop: threading.Event,
) -> FleetReport:
    wall_start = time.monotonic()
    ids = [f"cam-{i:05d}" for i in range(settings.cameras)]
    rng = random.Random(settings.seed)  # noqa: S311 - reproducible boot spread
    skews = plan_skews(settings.scenario, ids, settings.duration_s, settings.seed)
    limits = plan_spool_limits(settings.scenario, ids, settings.chunk_bytes, settings.seed)
    specs = []
    for device_id in ids:
        data = camera_settings(
            settings, services, device_id, workdir / "spool", limits.get(device_id)
        )
        skew: tuple[SkewPlan, ...] = tuple(skews.get(device_id, ()))
        specs.append(
            CameraSpec(
                json.dumps(data),
                skew,
                start_delay_s=rng.uniform(0, settings.scenario.boot_spread_s),
            )
        )
    groups = _split(specs, max(1, settings.processes))
    group_specs = [
        GroupSpec(
            cameras=g,
            seed=settings.seed,
            bitrate_bps=settings.bitrate_bps,
            chunk_bytes=settings.chunk_bytes,
            duration_s=settings.duration_s,
            drain_s=settings.drain_s,
            clip=settings.clip,
            video=settings.video,
        )
        for g in groups
    ]
    # The emulator may be shared: its counters and fault configuration are read, not reset,
    # and the configuration found is put back after the run.
    stats_before = services.emulator.stats()
    faults_before = services.emulator.faults().get("config", {})
    progress = _Progress(settings.cameras, out, settings.progress_s)
    chaos = ChaosDriver(settings.scenario, services, settings.duration_s, settings.seed)
    outcome = _run_groups(group_specs, progress, chaos, stop)
    chaos.stop()
    infrastructure: list[str] = [f"ending a scenario fault: {e}" for e in chaos.end_errors]
    # Faults off for the read-back: the audit must see what is stored, not injected errors.
    try:
        services.emulator.clear_faults()
    except Exception as exc:
        infrastructure.append(f"clearing the emulator's faults: {exc}")
    services.set_link(LinkProfile())
    # Counted before the audit reads the objects back: only the cameras' requests.
    stats = delta_stats(stats_before, services.emulator.stats())
    results = [r for r in outcome.results if r is not None]
    cameras = [cam for group in results for cam in group.cameras]
    try:
        audits = verify_cameras(
            cameras, services.bucket(), prefix_of=services.prefix_for, drops_forced=bool(limits)
        )
    except Exception as exc:
        infrastructure.append(f"reading the objects back: {exc}")
        audits = []
    note = restore_faults(services, faults_before)
    report = FleetReport(
        scenario=settings.scenario.name,
        seed=settings.seed,
        cameras=settings.cameras,
        duration_s=settings.duration_s,
        bitrate_bps=settings.bitrate_bps,
        processes=len(group_specs),
    )
    report.key_prefix = services.prefix_for("{device_id}")
    report.emulator_note = note
    report.infrastructure_errors = infrastructure
    report.cameras_not_audited = [
        cam_id
        for index, result in enumerate(outcome.results)
        if result is None
        for cam_id in outcome.device_ids[index]
    ] + [cam.device_id for cam in cameras if cam.device_id not in {a.device_id for a in audits}]
    report.camera_process_failures = outcome.errors
    requests: dict[str, dict[str, int]] = stats["requests"]
    report.oss_requests = requests
    report.injected_faults = stats["faults"]
    report.sts_calls = sum(requests.get("AssumeRole", {}).values())
    report.retries_by_cause = injected_by_cause(report.injected_faults)
    latency = services.reply_latencies()
    report.reply_latency_p50_s = histogram_quantile(latency, 0.5)
    report.reply_latency_p99_s = histogram_quantile(latency, 0.99)
    slack = int(2 * chunk_age_s(settings) * settings.bitrate_bps / 8) + settings.chunk_bytes
    recovery: dict[int, Recovery] = {
        i: measure_recovery(progress.history, step.at_s, step.end_s, slack)
        for i, step in enumerate(chaos.applied)
        if step.end_s is not None and not step.error
    }
    appends = merge_counts([group.append_latency_counts for group in results])
    report.append_latency_p50_s = _finite(histogram_quantile(appends, 0.5))
    report.append_latency_p99_s = _finite(histogram_quantile(appends, 0.99))
    report = build_report(report, cameras, audits, chaos.applied, recovery)
    report.spool_end_growth_bytes = _spool_growth(progress, settings.duration_s)
    if outcome.stopped_at_s is not None and outcome.stopped_at_s < settings.duration_s:
        report.interrupted = True
        report.set_duration(round(outcome.stopped_at_s, 1))
    report.wall_s = round(time.monotonic() - wall_start, 1)
    return report


# Above this many produced bytes the emulator keeps objects on disk, not in memory.
MEMORY_STORE_LIMIT_BYTES = 2_000_000_000


def _projected_bytes(settings: FleetSettings) -> float:
    return settings.cameras * settings.duration_s * settings.bitrate_bps / 8


def _scratch_root() -> str | None:
    """Memory-backed scratch space when the machine has it, else the system default.

    Every chunk a camera spools and every upload it journals is fsync'd (two fsyncs each);
    a real camera has its own flash for that, but a simulated fleet shares one disk, and
    this machine's disk does about 300 fsyncs a second: 600 cameras at 256 kbit/s with
    64 KiB chunks need several times that. On tmpfs the same code runs with fsync costing
    nothing, so the fleet measures the cameras and services rather than one shared disk.
    """
    shm = Path("/dev/shm")  # noqa: S108 - a fresh private directory is made inside it
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _finite(value: float | None) -> float | None:
    # A quantile in the overflow bucket (beyond ten minutes) has no upper bound to report.
    return value if value is not None and value != float("inf") else None


def _spool_growth(progress: _Progress, duration_s: float) -> int:
    """Backlog (produced minus stored) growth over the second half of the recording.

    The mean backlog over the last quarter minus the mean over the third: a camera's backlog
    rises by a chunk and falls to nothing once per chunk period, and cameras booted together
    do so in step, so two single moments could differ by a chunk per camera with nothing
    falling behind; means over whole periods do not.
    """
    hist = [(at, cams) for at, cams in progress.history if duration_s / 2 <= at <= duration_s]

    def backlog(cams: dict[str, CameraPoint]) -> int:
        return sum(point.backlog for point in cams.values())

    third = [backlog(cams) for at, cams in hist if at < duration_s * 0.75]
    fourth = [backlog(cams) for at, cams in hist if at >= duration_s * 0.75]
    if not third or not fourth:
        return 0
    return int(sum(fourth) / len(fourth) - sum(third) / len(third))


@dataclass
class _Outcome:
    """What the camera groups returned.

    Attributes:
        results: per group, its result, or ``None`` when it ended without one (its process
            died): its cameras cannot be audited.
        device_ids: per group, its cameras.
        errors: how the groups without a result ended.
        stopped_at_s: run seconds at which the recording was ended early, if it was.
    """

    results: list[GroupResult | None]
    device_ids: list[list[str]]
    errors: list[str] = field(default_factory=list)
    stopped_at_s: float | None = None


def _run_groups(
    specs: list[GroupSpec],
    progress: _Progress,
    chaos: ChaosDriver,
    stop: threading.Event,
) -> _Outcome:
    outcome = _Outcome(
        results=[None] * len(specs),
        device_ids=[
            [json.loads(cam.settings_json)["device_id"] for cam in spec.cameras] for spec in specs
        ],
    )
    inbox: queue.Queue[tuple[int, str, Any]] = queue.Queue()
    # A camera_kill step needs camera processes to kill, even for one group.
    if len(specs) == 1 and "camera_kill" not in chaos.scenario.actions():
        spec = specs[0]

        def run() -> None:
            try:
                result = run_group(spec, lambda snap: inbox.put((0, "snapshot", snap)), stop)
            except Exception as exc:  # reported as a group that ended without a result
                log.exception("the camera group failed")
                inbox.put((0, "dead", f"the camera group failed: {exc}"))
                return
            inbox.put((0, "result", result))

        thread = threading.Thread(target=run, name="fleet-group", daemon=True)
        thread.start()
        chaos.start(time.monotonic())
        progress.start = time.monotonic()
        _collect(inbox, progress, outcome, stop, None)
        thread.join(30)
        return outcome
    ctx = multiprocessing.get_context("spawn")
    child_stop = ctx.Event()

    def spawn(spec: GroupSpec) -> tuple[Any, Any]:
        child_queue = ctx.Queue()
        proc = ctx.Process(
            target=lifetime.tied(group_process_main),
            args=(spec, child_queue, child_stop),
            daemon=True,
        )
        with _sigint_ignored():
            proc.start()
        return proc, child_queue

    procs = GroupProcesses(specs, spawn, seed=chaos.seed)
    chaos.kill_cameras = procs.kill_share
    for index in range(len(procs)):

        def relay(i: int = index) -> None:
            while True:
                p, q = procs.current(i)
                try:
                    kind, payload = q.get(timeout=1.0)
                except queue.Empty:
                    # A process the run killed is being (or was) replaced: follow the new one.
                    if not p.is_alive() and not procs.expected(i, p):
                        # A camera process that dies takes its cameras' chunk logs with it.
                        inbox.put((i, "dead", _death(i, p.exitcode)))
                        return
                    continue
                inbox.put((i, kind, payload))
                if kind == "result":
                    return

        threading.Thread(target=relay, name=f"fleet-relay-{index}", daemon=True).start()
    chaos.start(time.monotonic())
    progress.start = time.monotonic()
    _collect(inbox, progress, outcome, stop, child_stop)
    procs.join(30)
    return outcome


def _death(index: int, exitcode: int | None) -> str:
    how = (
        f"killed by signal {-exitcode}"
        if exitcode is not None and exitcode < 0
        else f"exit status {exitcode}"
    )
    return f"camera process {index} ended without a result ({how})"


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start a camera process with Ctrl-C ignored from its first instruction (a spawned
    child keeps an ignored SIGINT); the parent ends the recording for it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _collect(
    inbox: queue.Queue[tuple[int, str, Any]],
    progress: _Progress,
    outcome: _Outcome,
    stop: threading.Event,
    child_stop: Any,
) -> None:
    pending = set(range(len(outcome.results)))
    while pending:
        if stop.is_set() and outcome.stopped_at_s is None:
            outcome.stopped_at_s = time.monotonic() - progress.start
            if child_stop is not None:
                child_stop.set()
        try:
            group, kind, payload = inbox.get(timeout=1.0)
        except queue.Empty:
            progress.tick()
            continue
        if kind == "snapshot":
            progress.add(group, payload)
            progress.tick()
        elif kind == "result":
            outcome.results[group] = payload
            pending.discard(group)
        elif kind == "dead":
            outcome.errors.append(payload)
            pending.discard(group)
