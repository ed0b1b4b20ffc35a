"""The admin API under ``/__admin``: faults, clock, statistics, population, health.

Every endpoint but ``GET /__admin/health`` needs ``Authorization: Bearer <admin token>``
(compared in constant time). Bodies and replies are JSON.

| method | path | does |
|---|---|---|
| GET | /__admin/health | ``{"status": "ok"}`` (no token needed) |
| GET / PUT / DELETE | /__admin/faults | read config + injected counters / replace / clear |
| GET / POST | /__admin/clock | read; ``{"advance_s": s}`` or ``{"offset_s": s}`` (then sweeps lifecycle) |
| POST | /__admin/lifecycle/sweep | apply lifecycle rules now; ``{"expired": n}`` |
| GET / DELETE | /__admin/stats | requests per operation and outcome, injected faults / reset |
| GET | /__admin/info | endpoints, keys, role, bucket (what ``--json`` prints) |
| PUT | /__admin/buckets/<name> | create a bucket (``{"account": id}`` optional) |
| PUT | /__admin/roles | create or replace a role (``account``, ``name``, ``policies`` ...) |
| PUT | /__admin/access-keys | add a key (``account``, ``id``, ``secret``, ``user``, ``policies``) |
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from simulator.base.asgi import ASGIReceive, ASGISend, Scope
from simulator.base.errors import EmulatorError
from simulator.emulator.clock import EmulatorClock
from simulator.emulator.faults import FaultConfig, FaultInjector
from simulator.emulator.stats import RequestStats
from simulator.sts.responses import read_body

logger = logging.getLogger(__name__)

PREFIX = "/__admin"


class AdminTarget(Protocol):
    """What the admin API controls (``simulator.emulator.server.Emulator``)."""

    clock: EmulatorClock
    injector: FaultInjector
    stats: RequestStats

    def info(self) -> dict[str, Any]: ...

    def sweep_lifecycle(self) -> int: ...

    def create_bucket(self, name: str, account_id: str | None = None) -> None: ...

    def create_role(
        self,
        name: str,
        *,
        policies: list[Any],
        account_id: str | None = None,
        trusted_accounts: list[str] | None = None,
        max_session_duration: int = 3600,
    ) -> str: ...

    def add_access_key(
        self,
        access_key_id: str,
        secret: str,
        *,
        account_id: str | None = None,
        user: str | None = None,
        policies: list[Any] | None = None,
    ) -> None: ...


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _reply(send: ASGISend, status: int, body: object) -> None:
    payload = json.dumps(body, sort_keys=True).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _bearer(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = bytes(value).partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else b""
    return b""


def _as_mapping(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise _HttpError(400, "the body must be a JSON object")
    return body


class AdminApp:
    """ASGI app for ``/__admin``.

    Args:
        target: the emulator it controls.
        token: the bearer token every call but health must present.
    """

    def __init__(self, target: AdminTarget, token: str) -> None:
        self._target = target
        self._token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        path = scope["path"][len(PREFIX) :].rstrip("/") or "/"
        method = scope["method"]
        try:
            if path == "/health" and method == "GET":
                await _reply(send, 200, {"status": "ok"})
                return
            if not hmac.compare_digest(_bearer(scope), self._token):
                raise _HttpError(401, "missing or wrong admin token")
            raw = await read_body(receive, limit=1024 * 1024)
            if raw is None:
                raise _HttpError(413, "body too large")
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise _HttpError(400, "the body is not JSON") from None
            status, reply = self._route(method, path, body)
        except _HttpError as exc:
            status, reply = exc.status, {"error": exc.message}
        except KeyError as exc:
            status, reply = 400, {"error": f"missing field {exc}"}
        except (EmulatorError, ValueError, TypeError) as exc:
            status, reply = 400, {"error": str(exc)}
        await _reply(send, status, reply)

    def _route(self, method: str, path: str, body: object) -> tuple[int, object]:
        t = self._target
        if path == "/faults":
            if method == "PUT":
                t.injector.configure(FaultConfig.parse(body, source="admin"))
            elif method == "DELETE":
                t.injector.configure(FaultConfig())
            elif method != "GET":
                raise _HttpError(405, "use GET, PUT or DELETE")
            return 200, t.injector.snapshot()
        if path == "/clock":
            if method == "POST":
                args = _as_mapping(body)
                if "offset_s" in args:
                    t.clock.set_offset(float(args["offset_s"]))
                else:
                    t.clock.advance(float(args.get("advance_s", 0.0)))
                expired = t.sweep_lifecycle()
                return 200, {"now": t.clock(), "offset_s": t.clock.offset_s, "expired": expired}
            if method != "GET":
                raise _HttpError(405, "use GET or POST")
            return 200, {"now": t.clock(), "offset_s": t.clock.offset_s}
        if path == "/lifecycle/sweep" and method == "POST":
            return 200, {"expired": t.sweep_lifecycle()}
        if path == "/stats":
            if method == "DELETE":
                t.stats.reset()
                t.injector.reset_counters()
            elif method != "GET":
                raise _HttpError(405, "use GET or DELETE")
            return 200, {
                "requests": t.stats.snapshot(),
                "faults": t.injector.snapshot()["injected"],
            }
        if path == "/info" and method == "GET":
            return 200, t.info()
        if path.startswith("/buckets/") and method == "PUT":
            args = _as_mapping(body)
            t.create_bucket(path[len("/buckets/") :], args.get("account"))
            return 200, {"bucket": path[len("/buckets/") :]}
        if path == "/roles" and method == "PUT":
            args = _as_mapping(body)
            arn = t.create_role(
                str(args["name"]),
                policies=list(args.get("policies", [])),
                account_id=args.get("account"),
                trusted_accounts=args.get("trusted_accounts"),
                max_session_duration=int(args.get("max_session_duration", 3600)),
            )
            return 200, {"arn": arn}
        if path == "/access-keys" and method == "PUT":
            args = _as_mapping(body)
            t.add_access_key(
                str(args["id"]),
                str(args["secret"]),
                account_id=args.get("account"),
                user=args.get("user"),
                policies=list(args.get("policies", [])),
            )
            return 200, {"id": args["id"]}
        raise _HttpError(404, f"no admin endpoint {method} {PREFIX}{path}")
