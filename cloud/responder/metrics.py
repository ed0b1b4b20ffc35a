"""Prometheus metrics of one responder process (own registry, so several can coexist).

Counters carry no ``_created`` series (``disable_created_metrics``): a scraper has no use for
a per-label creation timestamp, and it doubles the output.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    30.0,
    60.0,
)
# AssumeRole takes tens of milliseconds when healthy; the tail shows timeouts (timeout_s).
_STS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)


class Metrics:
    """Counters and histograms the responder updates.

    Args:
        registry: where to register; a fresh one by default.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "ossmedia_responder_requests_total",
            "Credential requests answered, by outcome (ok, an error code, duplicate).",
            ["outcome"],
            registry=r,
        )
        self.dropped = Counter(
            "ossmedia_responder_dropped_total",
            "Messages that named no device and were not answered.",
            registry=r,
        )
        self.sts_calls = Counter(
            "ossmedia_responder_sts_calls_total",
            "AssumeRole attempts, by outcome (ok or the STS error code).",
            ["outcome"],
            registry=r,
        )
        self.sts_latency = Histogram(
            "ossmedia_responder_sts_call_seconds",
            "Duration of one AssumeRole attempt (sent to answered, or timed out).",
            buckets=_STS_BUCKETS,
            registry=r,
        )
        self.dependency_errors = Counter(
            "ossmedia_responder_dependency_errors_total",
            "Failed calls to a dependency (state, registry, sts) seen by requests or probes.",
            ["dependency"],
            registry=r,
        )
        self.dependencies_up = Gauge(
            "ossmedia_responder_dependency_up",
            "1 while the dependency (state, registry, sts) works, 0 while it is down.",
            ["dependency"],
            registry=r,
        )
        self.cache_hits = Counter(
            "ossmedia_responder_cache_hits_total",
            "Requests served with cached credentials.",
            registry=r,
        )
        self.cache_misses = Counter(
            "ossmedia_responder_cache_misses_total",
            "Requests that needed an STS call.",
            registry=r,
        )
        self.coalesced = Counter(
            "ossmedia_responder_coalesced_total",
            "Requests that shared another request's STS call.",
            registry=r,
        )
        self.latency = Histogram(
            "ossmedia_responder_request_seconds",
            "Time from receiving a request to publishing its reply.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "ossmedia_responder_in_flight",
            "Requests received and not yet answered.",
            registry=r,
        )
        # Label lookups cost more than the increment; keep the children.
        self._outcomes: dict[str, Counter] = {}
        self.connected = Gauge(
            "ossmedia_responder_broker_connected",
            "1 while connected to the broker.",
            registry=r,
        )
        self.quarantine = Counter(
            "ossmedia_responder_quarantine_total",
            "Broker-side quarantines of flooding cameras, by outcome: disabled, skipped "
            "(no account, or disabled already), capped (too many held), lifted, kept "
            "(revoked: stays disabled), extended, ended (by an operator or another "
            "responder), failed (the broker or the registry could not be reached).",
            ["outcome"],
            registry=r,
        )
        self.quarantined = Gauge(
            "ossmedia_responder_quarantined",
            "Cameras whose quarantine this responder holds (and will end).",
            registry=r,
        )

    def request(self, outcome: str, seconds: float) -> None:
        """Count one answered request and its latency."""
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self.requests.labels(outcome=outcome)
        child.inc()
        self.latency.observe(seconds)

    def sts_call(self, outcome: str, seconds: float | None = None) -> None:
        """Count one AssumeRole attempt (and its duration, when a request was sent)."""
        self.sts_calls.labels(outcome=outcome).inc()
        if seconds is not None:
            self.sts_latency.observe(seconds)

    def dependency_error(self, dependency: str) -> None:
        """Count one failed call to a dependency."""
        self.dependency_errors.labels(dependency=dependency).inc()

    def dependency_up(self, dependency: str, up: bool) -> None:
        """Set whether a dependency works."""
        self.dependencies_up.labels(dependency=dependency).set(1 if up else 0)

    def quarantine_event(self, outcome: str) -> None:
        """Count one quarantine outcome."""
        self.quarantine.labels(outcome=outcome).inc()

    def credential_source(self, source: str) -> None:
        """Count how one credential lookup was served."""
        if source == "hit":
            self.cache_hits.inc()
        elif source == "coalesced":
            self.coalesced.inc()
        else:
            self.cache_misses.inc()
