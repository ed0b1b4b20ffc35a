"""The REST API: the same operations as the pages, as JSON, described in ``/api/openapi.json``.

Listings paginate with opaque cursors: a page's ``next_cursor`` goes back as ``?cursor=``
and is refused by any other listing. State changes need the session's CSRF token in the
``X-CSRF-Token`` header and a JSON body where they take one.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cloud.console.errors import InvalidInputError
from cloud.console.hls import PLAYLIST_CONTENT_TYPE
from cloud.console.timeline import utc_date
from cloud.console.web import validation as v
from cloud.console.web.api_models import (
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
    LiveOut,
    LoginIn,
    RecordingOut,
    RecordingPage,
    RetentionDaysIn,
    RetentionOut,
    SessionOut,
    TimelineOut,
)
from cloud.console.web.auth import CSRF_HEADER, tokens_match
from cloud.console.web.clip_response import clip_response
from cloud.console.web.context import (
    api,
    client_address,
    ctx_of,
    error_response,
    operator,
    too_many,
)
from cloud.console.web.login_limits import LoginBusy

__all__ = ["api_routes"]

M = TypeVar("M", bound=BaseModel)

_MAX_MS = 2**53 - 1


# Answers that carry a device secret: no browser or proxy may keep a copy.
_NO_STORE = {"Cache-Control": "no-store"}


def _json(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


async def _body(request: Request, model: type[M]) -> M:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise InvalidInputError("content-type", "must be application/json")
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("body", "not valid JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise InvalidInputError("body", problems) from None


def _ms(value: str | None, field: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 16 or int(value) > _MAX_MS:
        raise InvalidInputError(field, "must be milliseconds since the epoch")
    return int(value)


# -- session -----------------------------------------------------------------------------


async def session_get(request: Request) -> Response:
    """The caller's session; before login, a token for ``POST /api/session``."""
    ctx = ctx_of(request)
    session = ctx.session_of(request)
    if session is not None:
        return _json(
            SessionOut(authenticated=True, username=session.username, csrf_token=session.csrf_token)
        )
    return ctx.with_login_token(
        lambda token: _json(SessionOut(authenticated=False, csrf_token=token))
    )


async def session_create(request: Request) -> Response:
    """Log in; needs the token from ``GET /api/session`` in ``X-CSRF-Token``."""
    ctx = ctx_of(request)
    expected = ctx.login_token(request)
    if expected is None or not tokens_match(expected, request.headers.get(CSRF_HEADER)):
        return error_response(request, 403, "csrf", "get a token from GET /api/session first")
    body = await _body(request, LoginIn)
    client = client_address(request)
    retry = ctx.authenticator.admit(client)
    if retry is not None:
        return too_many(request, retry, "too many sign-in attempts; wait")
    if ctx.authenticator.locked_out(body.username, client):
        return error_response(request, 429, "locked_out", "too many failed logins; wait")
    try:
        ok = await run_in_threadpool(ctx.authenticator.check, body.username, body.password, client)
    except LoginBusy as exc:
        return too_many(request, exc.retry_after_s, "sign-in is busy; wait")
    if not ok:
        return error_response(request, 401, "bad_credentials", "wrong user name or password")
    return ctx.start_session(
        body.username,
        lambda session: _json(
            SessionOut(authenticated=True, username=session.username, csrf_token=session.csrf_token)
        ),
    )


@api
async def session_delete(request: Request) -> Response:
    """Log out."""
    response = Response(status_code=204)
    ctx_of(request).end_session(response, request.state.session)
    return response


@api
async def openapi(request: Request) -> Response:
    """The OpenAPI document of this API."""
    from cloud.console.web.openapi import openapi_document

    return JSONResponse(openapi_document())


# -- cameras -----------------------------------------------------------------------------


@api
async def cameras(request: Request) -> Response:
    """A page of cameras, ordered by id."""
    ctx = ctx_of(request)
    q = request.query_params
    v.check_query(q, frozenset({"cursor", "limit"}))
    after = v.cameras_cursor(ctx.cursors, q.get("cursor"))
    limit = v.page_limit(q.get("limit"))
    result = await run_in_threadpool(ctx.service.cameras, after=after, limit=limit)
    cursor = ctx.cursors.encode("cameras", result.next_after) if result.next_after else None
    return _json(CameraPage(items=[CameraOut.of(c) for c in result.items], next_cursor=cursor))


