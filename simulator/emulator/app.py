"""The one ASGI app of the emulator: STS, admin API and OSS behind a plain dispatcher.

Routing, cheapest test first, so the OSS hot path pays for two string comparisons:

- ``/__admin...`` on a path-style host → :class:`~simulator.emulator.admin.AdminApp`;
- ``/`` with an ``Action`` parameter (query, or a form-encoded POST) → STS;
- everything else → OSS.

STS and OSS go through :class:`~simulator.emulator.middleware.EmulatorMiddleware` (faults,
statistics, access log). The app also answers ASGI lifespan events and signals start-up to
whoever waits for it.

Every response carries one ``Date`` header from the emulator's clock (which tests may move):
the OSS app writes its own, and the app adds it to any other response (STS, admin, injected
errors). The server's own date header is off (:func:`simulator.emulator.runner.uvicorn_config`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from simulator.base.asgi import ASGIApp, ASGIReceive, ASGISend, Message, Scope
from simulator.emulator.admin import PREFIX, AdminApp
from simulator.emulator.operations import is_path_style
from simulator.oss.responses import Clock as HttpDates

_ADMIN_PREFIX = PREFIX


class EmulatorApp:
    """Dispatches requests; see the module docstring.

    Args:
        services: the middleware-wrapped OSS + STS app.
        admin: the admin API.
        base_host: the OSS endpoint host (virtual-host requests are never admin requests).
        on_shutdown: called once when the server shuts down (flush state).
        clock: the emulator's clock (seconds since the epoch), for the ``Date`` header.
    """

    def __init__(
        self,
        *,
        services: ASGIApp,
        admin: AdminApp,
        base_host: str,
        on_shutdown: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._services = services
        self._clock = clock
        self._dates = HttpDates()
        self._admin = admin
        self._base_host = base_host
        self._on_shutdown = on_shutdown
        self.started = threading.Event()

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        kind = scope["type"]
        if kind == "http":
            dated = self._dated(send)
            if scope["path"].startswith(_ADMIN_PREFIX) and self._is_admin(scope):
                await self._admin(scope, receive, dated)
            else:
                await self._services(scope, receive, dated)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    def _dated(self, send: ASGISend) -> ASGISend:
        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if not any(name == b"date" for name, _ in headers):
                    date = (b"date", self._dates.http_date(self._clock()))
                    message = {**message, "headers": [*headers, date]}
            await send(message)

        return dated

    def _is_admin(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path != _ADMIN_PREFIX and not path.startswith(_ADMIN_PREFIX + "/"):
            return False
        # A virtual-host request for the key "__admin/..." belongs to OSS.
        return is_path_style(scope, self._base_host)

    async def _lifespan(self, receive: ASGIReceive, send: ASGISend) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.started.set()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
