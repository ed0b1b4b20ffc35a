"""Builds the console's ASGI application from settings.

:func:`create_app` wires the ledger, the bucket, the registry, the reconciler and the
ingest into one Starlette application. Parts not passed in are made from the settings and
closed when the application shuts down; parts passed in belong to the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from cloud.console.clips import Clips
from cloud.console.content_keys import ContentKeys, KeySealer
from cloud.console.cursors import CursorCodec
from cloud.console.devices import DeviceAdmin, RegistryDevices
from cloud.console.errors import ConsoleConfigError, ConsoleError
from cloud.console.ingest import Ingestor
from cloud.console.ledger import Ledger
from cloud.console.live import LiveRecordings, LiveStore
from cloud.console.reconcile import Reconciler
from cloud.console.service import ConsoleService
from cloud.console.settings import ConsoleSettings
from cloud.console.storage import ObjectStore, OssObjectStore
from cloud.console.web.api import api_routes
from cloud.console.web.auth import Authenticator, Sessions, SessionStore, Signer
from cloud.console.web.context import WebContext, console_error_handler, http_error_handler
from cloud.console.web.middleware import RequestLimits, SecurityHeaders
from cloud.console.web.ops import ConsoleMetrics, HealthChecks, ops_routes
from cloud.console.web.pages import page_routes
from cloud.console.web.replicas import SharedAttempts, SharedFailures, SharedSessions
from cloud.console.web.templating import make_environment
from cloud.database import DatabaseError, PoolSettings
from cloud.errors import CloudError
from cloud.registry import master_key_from, open_registry
from cloud.registry.broker_accounts import CameraAccounts, DynsecAccounts
from schemas.topics import Topics

__all__ = ["ConsoleParts", "create_app"]

log = logging.getLogger(__name__)


@dataclass
class ConsoleParts:
    """The working parts behind a console application.

    Attributes:
        ledger: the recording ledger.
        store: the bucket, with the console's own credentials.
        devices: the registry seam.
        reconciler: object verification.
        ingestor: MQTT message checks (run by :class:`~cloud.console.runtime.Console`).
        content_keys: HLS content keys, sealed at rest.
        service: the operations pages and API share.
        closers: cleanup for parts the application made itself.
        metrics: what ``/metrics`` shows.
        health: what ``/healthz`` checks.
    """

    ledger: Ledger
    store: ObjectStore
    devices: DeviceAdmin
    reconciler: Reconciler
    ingestor: Ingestor
    service: ConsoleService
    content_keys: ContentKeys
    closers: list[Callable[[], None]] = field(default_factory=list)
    metrics: ConsoleMetrics | None = None
    health: HealthChecks = field(default_factory=HealthChecks)

    def close(self) -> None:
        """Close what the application opened itself (idempotent)."""
        while self.closers:
            self.closers.pop()()


def build_parts(
    settings: ConsoleSettings,
    *,
    devices: DeviceAdmin | None = None,
    store: ObjectStore | None = None,
    ledger: Ledger | None = None,
    clock: Callable[[], float] = time.time,
    sealer: KeySealer | None = None,
    accounts: CameraAccounts | None = None,
) -> ConsoleParts:
    """Make the console's parts, using the ones given (``accounts``: the cameras' broker
    accounts, by default from ``[provisioning]``).

    Raises:
        ConsoleConfigError: the registry cannot be opened from the settings, or its master
            key is malformed.
    """
    closers: list[Callable[[], None]] = []
    if devices is None:
        try:
            registry = open_registry(settings.registry)
        except CloudError as exc:
            raise ConsoleConfigError(f"device registry: {exc}") from None
        closers.append(registry.close)
        devices = RegistryDevices(registry)
    if ledger is None:
        cfg = settings.ledger
        try:
            ledger = Ledger(
                cfg.location,
                migrate=cfg.migrate_at_start,
                pool=PoolSettings(
                    size=cfg.pool_size,
                    max_overflow=cfg.pool_max_overflow,
                    timeout_s=cfg.pool_timeout_s,
                ),
            )
        except DatabaseError as exc:
            raise ConsoleConfigError(f"ledger: {exc}") from None
        closers.append(ledger.close)
    if store is None:
        store = OssObjectStore(settings.oss)
    if sealer is None:
        sealer = _sealer(settings)
    content_keys = ContentKeys(ledger, sealer)
    live_store = LiveStore(ledger)
    live = LiveRecordings(live_store, store, presign_ttl_s=settings.oss.presign_ttl_s, clock=clock)
    reconciler = Reconciler(
        ledger,
        store,
        clock=clock,
        recheck_after_s=settings.reconcile.recheck_after_s,
        batch=settings.reconcile.batch,
    )
    ingestor = Ingestor(
        ledger,
        devices,
        settings.oss,
        Topics(settings.mqtt.topic_prefix),
        content_keys=content_keys,
        live=live_store,
        clock=clock,
    )
    metrics = ConsoleMetrics(ledger)
    if accounts is None:
        admin = settings.provisioning.broker_admin()
        if admin is not None:
            accounts = DynsecAccounts(admin, topics=Topics(settings.mqtt.topic_prefix))
    service = ConsoleService(
        settings,
        ledger=ledger,
        store=store,
        devices=devices,
        reconciler=reconciler,
        content_keys=content_keys,
        live=live,
        clips=Clips(ledger, live, store, settings.oss, clock=clock),
        clock=clock,
        on_action=metrics.action,
        accounts=accounts,
    )
    health = HealthChecks()
    health.add("ledger", ledger.ping)  # one round trip: a load balancer asks often
    health.add("registry", devices.list_devices)
    return ConsoleParts(
        ledger,
        store,
        devices,
        reconciler,
        ingestor,
        service,
        content_keys,
        closers,
        metrics=metrics,
        health=health,
    )


def _sealer(settings: ConsoleSettings) -> KeySealer:
    # Content keys are sealed under the registry's master key when the console has it; a
    # console handed its registry by the caller may not, and then keeps keys for its own
    # lifetime only.
    if settings.registry.master_key is None:
        log.warning(
            "console: no registry master key configured; HLS content keys will not open "
            "after a restart (set OSSMEDIA_MASTER_KEY or registry.master_key_file)"
        )
        return KeySealer.ephemeral()
    try:
        return KeySealer.from_master_key(master_key_from(settings.registry))
    except CloudError as exc:
        raise ConsoleConfigError(f"registry master key: {exc}") from None


def create_app(
    settings: ConsoleSettings,
    *,
    devices: DeviceAdmin | None = None,
    store: ObjectStore | None = None,
    ledger: Ledger | None = None,
    clock: Callable[[], float] = time.time,
    sealer: KeySealer | None = None,
    accounts: CameraAccounts | None = None,
) -> Starlette:
    """Build the console's web application (pages and REST API).

    Args:
        settings: console settings.
        devices: the device registry seam; by default the registry in ``settings.registry``.
        store: the bucket; by default OSS with the console's credentials from ``settings.oss``.
        ledger: the recording ledger; by default opened from ``settings.ledger``.
        clock: wall clock in seconds (sessions, lockouts, links, ledger times).
        sealer: seals HLS content keys at rest; by default derived from the registry's
            master key in ``settings.registry``.
        accounts: the cameras' broker accounts; by default the dynamic-security plugin in
            ``settings.provisioning``, if set.

    Returns:
        The application; ``app.state.parts`` holds its :class:`ConsoleParts`.

    Raises:
        ConsoleConfigError: a part cannot be made from the settings.
    """
    parts = build_parts(
        settings,
        devices=devices,
        store=store,
        ledger=ledger,
        clock=clock,
        sealer=sealer,
        accounts=accounts,
    )
    session_secret = settings.session.secret
    shared = parts.ledger.shared
    if shared and session_secret is None:
        parts.close()
        raise ConsoleConfigError(
            "a ledger on PostgreSQL may be shared by several replicas: set session.secret "
            "(or session.secret_file), the same on every replica"
        )
    key = (
        session_secret.get_secret_value().encode("utf-8")
        if session_secret is not None
        else secrets.token_bytes(32)
    )
    sessions: Sessions = (
        SharedSessions(parts.ledger, max_age_s=settings.session.max_age_s, clock=clock)
        if shared
        else SessionStore(max_age_s=settings.session.max_age_s, clock=clock)
    )
    ctx = WebContext(
        service=parts.service,
        authenticator=Authenticator(
            settings.operators,
            settings.session,
            clock=clock,
            failures=(
                SharedFailures(parts.ledger, keep_s=settings.session.lockout_s) if shared else None
            ),
            attempts=SharedAttempts(parts.ledger) if shared else None,
        ),
        sessions=sessions,
        signer=Signer(key),
        # Cursors never need to outlive the process, but on a shared ledger the next page
        # may be asked of another replica: there the key is derived from the shared secret.
        cursors=CursorCodec(
            hashlib.sha256(b"ossmedia cursors\0" + key).digest()
            if shared
            else secrets.token_bytes(32)
        ),
        templates=make_environment(),
        secure_cookies=settings.http.secure_cookies,
        session_max_age_s=settings.session.max_age_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            parts.close()

    static = StaticFiles(packages=[("cloud.console.web", "static")])
    app = Starlette(
        routes=[
            *ops_routes(),
            *page_routes(),
            *api_routes(),
            Mount("/static", app=static, name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders, secure=settings.http.secure_cookies),
            Middleware(RequestLimits, max_body_bytes=settings.http.max_body_bytes),
        ],
        exception_handlers={
            ConsoleError: console_error_handler,
            HTTPException: http_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.parts = parts
    app.state.health = parts.health
    app.state.metrics = parts.metrics
    return app
