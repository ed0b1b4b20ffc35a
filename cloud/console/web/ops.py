"""``/healthz`` and ``/metrics``: the console as a monitored service.

Neither needs a session (a load balancer and a Prometheus scraper have none) and neither
shows anything but aggregate figures: no device secret, no object key, no operator name.

``/healthz`` answers 200 when the ledger and the device registry can be read (and, when the
console ingests MQTT, while it is subscribed), 503 otherwise, with one entry per check.
``/metrics`` is computed at scrape time from the ledger, plus the operator-action counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cloud.console.errors import ConsoleError
from cloud.console.ledger import Ledger
from cloud.errors import CloudError

__all__ = ["ConsoleMetrics", "HealthChecks", "ops_routes"]

HealthCheck = Callable[[], object]
"""Raises when its part does not work (what it returns is ignored)."""


class HealthChecks:
    """Named checks run by ``/healthz``; parts add theirs (the MQTT ingest adds one)."""

    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {}

    def add(self, name: str, check: HealthCheck) -> None:
        """Register ``check`` under ``name``."""
        self._checks[name] = check

    def run(self) -> tuple[bool, dict[str, Any]]:
        """Run every check; ``(all ok, per-check results)``."""
        results: dict[str, Any] = {}
        for name, check in self._checks.items():
            try:
                check()
            except (ConsoleError, CloudError, OSError) as exc:
                results[name] = {"ok": False, "reason": type(exc).__name__}
            else:
                results[name] = {"ok": True}
        return all(r["ok"] for r in results.values()), results


class _LedgerCollector(Collector):
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def collect(self) -> Iterator[GaugeMetricFamily]:
        states, cameras, online = self._ledger.counts()
        recordings = GaugeMetricFamily(
            "ossmedia_console_recordings",
            "Recordings in the ledger, by verification state.",
            labels=["state"],
        )
        for state, count in sorted(states.items()):
            recordings.add_metric([state], count)
        yield recordings
        yield GaugeMetricFamily("ossmedia_console_cameras", "Cameras in the ledger.", value=cameras)
        yield GaugeMetricFamily(
            "ossmedia_console_cameras_online",
            "Cameras whose last status said online.",
            value=online,
        )


class ConsoleMetrics:
    """The console's Prometheus registry (its own, so several consoles can share a process).

    Args:
        ledger: read at scrape time.
    """

    def __init__(self, ledger: Ledger) -> None:
        # No per-label ``_created`` series: they double the output and say nothing useful.
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.registry.register(_LedgerCollector(ledger))
        self.operator_actions = Counter(
            "ossmedia_console_operator_actions_total",
            "Operator actions (each is also one audit log line), by action.",
            ["action"],
            registry=self.registry,
        )

    def action(self, action: str) -> None:
        """Count one operator action."""
        self.operator_actions.labels(action=action).inc()


async def _healthz(request: Request) -> Response:
    checks: HealthChecks = request.app.state.health
    healthy, results = await run_in_threadpool(checks.run)
    return JSONResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": results},
        status_code=200 if healthy else 503,
        headers={"cache-control": "no-store"},
    )


async def _metrics(request: Request) -> Response:
    metrics: ConsoleMetrics = request.app.state.metrics
    body = await run_in_threadpool(generate_latest, metrics.registry)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def ops_routes() -> list[Route]:
    """The ``/healthz`` and ``/metrics`` routes."""
    return [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
    ]
