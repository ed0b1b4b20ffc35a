"""Run a group of virtual cameras on one selector loop, in this process or a child process.

Every camera is a real :class:`~device.agent.agent.Agent`; all of a group's MQTT links share
one :class:`~device.mqtt.SelectorLoop` (paho's own loop stops working past ~340 clients per
process). The group reports a :class:`GroupSnapshot` to its parent every ``report_s`` and, at
the end, a :class:`GroupResult` with each camera's chunk log and counters.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from device.agent.agent import Agent
from device.mqtt import SelectorLoop
from device.resume import committed_mark
from device.settings import AgentSettings
from schemas.errors import SchemaError
from schemas.events import SegmentClosed
from schemas.messages import parse_event
from simulator.fleet.camera import ChunkLog, LoggingSource, SkewedClock, SkewPlan, StopSignal
from simulator.fleet.hls import hls_camera
from simulator.fleet.integrity import Chunk, ClosedSegment
from simulator.fleet.latency import AppendTimer, LatencyHistogram

__all__ = ["CameraResult", "CameraSpec", "GroupResult", "GroupSnapshot", "GroupSpec", "run_group"]

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.05


@dataclass(frozen=True)
class CameraSpec:
    """Everything a child process needs to build one camera (settings hold the secret)."""

    settings_json: str
    skew: tuple[SkewPlan, ...] = ()
    start_delay_s: float = 0.0


@dataclass(frozen=True)
class GroupSpec:
    """One group of cameras and the run's shape."""

    cameras: tuple[CameraSpec, ...]
    seed: int
    bitrate_bps: int
    chunk_bytes: int
    duration_s: float
    drain_s: float
    report_s: float = 1.0
    clip: bytes | None = None
    video: bool = False
    elapsed_s: float = 0.0
    """How far into the run this process starts: a replacement for a killed group process
    joins the run there, and its cameras resume from what their spools committed."""


@dataclass(frozen=True)
class CameraFigures:
    """Live figures of one camera."""

    device_id: str
    produced: int
    uploaded: int
    spool: int
    connected: bool


@dataclass(frozen=True)
class GroupSnapshot:
    """What a group reports while it runs."""

    at_s: float
    cameras: tuple[CameraFigures, ...]
    errors: dict[str, int]


@dataclass
class CameraResult:
    """The end of one camera: what it produced and its counters."""

    device_id: str
    chunks: list[Chunk]
    drained: bool
    exit_code: int
    uploaded_bytes: int
    dropped_bytes: int
    spool_peak_bytes: int
    credential_requests: int
    credential_leases: int
    credential_timeouts: int
    skew_adoptions: int
    credential_errors: dict[str, int]
    outage_waits: int
    new_key_times_s: list[float] = field(default_factory=list)
    closed: list[ClosedSegment] = field(default_factory=list)
    source_seed: int | None = None
    """The seed of its synthetic bytes (``None``: a clip, live video or HLS, which the
    audit cannot rebuild)."""


@dataclass
class GroupResult:
    """Every camera's result."""

    cameras: list[CameraResult] = field(default_factory=list)
    append_latency_counts: list[int] = field(default_factory=list)


class KeyLog:
    """When a camera first held each STS access key (one key per STS call).

    Sampled once per report: the gaps between new keys are the camera's refresh period, which
    gives STS calls per device-hour at steady state without waiting for many periods.
    """

    def __init__(self) -> None:
        self._last: str | None = None
        self.times_s: list[float] = []

    def observe(self, agent: Agent, start_mono: float) -> None:
        """Note the camera's current key if it is new (run seconds of the request)."""
        lease = agent.credentials.current
        if lease is None or lease.credentials.access_key_id == self._last:
            return
        self._last = lease.credentials.access_key_id
        self.times_s.append(round(lease.issued_mono - start_mono, 3))