@api
async def camera(request: Request) -> Response:
    """One camera."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    state = await run_in_threadpool(ctx.service.camera, device_id)
    return _json(CameraOut.of(state))


@api
async def recordings(request: Request) -> Response:
    """A page of one camera's recordings overlapping ``[from_ms, to_ms)``, oldest first."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    q = request.query_params
    v.check_query(q, frozenset({"cursor", "limit", "from_ms", "to_ms"}))
    from_ms = _ms(q.get("from_ms"), "from_ms", 0)
    to_ms = _ms(q.get("to_ms"), "to_ms", _MAX_MS)
    if to_ms <= from_ms:
        raise InvalidInputError("to_ms", "must be after from_ms")
    scope = f"recordings:{device_id}:{from_ms}:{to_ms}"
    after = v.recordings_cursor(ctx.cursors, scope, q.get("cursor"))
    limit = v.page_limit(q.get("limit"))
    result = await run_in_threadpool(
        lambda: ctx.service.recordings(
            device_id, from_ms=from_ms, to_ms=to_ms, after=after, limit=limit
        )
    )
    cursor = ctx.cursors.encode(scope, result.next_after) if result.next_after else None
    return _json(
        RecordingPage(items=[RecordingOut.of(r) for r in result.items], next_cursor=cursor)
    )


@api
async def timeline(request: Request) -> Response:
    """One camera's recordings and gaps on a UTC day."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    v.check_query(request.query_params, frozenset({"day"}))
    day = v.utc_day(request.query_params.get("day"), today=utc_date(ctx.service.now_ms()))
    result = await run_in_threadpool(ctx.service.timeline, device_id, day)
    return _json(TimelineOut.of(device_id, result))


@api
async def camera_retention(request: Request) -> Response:
    """Set (``days``) or clear (``null``) one camera's retention."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    body = await _body(request, RetentionDaysIn)
    plan = await run_in_threadpool(
        ctx.service.set_camera_retention, device_id, body.days, actor=operator(request)
    )
    return _json(RetentionOut.of(plan))


# -- recordings --------------------------------------------------------------------------


@api
async def recording(request: Request) -> Response:
    """One recording."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    found = await run_in_threadpool(ctx.service.recording, recording_id)
    return _json(RecordingOut.of(found))


@api
async def recording_delete(request: Request) -> Response:
    """Delete a recording's object and mark it deleted."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    await run_in_threadpool(ctx.service.delete_recording, recording_id, actor=operator(request))
    return Response(status_code=204)


@api
async def playback(request: Request) -> Response:
    """A short-lived URL that plays the recording."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    _, link = await run_in_threadpool(ctx.service.playback_link, recording_id)
    return _json(LinkOut.of(link))


@api
async def download(request: Request) -> Response:
    """A short-lived URL that downloads the recording as a file."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    link = await run_in_threadpool(ctx.service.download_link, recording_id)
    return _json(LinkOut.of(link))


@api
async def verify(request: Request) -> Response:
    """Check the recording against OSS now."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    found = await run_in_threadpool(ctx.service.verify_recording, recording_id)
    return _json(RecordingOut.of(found))


# -- HLS ------------------------------------------------------------------------------------


@api
async def hls_playlist(request: Request) -> Response:
    """An HLS recording's playlist: segments as presigned URLs, keys from this console."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    text = await run_in_threadpool(ctx.service.hls_playlist, recording_id)
    return Response(text, media_type=PLAYLIST_CONTENT_TYPE, headers=_NO_STORE)


@api
async def camera_live(request: Request) -> Response:
    """A camera's recording in progress, with its length as of now."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    found = await run_in_threadpool(ctx.service.in_progress, device_id)
    return _json(InProgressOut(in_progress=LiveOut.of(found) if found is not None else None))


@api
async def live_playlist(request: Request) -> Response:
    """A recording in progress as an HLS playlist that grows (no ENDLIST while live)."""
    ctx = ctx_of(request)
    live_id = v.recording_id(request.path_params["live_id"])
    text = await run_in_threadpool(ctx.service.live_playlist, live_id)
    return Response(text, media_type=PLAYLIST_CONTENT_TYPE, headers={"Cache-Control": "no-store"})


@api
async def clip(request: Request) -> Response:
    """Export one file covering a time range of a camera's recordings, streamed."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    wanted = await _body(request, ClipIn)
    made = await run_in_threadpool(ctx.service.export_clip, device_id, wanted.from_ms, wanted.to_ms)
    return clip_response(made)


