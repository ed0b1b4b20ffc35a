"""The HTML pages: login, fleet, camera day, player, delete confirmation, retention, devices."""

from __future__ import annotations

import datetime as dt
import urllib.parse

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud.console.errors import ConflictError, InvalidInputError, StorageError
from cloud.console.hls import is_hls_key
from cloud.console.timeline import DAY_MS, day_bounds, utc_date
from cloud.console.web import validation as v
from cloud.console.web.auth import CSRF_FIELD, tokens_match
from cloud.console.web.clip_response import clip_response
from cloud.console.web.context import client_address, ctx_of, operator, page, safe_next
from cloud.console.web.login_limits import LoginBusy
from cloud.console.web.middleware import DEFAULT_CSP

__all__ = ["page_routes"]

_NO_STORE = {"cache-control": "no-store"}


def _form_text(form: FormData, name: str, max_len: int = 1024) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > max_len:
        raise InvalidInputError(name, "too long")
    return value


# -- login ------------------------------------------------------------------------------


async def login_form(request: Request) -> Response:
    """Show the login form, with a fresh double-submit token."""
    ctx = ctx_of(request)
    if ctx.session_of(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    target = safe_next(request.query_params.get("next"))
    return ctx.with_login_token(
        lambda token: ctx.render(
            request, "login.html", {"login_token": token, "next": target, "error": ""}
        )
    )


async def login_submit(request: Request) -> Response:
    """Check the login form; on success start a session and go where the operator was going."""
    ctx = ctx_of(request)
    form = await request.form()
    expected = ctx.login_token(request)
    token = _form_text(form, CSRF_FIELD, 64)
    target = safe_next(_form_text(form, "next", 512))
    if expected is None or not tokens_match(expected, token):
        return ctx.render(
            request,
            "login.html",
            {"login_token": "", "next": target, "error": "The login form expired; try again."},
            status=403,
        )
    username = _form_text(form, "username", 64)
    password = _form_text(form, "password", 1024)
    client = client_address(request)
    retry = ctx.authenticator.admit(client)
    busy = {"login_token": expected, "next": target, "error": "Too many attempts; wait a while."}
    if retry is not None:
        refused = ctx.render(request, "login.html", busy, status=429)
        refused.headers["Retry-After"] = str(retry)
        return refused
    if ctx.authenticator.locked_out(username, client):
        return ctx.render(request, "login.html", busy, status=429)
    try:
        ok = await run_in_threadpool(ctx.authenticator.check, username, password, client)
    except LoginBusy as exc:
        refused = ctx.render(request, "login.html", busy, status=429)
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    if not ok:
        return ctx.render(
            request,
            "login.html",
            {"login_token": expected, "next": target, "error": "Wrong user name or password."},
            status=401,
        )
    return ctx.start_session(username, lambda _: RedirectResponse(target, status_code=303))


@page
async def logout(request: Request) -> Response:
    """End the session."""
    response = RedirectResponse("/login", status_code=303)
    ctx_of(request).end_session(response, request.state.session)
    return response


# -- fleet and cameras -------------------------------------------------------------------


@page
async def fleet(request: Request) -> Response:
    """Every camera: online state, uploads, spool, credentials, clock, drops."""
    ctx = ctx_of(request)
    after = v.cameras_cursor(ctx.cursors, request.query_params.get("cursor"))
    limit = v.page_limit(request.query_params.get("limit"))
    result = await run_in_threadpool(ctx.service.cameras, after=after, limit=limit)
    next_cursor = ctx.cursors.encode("cameras", result.next_after) if result.next_after else None
    live = await run_in_threadpool(
        lambda: {c.device_id: ctx.service.live.in_progress(c.device_id) for c in result.items}
    )
    return ctx.render(
        request,
        "fleet.html",
        {
            "cameras": result.items,
            "live": live,
            "next_cursor": next_cursor,
            "now_ms": ctx.service.now_ms(),
        },
    )


@page
async def camera(request: Request) -> Response:
    """One camera's day: timeline with gaps, recordings, retention override."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    now_ms = ctx.service.now_ms()
    day = v.utc_day(request.query_params.get("day"), today=utc_date(now_ms))
    scope = f"camera-day:{device_id}:{day.isoformat()}"
    after = v.recordings_cursor(ctx.cursors, scope, request.query_params.get("cursor"))
    state = await run_in_threadpool(ctx.service.camera, device_id)
    timeline = await run_in_threadpool(ctx.service.timeline, device_id, day)
    start_ms, end_ms = day_bounds(day)
    listing = await run_in_threadpool(
        lambda: ctx.service.recordings(
            device_id, from_ms=start_ms, to_ms=end_ms, after=after, limit=v.DEFAULT_LIMIT
        )
    )
    retention = await run_in_threadpool(ctx.service.retention)
    live = await run_in_threadpool(ctx.service.in_progress, device_id)
    return ctx.render(
        request,
        "camera.html",
        {
            "camera": state,
            "live": live,
            "timeline": timeline,
            "recordings": listing.items,
            "next_cursor": (
                ctx.cursors.encode(scope, listing.next_after) if listing.next_after else None
            ),
            "day": day,
            "prev_day": (day - dt.timedelta(days=1)).isoformat(),
            "next_day": (day + dt.timedelta(days=1)).isoformat(),
            "day_ms": DAY_MS,
            "camera_days": retention.camera_days.get(device_id),
            "fleet_days": retention.fleet_days,
            "now_ms": now_ms,
        },
    )


@page
async def camera_clip(request: Request) -> Response:
    """Export a clip of the camera's day between two UTC times (the file downloads)."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    form = await request.form()
    day = v.utc_day(_form_text(form, "day", 16), today=utc_date(ctx.service.now_ms()))
    start_ms, _ = day_bounds(day)
    from_ms = start_ms + v.time_of_day_ms(_form_text(form, "from", 8), "from")
    to_ms = start_ms + v.time_of_day_ms(_form_text(form, "to", 8), "to")
    if to_ms <= from_ms:
        raise InvalidInputError("to", "must be after from")
    made = await run_in_threadpool(ctx.service.export_clip, device_id, from_ms, to_ms)
    return clip_response(made)


@page
async def camera_retention(request: Request) -> Response:
    """Set or clear one camera's retention override."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    form = await request.form()
    days = v.optional_days(_form_text(form, "days", 16))
    await run_in_threadpool(
        ctx.service.set_camera_retention, device_id, days, actor=operator(request)
    )
    return RedirectResponse(f"/cameras/{device_id}", status_code=303)


# -- recordings --------------------------------------------------------------------------


def _media_csp(url: str, *, hls: bool) -> str:
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if hls:
        # hls.js fetches the segments from OSS itself and feeds them to the video element
        # through Media Source Extensions (a blob: URL).
        return DEFAULT_CSP.replace("media-src 'none'", "media-src blob:").replace(
            "connect-src 'self'", f"connect-src 'self' {origin}"
        )
    return DEFAULT_CSP.replace("media-src 'none'", f"media-src {origin}")


@page
async def recording(request: Request) -> Response:
    """Play one recording through short-lived presigned URLs made for this view only.

    An HLS recording plays through hls.js: its playlist comes from the console, rewritten
    with presigned segment URLs (see :mod:`cloud.console.hls`).
    """
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    found, link = await run_in_threadpool(ctx.service.playback_link, recording_id)
    day = utc_date(found.facts.start_ms).isoformat()
    hls = is_hls_key(found.facts.object_key)
    return ctx.render(
        request,
        "recording.html",
        {"recording": found, "link": link, "day": day, "hls": hls},
        headers={"content-security-policy": _media_csp(link.url, hls=hls), **_NO_STORE},
    )


@page
async def live_recording(request: Request) -> Response:
    """Play a recording in progress from its start, following the live edge (hls.js)."""
    ctx = ctx_of(request)
    live_id = v.recording_id(request.path_params["live_id"])
    found = await run_in_threadpool(ctx.service.live.get, live_id)
    url = await run_in_threadpool(ctx.service.live.presigned, found)
    return ctx.render(
        request,
        "live.html",
        {"live": found, "day": utc_date(found.facts.start_ms).isoformat()},
        headers={"content-security-policy": _media_csp(url, hls=True), **_NO_STORE},
    )


@page
async def download(request: Request) -> Response:
    """Send the browser to a short-lived presigned URL that downloads the recording."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    link = await run_in_threadpool(ctx.service.download_link, recording_id)
    return RedirectResponse(link.url, status_code=303, headers=_NO_STORE)


@page
async def verify(request: Request) -> Response:
    """Check a recording against OSS now."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    await run_in_threadpool(ctx.service.verify_recording, recording_id)
    return RedirectResponse(f"/recordings/{recording_id}", status_code=303)


@page
async def delete_confirm(request: Request) -> Response:
    """Ask before deleting."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    found = await run_in_threadpool(ctx.service.recording, recording_id)
    return ctx.render(request, "delete.html", {"recording": found})


@page
async def delete(request: Request) -> Response:
    """Delete the recording's object and mark it deleted; back to the camera's day."""
    ctx = ctx_of(request)
    recording_id = v.recording_id(request.path_params["recording_id"])
    gone = await run_in_threadpool(
        ctx.service.delete_recording, recording_id, actor=operator(request)
    )
    day = utc_date(gone.facts.start_ms).isoformat()
    return RedirectResponse(f"/cameras/{gone.facts.device_id}?day={day}", status_code=303)


# -- retention ---------------------------------------------------------------------------


async def _retention_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    ctx = ctx_of(request)
    plan = await run_in_threadpool(ctx.service.retention)
    try:
        drift = await run_in_threadpool(ctx.service.retention_drift)
        bucket_error = ""
    except StorageError as exc:
        drift, bucket_error = None, str(exc)
    return ctx.render(
        request,
        "retention.html",
        {"plan": plan, "drift": drift, "bucket_error": bucket_error, "error": error},
        status=status,
    )


@page
async def retention(request: Request) -> Response:
    """Fleet retention and camera overrides, and the lifecycle rules the bucket holds."""
    return await _retention_page(request)


@page
async def retention_reapply(request: Request) -> Response:
    """Write the saved settings' lifecycle rules to the bucket again."""
    ctx = ctx_of(request)
    await run_in_threadpool(ctx.service.reapply_retention, actor=operator(request))
    return RedirectResponse("/retention", status_code=303)


@page
async def retention_submit(request: Request) -> Response:
    """Set or clear the fleet retention."""
    ctx = ctx_of(request)
    form = await request.form()
    days = v.optional_days(_form_text(form, "days", 16), "fleet_days")
    try:
        await run_in_threadpool(ctx.service.set_fleet_retention, days, actor=operator(request))
    except ConflictError as exc:
        return await _retention_page(request, error=str(exc), status=409)
    return RedirectResponse("/retention", status_code=303)


# -- devices -----------------------------------------------------------------------------


@page
async def devices(request: Request) -> Response:
    """Provisioned devices, with provisioning, revocation and rotation."""
    ctx = ctx_of(request)
    listing = await run_in_threadpool(ctx.service.devices)
    return ctx.render(request, "devices.html", {"devices": listing})


@page
async def provision(request: Request) -> Response:
    """Provision a device and show its secret, once."""
    ctx = ctx_of(request)
    form = await request.form()
    device_id = v.device_id(_form_text(form, "device_id", 64))
    made = await run_in_threadpool(ctx.service.provision, device_id, actor=operator(request))
    return ctx.render(
        request, "secret.html", {"made": made, "action": "provisioned"}, headers=_NO_STORE
    )


@page
async def revoke(request: Request) -> Response:
    """Revoke a device."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    await run_in_threadpool(ctx.service.revoke, device_id, actor=operator(request))
    return RedirectResponse("/devices", status_code=303)


@page
async def rotate(request: Request) -> Response:
    """Give a device a new secret and show it, once."""
    ctx = ctx_of(request)
    device_id = v.device_id(request.path_params["device_id"])
    made = await run_in_threadpool(ctx.service.rotate, device_id, actor=operator(request))
    return ctx.render(
        request, "secret.html", {"made": made, "action": "rotated"}, headers=_NO_STORE
    )


def page_routes() -> list[Route]:
    """Routes of the HTML pages."""
    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", fleet, methods=["GET"]),
        Route("/cameras/{device_id}", camera, methods=["GET"]),
        Route("/cameras/{device_id}/retention", camera_retention, methods=["POST"]),
        Route("/cameras/{device_id}/clips", camera_clip, methods=["POST"]),
        Route("/recordings/{recording_id}", recording, methods=["GET"]),
        Route("/recordings/{recording_id}/download", download, methods=["GET"]),
        Route("/live/{live_id}", live_recording, methods=["GET"]),
        Route("/recordings/{recording_id}/verify", verify, methods=["POST"]),
        Route("/recordings/{recording_id}/delete", delete_confirm, methods=["GET"]),
        Route("/recordings/{recording_id}/delete", delete, methods=["POST"]),
        Route("/retention", retention, methods=["GET"]),
        Route("/retention", retention_submit, methods=["POST"]),
        Route("/retention/reapply", retention_reapply, methods=["POST"]),
        Route("/devices", devices, methods=["GET"]),
        Route("/devices", provision, methods=["POST"]),
        Route("/devices/{device_id}/revoke", revoke, methods=["POST"]),
        Route("/devices/{device_id}/rotate", rotate, methods=["POST"]),
    ]