class FleetAgent(Agent):
    """The camera agent, noting each ``segment.closed`` it reports.

    The audit checks every stored object against the size and CRC-64 its camera reported,
    so a wrong object is named. The latest report of a key wins: a playlist is rewritten
    and reported again, and an event published again after a reconnect is the same event.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed: dict[str, ClosedSegment] = {}

    def publish_event(self, payload: bytes) -> Any:
        try:
            event = parse_event(payload)
        except SchemaError:
            log.warning("%s: unreadable segment event", self.device_id)
        else:
            if isinstance(event, SegmentClosed):  # segment.opened names no length yet
                self.closed[event.key] = ClosedSegment(event.key, event.bytes, event.crc64)
        return super().publish_event(payload)


class _Lifecycle:
    """Ends cameras once they have drained, without a thread per camera while they record.

    ``Agent.run`` would wake ten times a second per camera to ask whether it has drained; the
    group asks once per report instead and only then runs the agent's own drained shutdown
    (close the last object, publish its event), which returns at once, in a short thread.
    """

    def __init__(self, agents: Sequence[Agent], codes: dict[int, int]) -> None:
        self._agents = agents
        self._codes = codes
        self._threads: dict[int, threading.Thread] = {}

    def _finish(self, index: int) -> None:
        def run() -> None:
            self._codes[index] = self._agents[index].run(until_drained=True)

        thread = threading.Thread(target=run, name=f"finish-{index}", daemon=True)
        self._threads[index] = thread
        thread.start()

    def finish_drained(self) -> None:
        """Shut down every camera that has drained (one not yet started has not)."""
        for index, agent in enumerate(self._agents):
            if index not in self._threads and agent.drained():
                self._finish(index)

    def finish_all(self) -> None:
        """Shut down every camera not yet ending (after ``Agent.stop``, run returns at once)."""
        for index in range(len(self._agents)):
            if index not in self._threads:
                self._finish(index)

    def done(self) -> bool:
        """Whether every camera has been shut down."""
        return len(self._threads) == len(self._agents) and not any(
            t.is_alive() for t in self._threads.values()
        )

    def join(self, timeout_s: float) -> None:
        """Wait for the shutdowns in progress."""
        end = time.monotonic() + timeout_s
        for thread in self._threads.values():
            thread.join(max(0.0, end - time.monotonic()))


def _errors(agents: Sequence[Agent]) -> dict[str, int]:
    out: dict[str, int] = {}
    for agent in agents:
        stats = agent.credentials.stats
        for code, n in stats.errors.items():
            out[f"creds:{code}"] = out.get(f"creds:{code}", 0) + n
        if stats.timeouts:
            out["creds:timeout"] = out.get("creds:timeout", 0) + stats.timeouts
        waits = agent.uploader.stats.outage_waits
        if waits:
            out["upload:outage_wait"] = out.get("upload:outage_wait", 0) + waits
    return out


def _video(device_id: str, spec: GroupSpec) -> Iterator[bytes]:
    # Imported here: PyAV is only needed when a camera records real video.
    from simulator.video import PatternSettings, encode_test_pattern

    settings = PatternSettings(bitrate=spec.bitrate_bps, gop_s=1.0)
    return encode_test_pattern(device_id, spec.duration_s + 5, settings)


def run_group(
    spec: GroupSpec,
    report: Callable[[GroupSnapshot], None],
    stop: StopSignal | None = None,
) -> GroupResult:
    """Run the group's cameras until they end and drain (or the drain time runs out).

    Args:
        spec: the cameras and the run's shape.
        report: receives a snapshot every ``spec.report_s``.
        stop: set to end the recording early; cameras then have ``spec.drain_s`` to upload
            what they hold before they are stopped.

    Returns:
        Each camera's chunk log and counters.
    """
    stop = stop or threading.Event()
    start = time.monotonic() - spec.elapsed_s
    loop = SelectorLoop(name="fleet-mqtt")
    loop.start()
    logs: list[ChunkLog] = []
    agents: list[FleetAgent] = []
    latency = LatencyHistogram()
    for cam in spec.cameras:
        settings = AgentSettings.model_validate_json(cam.settings_json)
        chunk_log = ChunkLog()
        settings, hls_sink = hls_camera(settings, spec.duration_s - cam.start_delay_s, chunk_log)
        source = LoggingSource(
            settings.device_id,
            seed=spec.seed,
            bitrate_bps=spec.bitrate_bps,
            chunk_bytes=spec.chunk_bytes,
            duration_s=max(0.1, spec.duration_s - cam.start_delay_s),
            log=chunk_log,
            clip=spec.clip,
            stream=_video(settings.device_id, spec) if spec.video else None,
            end=stop,
            piece_interval_s=1.0 if spec.video else None,
            resume=committed_mark(settings.spool.dir) if spec.elapsed_s else None,
        )
        agent = FleetAgent(
            settings,
            clock=SkewedClock(cam.skew, start),
            crash=AppendTimer(latency),
            loop=loop,
            source=source,
            hls_sink=hls_sink,
        )
        logs.append(chunk_log)
        agents.append(agent)
    codes: dict[int, int] = {}
    peaks = [0] * len(agents)
    keys: list[KeyLog] = [KeyLog() for _ in agents]
    lifecycle = _Lifecycle(agents, codes)
    boot = sorted(range(len(agents)), key=lambda i: spec.cameras[i].start_delay_s)
    deadline = start + spec.duration_s + spec.drain_s
    ending = False
    next_report = start + spec.report_s
    pause = threading.Event()  # never set: a plain wait between boots and reports
    while boot or not lifecycle.done():
        now = time.monotonic()
        while boot and (stop.is_set() or start + spec.cameras[boot[0]].start_delay_s <= now):
            agents[boot.pop(0)].start()
        if boot:
            pause.wait(min(next_report, start + spec.cameras[boot[0]].start_delay_s) - now)
        else:
            pause.wait(max(0.0, next_report - now))
        if time.monotonic() < next_report:
            continue
        next_report += spec.report_s
        if stop.is_set() and not ending:
            ending = True
            deadline = min(deadline, time.monotonic() + spec.drain_s)
        if time.monotonic() > deadline:
            for agent in agents:
                agent.stop()
            lifecycle.finish_all()
            break
        lifecycle.finish_drained()
        figures = []
        for i, (agent, chunk_log) in enumerate(zip(agents, logs, strict=True)):
            # Only figures that never wait: Agent.progress reads the journal, whose lock is
            # held through each commit's fsyncs, and would hold this loop behind them.
            spool_bytes = agent.spool.stats().bytes
            peaks[i] = max(peaks[i], spool_bytes)
            keys[i].observe(agent, start)
            figures.append(
                CameraFigures(
                    agent.device_id,
                    chunk_log.produced_bytes,
                    agent.uploader.stats.stored_bytes,
                    spool_bytes,
                    agent.link.is_connected(),
                )
            )
        report(GroupSnapshot(time.monotonic() - start, tuple(figures), _errors(agents)))
    lifecycle.join(90)
    loop.stop()
    hls = bool(spec.cameras) and agents[0].settings.output.format == "hls"
    synthetic_seed = None if spec.clip or spec.video or hls else spec.seed
    result = GroupResult(append_latency_counts=latency.counts())
    for i, (agent, chunk_log) in enumerate(zip(agents, logs, strict=True)):
        cstats = agent.credentials.stats
        figures_end = agent.reporter.figures()
        result.cameras.append(
            CameraResult(
                device_id=agent.device_id,
                chunks=chunk_log.chunks(),
                drained=codes.get(i) == 0 and agent.spool.stats().chunks == 0,
                exit_code=codes.get(i, -1),
                uploaded_bytes=figures_end.uploaded_bytes,
                dropped_bytes=figures_end.dropped_bytes,
                spool_peak_bytes=peaks[i],
                credential_requests=cstats.requests,
                credential_leases=cstats.leases,
                credential_timeouts=cstats.timeouts,
                skew_adoptions=cstats.skew_adoptions,
                credential_errors=dict(cstats.errors),
                outage_waits=agent.uploader.stats.outage_waits,
                new_key_times_s=keys[i].times_s,
                closed=list(agent.closed.values()),
                source_seed=synthetic_seed,
            )
        )
    return result


def group_process_main(spec: GroupSpec, queue: Any, stop: StopSignal | None = None) -> None:
    """Child-process entry point: run the group, send snapshots and the result on ``queue``.

    Ctrl-C reaches every process of the terminal's group; a camera process leaves it to the
    parent, which ends the recording through ``stop`` so the cameras drain and report.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.ERROR)
    # Hundreds of camera threads share this process's GIL. At the default 5 ms switch
    # interval a backlog (boot, an outage's end) wakes them all and most of the CPU goes to
    # handing the GIL round; longer turns keep the work flowing.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    result = run_group(spec, lambda snap: queue.put(("snapshot", snap)), stop)
    queue.put(("result", result))