@api
async def content_key(request: Request) -> Response:
    """The 16 bytes of one HLS content key, for a player decrypting a recording."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    key_id = v.key_id(request.path_params["key_id"])
    key = await run_in_threadpool(ctx.service.content_key, device_id, key_id)
    return Response(key, media_type="application/octet-stream", headers=_NO_STORE)


# -- retention and devices ---------------------------------------------------------------


@api
async def retention_get(request: Request) -> Response:
    """Retention settings and the bucket lifecycle rules they make."""
    ctx = ctx_of(request)
    return _json(RetentionOut.of(await run_in_threadpool(ctx.service.retention)))


@api
async def retention_bucket(request: Request) -> Response:
    """The lifecycle rules the bucket holds, and how they differ from the saved settings."""
    ctx = ctx_of(request)
    return _json(BucketRulesOut.of(await run_in_threadpool(ctx.service.retention_drift)))


@api
async def retention_reapply(request: Request) -> Response:
    """Write the saved retention settings to the bucket again."""
    ctx = ctx_of(request)
    plan = await run_in_threadpool(ctx.service.reapply_retention, actor=operator(request))
    return _json(RetentionOut.of(plan))


@api
async def retention_put(request: Request) -> Response:
    """Set (``days``) or clear (``null``) the fleet retention."""
    ctx = ctx_of(request)
    body = await _body(request, RetentionDaysIn)
    plan = await run_in_threadpool(
        ctx.service.set_fleet_retention, body.days, actor=operator(request)
    )
    return _json(RetentionOut.of(plan))


@api
async def devices(request: Request) -> Response:
    """A page of provisioned devices (never their secrets)."""
    ctx = ctx_of(request)
    q = request.query_params
    v.check_query(q, frozenset({"cursor", "limit"}))
    cursor = q.get("cursor")
    after = None
    if cursor:
        position = ctx.cursors.decode("devices", cursor)
        if len(position) != 1 or not isinstance(position[0], str):
            raise InvalidInputError("cursor", "not a cursor from this listing")
        after = position[0]
    limit = v.page_limit(q.get("limit"))
    listing = await run_in_threadpool(ctx.service.devices)
    rest = [d for d in listing if after is None or d.device_id > after]
    items = rest[:limit]
    more = len(rest) > limit
    next_cursor = ctx.cursors.encode("devices", [items[-1].device_id]) if more and items else None
    return _json(DeviceList(items=[DeviceOut.of(d) for d in items], next_cursor=next_cursor))


@api
async def device_create(request: Request) -> Response:
    """Provision a device; the answer holds its secret, returned this once only."""
    ctx = ctx_of(request)
    body = await _body(request, DeviceCreate)
    device_id = v.device_id(body.device_id)
    access = frozenset(body.access) if body.access is not None else None
    made = await run_in_threadpool(
        ctx.service.provision, device_id, actor=operator(request), access=access
    )
    return _json(DeviceSecretOut.of(made), status=201, headers=_NO_STORE)


@api
async def device_revoke(request: Request) -> Response:
    """Revoke a device."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    return _json(
        DeviceOut.of(
            await run_in_threadpool(ctx.service.revoke, device_id, actor=operator(request))
        )
    )


@api
async def device_rotate(request: Request) -> Response:
    """Give a device a new secret; the answer holds it, returned this once only."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    made = await run_in_threadpool(ctx.service.rotate, device_id, actor=operator(request))
    return _json(DeviceSecretOut.of(made), headers=_NO_STORE)


def api_routes() -> list[Route]:
    """Routes of the REST API."""
    return [
        Route("/api/session", session_get, methods=["GET"]),
        Route("/api/session", session_create, methods=["POST"]),
        Route("/api/session", session_delete, methods=["DELETE"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/cameras", cameras, methods=["GET"]),
        Route("/api/cameras/{device_id}", camera, methods=["GET"]),
        Route("/api/cameras/{device_id}/recordings", recordings, methods=["GET"]),
        Route("/api/cameras/{device_id}/timeline", timeline, methods=["GET"]),
        Route("/api/cameras/{device_id}/retention", camera_retention, methods=["PUT"]),
        Route("/api/recordings/{recording_id}", recording, methods=["GET"]),
        Route("/api/recordings/{recording_id}", recording_delete, methods=["DELETE"]),
        Route("/api/recordings/{recording_id}/playback", playback, methods=["GET"]),
        Route("/api/recordings/{recording_id}/download", download, methods=["GET"]),
        Route("/api/recordings/{recording_id}/verify", verify, methods=["POST"]),
        Route("/api/recordings/{recording_id}/playlist.m3u8", hls_playlist, methods=["GET"]),
        Route("/api/keys/{device_id}/{key_id}", content_key, methods=["GET"]),
        Route("/api/cameras/{device_id}/live", camera_live, methods=["GET"]),
        Route("/api/cameras/{device_id}/clips", clip, methods=["POST"]),
        Route("/api/live/{live_id}/playlist.m3u8", live_playlist, methods=["GET"]),
        Route("/api/retention", retention_get, methods=["GET"]),
        Route("/api/retention", retention_put, methods=["PUT"]),
        Route("/api/retention/bucket", retention_bucket, methods=["GET"]),
        Route("/api/retention/reapply", retention_reapply, methods=["POST"]),
        Route("/api/devices", devices, methods=["GET"]),
        Route("/api/devices", device_create, methods=["POST"]),
        Route("/api/devices/{device_id}/revoke", device_revoke, methods=["POST"]),
        Route("/api/devices/{device_id}/rotate", device_rotate, methods=["POST"]),
    ]
