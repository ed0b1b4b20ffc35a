"""Assemble a responder from settings: state, registry, STS, pipeline, MQTT, HTTP."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloud.registry import Registry, master_key_from, open_store
from cloud.responder.cache import CredentialCache
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

    def start(self) -> None:
        """Start the HTTP endpoint and the MQTT service."""
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
    """
    limits = settings.limits
    return Pipeline(
        topics=Topics(settings.broker.topic_prefix),
        registry=registry,
        replay=ReplayGuard(
            state.replies,
            skew_window_ms=limits.skew_window_s * 1000,
            lease_ms=int(limits.inflight_lease_s * 1000),
            clock_ms=clock_ms,
            sleep=sleep,
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
    pipeline = build_pipeline(
        settings,
        state=state,
        registry=registry,
        minter=minter,
        cache_key=key.derive(b"credential-cache"),
        metrics=metrics,
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
    return Responder(settings, state, registry, metrics, pipeline, service, http)
