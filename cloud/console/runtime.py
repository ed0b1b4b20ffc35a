"""A running console: web server, MQTT ingest and reconciler together.

:class:`Console` is what ``ossmedia console`` runs in the foreground and what
``ossmedia demo`` and tests run in a background thread::

    with Console(settings, devices=RegistryDevices(registry)) as console:
        console.start()
        print(console.url)

The listening socket is bound before the server thread starts, so ``console.url`` accepts
connections as soon as :meth:`Console.start` returns (port 0 picks a free port).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType

import uvicorn

from cloud.console.content_keys import KeySealer
from cloud.console.devices import DeviceAdmin
from cloud.console.errors import ConsoleError
from cloud.console.ledger import Ledger
from cloud.console.ledger.leases import Lease
from cloud.console.mqtt import MqttIngest
from cloud.console.reconcile import ReconcileLoop
from cloud.console.settings import ConsoleSettings
from cloud.console.storage import ObjectStore
from cloud.console.web.app import ConsoleParts, create_app
from cloud.registry.broker_accounts import CameraAccounts

__all__ = ["Console"]

log = logging.getLogger(__name__)


class _Interrupted(Exception):
    """SIGTERM arrived: stop serving."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted


def _hangup(signum: int, frame: FrameType | None) -> None:
    # SIGHUP would otherwise kill the process mid-request. Logs go to stderr (nothing to
    # reopen) and settings are read at start.
    log.info("console: SIGHUP ignored; restart to apply changed settings")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConsoleError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Console:
    """The console service.

    Args:
        settings: console settings.
        devices: the registry seam; by default opened from ``settings.registry``.
        store: the bucket; by default OSS with the console's credentials.
        ledger: the ledger; by default opened from ``settings.ledger``.
        clock: wall clock in seconds.
        sealer: seals HLS content keys at rest; by default derived from the registry's
            master key.
        accounts: the cameras' broker accounts; by default from ``settings.provisioning``.

    Raises:
        ConsoleConfigError: a part cannot be made from the settings.
    """

    def __init__(
        self,
        settings: ConsoleSettings,
        *,
        devices: DeviceAdmin | None = None,
        store: ObjectStore | None = None,
        ledger: Ledger | None = None,
        clock: Callable[[], float] = time.time,
        sealer: KeySealer | None = None,
        accounts: CameraAccounts | None = None,
    ) -> None:
        self.settings = settings
        self.app = create_app(
            settings,
            devices=devices,
            store=store,
            ledger=ledger,
            clock=clock,
            sealer=sealer,
            accounts=accounts,
        )
        self.parts: ConsoleParts = self.app.state.parts
        self._mqtt = (
            MqttIngest(settings.mqtt, self.parts.ingestor) if settings.mqtt.enabled else None
        )
        self._loop = (
            ReconcileLoop(
                self.parts.reconciler,
                interval_s=settings.reconcile.interval_s,
                before_pass=self.parts.service.sync_cameras,
                lease=Lease(
                    self.parts.ledger,
                    "reconcile",
                    holder=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}",
                    ttl_s=settings.reconcile.lease_s,
                    clock=clock,
                ),
            )
            if settings.reconcile.enabled
            else None
        )
        if self._mqtt is not None:
            self.parts.health.add("mqtt", self._check_subscribed)
        self._sock: socket.socket | None = None
        self._url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The console's base URL, once started."""
        if self._url is None:
            raise ConsoleError("the console is not started")
        return self._url

    def _listen(self) -> socket.socket:
        sock = _bind(self.settings.http.host, self.settings.http.port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{port}"
        self._sock = sock
        return sock

    def _check_subscribed(self) -> None:
        if not self.wait_subscribed(0):
            raise ConsoleError("not subscribed to the broker")

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Block until the MQTT subscriptions are in place (True), or time out (False)."""
        return self._mqtt is not None and self._mqtt.wait_subscribed(timeout_s)

    def _start_background(self) -> None:
        try:
            self.parts.service.sync_cameras()
        except ConsoleError as exc:
            log.warning("console: cannot read the device registry yet: %s", exc)
        if self._mqtt is not None:
            self._mqtt.start()
        if self._loop is not None:
            self._loop.start()

    def _make_server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=self.settings.http.shutdown_timeout_s,
        )
        return uvicorn.Server(config)

    def start(self) -> str:
        """Serve in a background thread; returns the URL.

        Raises:
            ConsoleError: the port cannot be bound.
        """
        if self._thread is not None:
            return self.url
        sock = self._listen()
        self._start_background()
        server = self._server = self._make_server()
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="ossmedia-console-http", daemon=True
        )
        self._thread.start()
        return self.url

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C or SIGTERM), then drain.

        The drain: the listening socket closes at once, requests in flight have
        ``http.shutdown_timeout_s`` to finish (then they are cancelled), then the reconciler
        ends its pass and the MQTT ingest stores the message in hand and closes its session.

        Args:
            on_ready: called with the URL once the port is bound.

        Raises:
            ConsoleError: the port cannot be bound.
        """
        sock = self._listen()
        if on_ready is not None:
            on_ready(self.url)
        self._start_background()
        self._server = self._make_server()
        # uvicorn handles SIGINT/SIGTERM while it serves, then raises the signal again once it
        # has shut down; this handler turns that second delivery into a normal return.
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
        previous_hup = signal.signal(signal.SIGHUP, _hangup) if in_main else None
        try:
            self._server.run(sockets=[sock])
        except (_Interrupted, KeyboardInterrupt):
            log.info("console: stopped by signal; closing the MQTT session")
        finally:
            if in_main and previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if in_main and previous_hup is not None:
                signal.signal(signal.SIGHUP, previous_hup)
            self._stop_background()
            sock.close()

    def _stop_background(self) -> None:
        if self._loop is not None:
            self._loop.stop()
        if self._mqtt is not None:
            self._mqtt.stop()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving, stop ingest and reconciler, close what the console opened."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._stop_background()
        if self._sock is not None:
            self._sock.close()
        self.parts.close()

    def __enter__(self) -> Console:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
