"""Assemble a responder from settings: state, registry, STS, pipeline, MQTT, HTTP."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloud.errors import CloudError
from cloud.registry import Registry, master_key_from, open_store
from cloud.responder.cache import CredentialCache
from cloud.responder.devices import DeviceDirectory
from cloud.responder.http import HealthServer
from cloud.responder.limiter import StsCallLimiter
from cloud.responder.metrics import Metrics
from cloud.responder.pipeline import Pipeline
from cloud.responder.ratelimit import DeviceRateLimiter
from cloud.responder.replay import ReplayGuard
from cloud.responder.service import ResponderService
from cloud.responder.sts import CredentialMinter, StsClient
from cloud.settings import ResponderSettings
from cloud.state import SharedState, open_state
from schemas.topics import Topics

_log = logging.getLogger("ossmedia.responder")


def wall_clock_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


HEARTBEAT_INTERVAL_S = 1.0
HEARTBEAT_TTL_MS = 3000


class Heartbeat:
    """Keeps this process's id alive in the shared state while it runs.

    A nonce claim names the process that made it; when that process dies (SIGKILL, power
    loss), its heartbeat lapses within ``HEARTBEAT_TTL_MS`` and another responder may answer
    the redelivered request at once instead of waiting out the claim's lease.

    Args:
        state: the shared state.
        owner: this process's id.
    """

    def __init__(self, state: SharedState, owner: str) -> None:
        self._state = state
        self.owner = owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="responder-heartbeat", daemon=True)

    def _beat(self) -> None:
        try:
            self._state.heartbeat(self.owner, ttl_ms=HEARTBEAT_TTL_MS)
        except CloudError as exc:
            _log.warning("heartbeat failed", extra={"fields": {"error": exc.message}})

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_S):
            self._beat()

    def start(self) -> None:
        """Beat once now, then every second."""
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating (the id lapses by itself)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)


@dataclass
class Responder:
    """A running (or ready to run) responder and its parts."""

    settings: ResponderSettings
    state: SharedState
    registry: Registry
    metrics: Metrics
    pipeline: Pipeline
    service: ResponderService
    http: HealthServer | None
    heartbeat: Heartbeat

    def start(self) -> None:
        """Start the heartbeat, the HTTP endpoint and the MQTT service."""
        self.heartbeat.start()
        if self.http is not None:
            self.http.start()
        self.service.start()
        _log.info(
            "started",
            extra={
                "fields": {
                    "broker": self.settings.broker.url,
                    "state": self.state.name,
                    "metrics_port": self.http.port if self.http else None,
                }
            },
        )

    def stop(self) -> None:
        """Answer in-flight requests, disconnect, and release everything."""
        self.service.stop(self.settings.service.shutdown_timeout_s)
        if self.http is not None:
            self.http.stop()
        self.heartbeat.stop()
        self.registry.close()
        self.state.close()


def build_pipeline(
    settings: ResponderSettings,
    *,
    state: SharedState,
    registry: Registry,
    minter: CredentialMinter,
    cache_key: bytes,
    metrics: Metrics,
    clock_ms: Callable[[], int] = wall_clock_ms,
    sleep: Callable[[float], None] = time.sleep,
    owner: str = "",
) -> Pipeline:
    """Build the request pipeline from its parts.

    Args:
        settings: the responder settings.
        state: shared state backend.
        registry: device registry.
        minter: the STS seam.
        cache_key: 32 bytes that encrypt cached credentials.
        metrics: metrics sink.
        clock_ms: wall clock in milliseconds.
        sleep: sleep function (duplicate waits).
        owner: this process's id in nonce claims (see :class:`Heartbeat`).
    """
    limits = settings.limits
    return Pipeline(
        topics=Topics(settings.broker.topic_prefix),
        devices=DeviceDirectory(
            registry, ttl_ms=int(limits.device_cache_s * 1000), clock_ms=clock_ms
        ),
        replay=ReplayGuard(
            state.replies,
            skew_window_ms=limits.skew_window_s * 1000,
            lease_ms=int(limits.inflight_lease_s * 1000),
            clock_ms=clock_ms,
            sleep=sleep,
            owner=owner,
        ),
        device_limiter=DeviceRateLimiter(
            state.rates,
            per_minute=limits.device_requests_per_minute,
            burst=limits.device_burst,
            clock_ms=clock_ms,
        ),
        credentials=CredentialCache(
            minter,
            state.blobs,
            cache_key=cache_key,
            reuse_threshold=limits.cache_reuse_threshold,
            clock_ms=clock_ms,
            observer=metrics,
        ),
        grant=settings.grant,
        limits=limits,
        max_duration_s=settings.sts.max_duration_s,
        clock_ms=clock_ms,
    )


def build_responder(settings: ResponderSettings, *, with_http: bool = True) -> Responder:
    """Build a complete responder from settings (nothing is started).

    Raises:
        ConfigError: no usable master key or other configuration problem.
        RegistryError: the registry cannot be opened.
    """
    key = master_key_from(settings.registry)
    state = open_state(settings.state)
    registry = Registry(
        open_store(settings.registry.url, key_prefix=settings.registry.key_prefix), key
    )
    metrics = Metrics()
    limiter = StsCallLimiter(
        state.rates,
        calls_per_second=settings.limits.sts_calls_per_second,
        max_queue_ms=settings.limits.sts_max_queue_ms,
        clock_ms=wall_clock_ms,
    )
    minter = StsClient(settings.sts, limiter=limiter, observer=metrics)
    heartbeat = Heartbeat(state, secrets.token_hex(8))
    pipeline = build_pipeline(
        settings,
        state=state,
        registry=registry,
        minter=minter,
        cache_key=key.derive(b"credential-cache"),
        metrics=metrics,
        owner=heartbeat.owner,
    )
    service = ResponderService(settings.broker, pipeline, metrics, workers=settings.service.workers)
    http = None
    if with_http and settings.service.metrics_port >= 0:
        http = HealthServer(
            settings.service.metrics_host,
            settings.service.metrics_port,
            metrics.registry,
            service.health,
        )
    return Responder(settings, state, registry, metrics, pipeline, service, http, heartbeat)
