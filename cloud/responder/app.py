"""Assemble a responder from settings: state, registry, STS, pipeline, MQTT, HTTP.

:meth:`Responder.start` runs the start-up checks (:mod:`cloud.responder.preflight`) first and
raises :class:`~cloud.errors.StartupRefused` without connecting to the broker when one fails.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloud.errors import CloudError, StartupRefused
from cloud.registry import Registry, master_key_from, open_store
from cloud.registry.broker_accounts import DynsecAccounts
from cloud.responder.cache import CredentialCache
from cloud.responder.devices import DeviceDirectory
from cloud.responder.health import Dependencies, Dependency, HealthMonitor
from cloud.responder.http import HealthServer
from cloud.responder.limiter import StsCallLimiter
from cloud.responder.metrics import Metrics
from cloud.responder.pipeline import Pipeline
from cloud.responder.policy import session_policy
from cloud.responder.preflight import Findings, check_dependencies, probe_sts, settings_problems
from cloud.responder.quarantine import Quarantine
from cloud.responder.ratelimit import DeviceRateLimiter
from cloud.responder.replay import ReplayGuard
from cloud.responder.service import ResponderService
from cloud.responder.sts import CredentialMinter, StsClient
from cloud.settings import ResponderSettings
from cloud.state import SharedState, open_state
from schemas.ids import DeviceId
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
    minter: StsClient
    dependencies: Dependencies
    quarantine: Quarantine | None = None
    monitor: HealthMonitor = field(init=False)

    def __post_init__(self) -> None:
        self.monitor = HealthMonitor(
            self.dependencies,
            {
                Dependency.STATE: self.state.ping,
                Dependency.REGISTRY: self._probe_registry,
            },
            interval_s=self.settings.service.health_interval_s,
        )

    def _probe_registry(self) -> None:
        self.registry.verify_key(record=False)

    def close(self) -> None:
        """Release the state backend and the registry of a responder that never started."""
        self.registry.close()
        self.state.close()

    def preflight(self, *, sts: bool = True) -> Findings:
        """Run the start-up checks (see :mod:`cloud.responder.preflight`).

        Args:
            sts: also ask STS for credentials once.
        """
        problems = settings_problems(self.settings)
        found, notes = check_dependencies(self.state, self.registry, record_key=True)
        problems += found
        if sts and not problems:
            grant = self.settings.grant
            policy = session_policy(
                bucket=grant.bucket, prefix=grant.prefix_for("responder-check"), access="read"
            )
            refused, said = probe_sts(lambda: self.minter.probe(policy))
            problems += refused
            notes += said
        return Findings(tuple(problems), tuple(notes))

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``/healthz``: connected and subscribed, and every dependency working."""
        serving, details = self.service.health()
        dependencies_ok, dependencies = self.dependencies.health()
        healthy = serving and dependencies_ok
        if healthy:
            status = "ok"
        elif serving:
            status = "degraded"  # answering, but only with retryable errors for some requests
        else:
            status = "unhealthy"
        return healthy, {"status": status, **details, "dependencies": dependencies}

    def start(self, *, check_sts: bool = True) -> None:
        """Check every dependency, then start the heartbeat, HTTP endpoint and MQTT service.

        Args:
            check_sts: include the one STS call of the start-up checks.

        Raises:
            StartupRefused: a check failed; nothing was started.
        """
        findings = self.preflight(sts=check_sts)
        for note in findings.notes:
            _log.warning("start-up check", extra={"fields": {"note": note}})
        if not findings.ok:
            for problem in findings.problems:
                _log.error("start-up check failed", extra={"fields": {"problem": problem}})
            raise StartupRefused(findings.problems)
        self.heartbeat.start()
        self.monitor.start()
        if self.http is not None:
            self.http.start()
        self.service.start()
        if self.quarantine is not None:
            self.quarantine.start()
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
        if self.quarantine is not None:
            self.quarantine.stop()
        if self.http is not None:
            self.http.stop()
        self.monitor.stop()
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
    dependencies: Dependencies | None = None,
    on_muted: Callable[[DeviceId], None] | None = None,
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
        dependencies: where dependency failures are reported (``/healthz``).
        on_muted: told when a device is muted (the quarantine's request).
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
        dependencies=dependencies,
        on_muted=on_muted,
    )


def build_quarantine(
    settings: ResponderSettings, registry: Registry, metrics: Metrics
) -> Quarantine | None:
    """The broker-side quarantine of ``[quarantine]``, or ``None`` when it is off."""
    admin = settings.quarantine.broker_admin()
    if admin is None:
        return None
    accounts = DynsecAccounts(admin, topics=Topics(settings.broker.topic_prefix))
    return Quarantine(
        accounts,
        registry,
        period_s=settings.quarantine.period_s,
        max_active=settings.quarantine.max_active,
        sweep_interval_s=settings.quarantine.sweep_interval_s,
        metrics=metrics,
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
    dependencies = Dependencies(metrics)
    limiter = StsCallLimiter(
        state.rates,
        calls_per_second=settings.limits.sts_calls_per_second,
        max_queue_ms=settings.limits.sts_max_queue_ms,
        clock_ms=wall_clock_ms,
    )
    minter = StsClient(settings.sts, limiter=limiter, observer=metrics)
    heartbeat = Heartbeat(state, secrets.token_hex(8))
    quarantine = build_quarantine(settings, registry, metrics)
    pipeline = build_pipeline(
        settings,
        state=state,
        registry=registry,
        minter=minter,
        cache_key=key.derive(b"credential-cache"),
        metrics=metrics,
        owner=heartbeat.owner,
        dependencies=dependencies,
        on_muted=quarantine.request if quarantine is not None else None,
    )
    service = ResponderService(settings.broker, pipeline, metrics, workers=settings.service.workers)
    responder = Responder(
        settings,
        state,
        registry,
        metrics,
        pipeline,
        service,
        None,
        heartbeat,
        minter,
        dependencies,
        quarantine,
    )
    if with_http and settings.service.metrics_port >= 0:
        responder.http = HealthServer(
            settings.service.metrics_host,
            settings.service.metrics_port,
            metrics.registry,
            responder.health,
        )
    return responder
