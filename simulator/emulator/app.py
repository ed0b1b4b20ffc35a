"""The one ASGI app of the emulator: STS, admin API and OSS behind a plain dispatcher.

Routing, cheapest test first, so the OSS hot path pays for two string comparisons:

- ``/__admin...`` on a path-style host → :class:`~simulator.emulator.admin.AdminApp`;
- ``/`` with an ``Action`` parameter (query, or a form-encoded POST) → STS;
- everything else → OSS.

STS and OSS go through :class:`~simulator.emulator.middleware.EmulatorMiddleware` (faults,
statistics, access log). The app also answers ASGI lifespan events and signals start-up to
whoever waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from simulator.emulator.admin import PREFIX, AdminApp
from simulator.emulator.asgi import ASGIApp, ASGIReceive, ASGISend, Scope
from simulator.emulator.operations import is_path_style

_ADMIN_PREFIX = PREFIX


class EmulatorApp:
    """Dispatches requests; see the module docstring.

    Args:
        services: the middleware-wrapped OSS + STS app.
        admin: the admin API.
        base_host: the OSS endpoint host (virtual-host requests are never admin requests).
        on_shutdown: called once when the server shuts down (flush state).
    """

    def __init__(
        self,
        *,
        services: ASGIApp,
        admin: AdminApp,
        base_host: str,
        on_shutdown: Callable[[], None] = lambda: None,
    ) -> None:
        self._services = services
        self._admin = admin
        self._base_host = base_host
        self._on_shutdown = on_shutdown
        self.started = threading.Event()

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"].startswith(_ADMIN_PREFIX) and self._is_admin(scope):
                await self._admin(scope, receive, send)
            else:
                await self._services(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

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
