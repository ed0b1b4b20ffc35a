"""The OpenAPI 3.1 document of the REST API, built from the API's own pydantic models."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cloud.console.retention import MAX_DAYS
from cloud.console.web.api_models import (
    ApiError,
    BucketRulesOut,
    CameraOut,
    CameraPage,
    ClipIn,
    DeviceCreate,
    DeviceList,
    DeviceOut,
    DeviceSecretOut,
    InProgressOut,
    LinkOut,
    LoginIn,
    RecordingOut,
    RecordingPage,
    RetentionDaysIn,
    RetentionOut,
    SessionOut,
    TimelineOut,
)
from cloud.console.web.auth import CSRF_HEADER, SESSION_COOKIE
from cloud.console.web.validation import MAX_LIMIT

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class _Op:
    method: str
    path: str
    operation_id: str
    summary: str
    ok: int
    ok_model: type[BaseModel] | None
    body: type[BaseModel] | None = None
    query: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    public: bool = False
    tags: tuple[str, ...] = field(default=())
    ok_media: str | None = None  # a non-JSON success body of this media type


_DEVICE = {
    "name": "device_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$"},
}
_RECORDING = {
    "name": "recording_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}
_KEY = {
    "name": "key_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}
_QUERY: dict[str, dict[str, Any]] = {
    "cursor": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]*$",
        "maxLength": 512,
        "description": "next_cursor of the page before",
    },
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
    "from_ms": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1},
    "to_ms": {"type": "integer", "minimum": 1, "maximum": 2**53 - 1},
    "day": {"type": "string", "format": "date", "description": "UTC day, YYYY-MM-DD"},
}

_OPS: tuple[_Op, ...] = (
    _Op("get", "/api/session", "getSession", "The caller's session, or a login token",
        200, SessionOut, public=True, tags=("session",)),
    _Op("post", "/api/session", "login", "Log in (X-CSRF-Token from GET /api/session)",
        200, SessionOut, body=LoginIn, errors=(400, 401, 403, 429), public=True, tags=("session",)),
    _Op("delete", "/api/session", "logout", "Log out", 204, None, errors=(403,), tags=("session",)),
    _Op("get", "/api/openapi.json", "openapi", "This document", 200, None, tags=("meta",)),
    _Op("get", "/api/cameras", "listCameras", "A page of cameras", 200, CameraPage,
        query=("cursor", "limit"), errors=(400,), tags=("cameras",)),
    _Op("get", "/api/cameras/{device_id}", "getCamera", "One camera", 200, CameraOut,
        errors=(400, 404), tags=("cameras",)),
    _Op("get", "/api/cameras/{device_id}/recordings", "listRecordings",
        "A page of a camera's recordings", 200, RecordingPage,
        query=("from_ms", "to_ms", "cursor", "limit"), errors=(400, 404), tags=("recordings",)),
    _Op("get", "/api/cameras/{device_id}/timeline", "getTimeline",
        "A camera's recordings and gaps on a UTC day", 200, TimelineOut,
        query=("day",), errors=(400, 404), tags=("cameras",)),
    _Op("put", "/api/cameras/{device_id}/retention", "setCameraRetention",
        "Set or clear a camera's retention", 200, RetentionOut, body=RetentionDaysIn,
        errors=(400, 403, 404, 409, 502), tags=("retention",)),
    _Op("get", "/api/recordings/{recording_id}", "getRecording", "One recording", 200,
        RecordingOut, errors=(400, 404), tags=("recordings",)),
    _Op("delete", "/api/recordings/{recording_id}", "deleteRecording",
        "Delete a recording from OSS and the ledger", 204, None,
        errors=(400, 403, 404, 502), tags=("recordings",)),
    _Op("get", "/api/recordings/{recording_id}/playback", "playRecording",
        "A short-lived URL that plays the recording", 200, LinkOut, errors=(400, 404),
        tags=("recordings",)),
    _Op("get", "/api/recordings/{recording_id}/download", "downloadRecording",
        "A short-lived URL that downloads the recording", 200, LinkOut, errors=(400, 404),
        tags=("recordings",)),
    _Op("post", "/api/recordings/{recording_id}/verify", "verifyRecording",
        "Check the recording against OSS now", 200, RecordingOut,
        errors=(400, 403, 404, 502), tags=("recordings",)),
    _Op("get", "/api/recordings/{recording_id}/playlist.m3u8", "getHlsPlaylist",
        "An HLS recording's playlist: segments as presigned URLs, keys from this console",
        200, None, errors=(400, 404, 502), tags=("hls",),
        ok_media="application/vnd.apple.mpegurl"),
    _Op("get", "/api/keys/{device_id}/{key_id}", "getContentKey",
        "The 16 bytes of an HLS AES-128 content key a camera delivered", 200, None,
        errors=(400, 404), tags=("hls",), ok_media="application/octet-stream"),
    _Op("get", "/api/cameras/{device_id}/live", "getRecordingInProgress",
        "A camera's recording in progress and how far it has grown", 200, InProgressOut,
        errors=(400, 404), tags=("live",)),
    _Op("post", "/api/cameras/{device_id}/clips", "exportClip",
        "One file covering a time range (fMP4 cut at fragments, or HLS TS segments), "
        "streamed; its length in Content-Length and SHA-256 in X-Content-SHA256",
        200, None, body=ClipIn, errors=(400, 403, 404, 409, 502), tags=("live",),
        ok_media="video/mp4"),
    _Op("get", "/api/live/{live_id}/playlist.m3u8", "getLivePlaylist",
        "A recording in progress as HLS over byte ranges of its object",
        200, None, errors=(400, 404, 502), tags=("live",),
        ok_media="application/vnd.apple.mpegurl"),
    _Op("get", "/api/retention", "getRetention", "Retention settings and lifecycle rules",
        200, RetentionOut, tags=("retention",)),
    _Op("put", "/api/retention", "setFleetRetention", "Set or clear the fleet retention",
        200, RetentionOut, body=RetentionDaysIn, errors=(400, 403, 409, 502),
        tags=("retention",)),
    _Op("get", "/api/retention/bucket", "getBucketRetentionRules",
        "The lifecycle rules the bucket holds, against the saved settings (drift)", 200,
        BucketRulesOut, errors=(502,), tags=("retention",)),
    _Op("post", "/api/retention/reapply", "reapplyRetention",
        "Write the saved retention settings to the bucket again", 200, RetentionOut,
        errors=(403, 502), tags=("retention",)),
    _Op("get", "/api/devices", "listDevices", "A page of provisioned devices", 200, DeviceList,
        query=("cursor", "limit"), errors=(400, 502), tags=("devices",)),
    _Op("post", "/api/devices", "provisionDevice",
        "Provision a device (its secret is returned once)", 201, DeviceSecretOut,
        body=DeviceCreate, errors=(400, 403, 409, 502), tags=("devices",)),
    _Op("post", "/api/devices/{device_id}/revoke", "revokeDevice", "Revoke a device", 200,
        DeviceOut, errors=(400, 403, 404, 502), tags=("devices",)),
    _Op("post", "/api/devices/{device_id}/rotate", "rotateDevice",
        "Give a device a new secret (returned once)", 200, DeviceSecretOut,
        errors=(400, 403, 404, 409, 502), tags=("devices",)),
)  # fmt: skip

_ERROR_TEXT = {
    400: "invalid input",
    401: "not logged in, or wrong credentials",
    403: "missing or wrong CSRF token",
    404: "not found",
    409: "conflicts with the current state",
    429: "too many failed logins, or too many sign-in attempts (see Retry-After)",
    502: "OSS or the device registry failed",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(op: _Op) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    if "{device_id}" in op.path:
        params.append(_DEVICE)
    if "{recording_id}" in op.path:
        params.append(_RECORDING)
    if "{key_id}" in op.path:
        params.append(_KEY)
    if "{live_id}" in op.path:
        params.append({**_RECORDING, "name": "live_id"})
    params += [{"name": q, "in": "query", "required": False, "schema": _QUERY[q]} for q in op.query]
    ok: dict[str, Any] = {"description": "success"}
    if op.ok_model is not None:
        ok["content"] = _json_content(_ref(op.ok_model))
    elif op.ok_media is not None:
        ok["content"] = {op.ok_media: {"schema": {"type": "string"}}}
    elif op.path.endswith("openapi.json"):
        ok["content"] = _json_content({"type": "object"})
    responses: dict[str, Any] = {str(op.ok): ok}
    statuses = set(op.errors) | (set() if op.public else {401})
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": _json_content(_ref(ApiError)),
        }
    # Refused before routing, as plain text: an over-long URI, or an over-large body.
    plain = {"text/plain": {"schema": {"type": "string"}}}
    if op.query:
        responses["414"] = {"description": "request URI too long", "content": plain}
    if op.body is not None:
        responses["413"] = {"description": "request body too large", "content": plain}
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
        "responses": responses,
    }
    if params:
        doc["parameters"] = params
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": _json_content(_ref(op.body))}
    if op.public:
        doc["security"] = [{}] if op.method == "get" else [{"loginToken": []}]
    elif op.method in {"post", "put", "delete", "patch"}:
        doc["security"] = [{"sessionCookie": [], "csrfHeader": []}]
    return doc


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at ``/api/openapi.json``."""
    models: list[type[BaseModel]] = [
        ApiError, CameraOut, CameraPage, ClipIn, DeviceCreate, DeviceList, DeviceOut, DeviceSecretOut,
        InProgressOut, LinkOut, LoginIn, RecordingOut, RecordingPage, RetentionDaysIn, RetentionOut,
        SessionOut, TimelineOut,
    ]  # fmt: skip
    _, schemas = models_json_schema(
        [(m, "serialization" if m.__name__.endswith("Out") or m.__name__.endswith("Page")
          or m.__name__ in {"ApiError", "DeviceList"} else "validation") for m in models],
        ref_template=_REF,
    )  # fmt: skip
    paths: dict[str, dict[str, Any]] = {}
    for op in _OPS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    components = schemas.get("$defs", {})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ossmedia console API",
            "version": "1",
            "description": (
                "Browse, play and manage camera recordings. Log in with POST /api/session "
                "(after GET /api/session for a token); every state change needs the session's "
                f"csrf_token in the {CSRF_HEADER} header. Listings paginate with opaque cursors. "
                f"Retention is in days (1-{MAX_DAYS})."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                "loginToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
        "security": [{"sessionCookie": []}],
    }
