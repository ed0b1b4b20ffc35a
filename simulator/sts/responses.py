"""The STS endpoint as a plain ASGI app: decode the RPC request, render JSON replies."""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any

from simulator.sts.errors import StsError, internal_error
from simulator.sts.models import StsService
from simulator.sts.urls import ASGIReceive, ASGISend, Scope

logger = logging.getLogger("simulator.sts")

MAX_BODY_BYTES = 64 * 1024
HOST_ID = "sts.aliyuncs.com"


def error_body(error: StsError, request_id: str) -> dict[str, str]:
    """The JSON error document STS sends (the SDK reads ``Code`` and ``Message``)."""
    return {
        "RequestId": request_id,
        "HostId": HOST_ID,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"Look up request {request_id} in the emulator's access log.",
    }


async def send_json(send: ASGISend, status: int, body: dict[str, Any], request_id: str) -> None:
    """Send one complete JSON response."""
    payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json;charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-acs-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def read_body(receive: ASGIReceive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class StsApp:
    """ASGI app answering AssumeRole by GET or POST (parameters in the query and/or form body).

    Args:
        service: the STS logic.
    """

    def __init__(self, service: StsService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        request_id = self.service.new_request_id()
        body = await read_body(receive)
        if body is None:
            error = StsError("InvalidParameter", "The request body is too large.", 413)
            await send_json(send, error.http_status, error_body(error, request_id), request_id)
            return
        params = dict(
            urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        )
        if body:
            params.update(
                urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            )
        client = scope.get("client")
        source_ip = client[0] if client else ""
        try:
            reply = self.service.handle(
                scope["method"], params, source_ip=source_ip, request_id=request_id
            )
        except StsError as exc:
            await send_json(send, exc.http_status, error_body(exc, request_id), request_id)
            return
        except Exception:
            logger.exception("AssumeRole failed unexpectedly (request %s)", request_id)
            error = internal_error()
            await send_json(send, error.http_status, error_body(error, request_id), request_id)
            return
        await send_json(send, 200, reply, request_id)
