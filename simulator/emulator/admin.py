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
| PUT | /__admin/roles | create or replace a role (``account``, ``name``, ``policies``, ``trust_policy`` ...) |
| PUT | /__admin/access-keys | add a key (``account``, ``id``, ``secret``, ``user``, ``policies``) |
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from schemas.durations import DEFAULT_SESSION_DURATION_S
from simulator.base.asgi import ASGIReceive, ASGISend, Scope
from simulator.base.errors import EmulatorError
from simulator.emulator.clock import EmulatorClock
from simulator.emulator.control import ENDPOINTS, Control
from simulator.emulator.faults import FaultConfig
from simulator.sts.responses import read_body

logger = logging.getLogger(__name__)

PREFIX = "/__admin"


class AdminTarget(Control, Protocol):
    """What the admin API controls: the control surface, plus the clock to read or set."""

    clock: EmulatorClock


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
        if path == "/clock" and method == "GET":
            return 200, {"now": t.clock(), "offset_s": t.clock.offset_s}
        if path == "/clock" and method == "POST" and "offset_s" in _as_mapping(body):
            t.clock.set_offset(float(_as_mapping(body)["offset_s"]))
            expired = t.sweep_lifecycle()
            return 200, {"now": t.clock(), "offset_s": t.clock.offset_s, "expired": expired}
        name, bucket = _endpoint(method, path)
        if name is None:
            if any(route == path for _, route in ENDPOINTS.values()):
                allowed = sorted(m for m, route in ENDPOINTS.values() if route == path)
                raise _HttpError(405, f"use {' or '.join(allowed)}")
            raise _HttpError(404, f"no admin endpoint {method} {PREFIX}{path}")
        return 200, self._call(name, bucket, body)

    def _call(self, name: str, bucket: str, body: object) -> object:
        # JSON bodies to Control calls; the field names are the admin API's own.
        t = self._target
        match name:
            case "info":
                return t.info()
            case "faults":
                return t.faults()
            case "set_faults":
                return t.set_faults(FaultConfig.parse(body, source="admin"))
            case "clear_faults":
                t.clear_faults()
                return t.faults()
            case "advance_clock":
                args = _as_mapping(body)
                t.clock.advance(float(args.get("advance_s", 0.0)))
                expired = t.sweep_lifecycle()
                return {"now": t.clock(), "offset_s": t.clock.offset_s, "expired": expired}
            case "sweep_lifecycle":
                return {"expired": t.sweep_lifecycle()}
            case "stats":
                return t.stats()
            case "reset_stats":
                t.reset_stats()
                return t.stats()
            case "create_bucket":
                t.create_bucket(bucket, _as_mapping(body).get("account"))
                return {"bucket": bucket}
            case "create_role":
                args = _as_mapping(body)
                arn = t.create_role(
                    str(args["name"]),
                    list(args.get("policies", [])),
                    account_id=args.get("account"),
                    trusted_accounts=args.get("trusted_accounts"),
                    trust_policy=args.get("trust_policy"),
                    max_session_duration=int(
                        args.get("max_session_duration", DEFAULT_SESSION_DURATION_S)
                    ),
                )
                return {"arn": arn}
            case "add_access_key":
                args = _as_mapping(body)
                t.add_access_key(
                    str(args["id"]),
                    str(args["secret"]),
                    account_id=args.get("account"),
                    user=args.get("user"),
                    policies=list(args.get("policies", [])),
                )
                return {"id": args["id"]}
        raise _HttpError(404, f"no admin endpoint for {name}")


def _endpoint(method: str, path: str) -> tuple[str | None, str]:
    """The :class:`Control` method a route serves, and the bucket name in the path if any."""
    for name, (verb, route) in ENDPOINTS.items():
        if route == "/buckets/{name}":
            if path.startswith("/buckets/") and verb == method and len(path) > len("/buckets/"):
                return name, path[len("/buckets/") :]
        elif route == path and verb == method:
            return name, ""
    return None, ""
