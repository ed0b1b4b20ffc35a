"""What every handler needs, and the guards that make login and CSRF checks unavoidable.

Every route except the login page, the session endpoint and static files is wrapped by
:func:`page` or :func:`api`. The wrapper finds the operator's session (or answers 401 /
redirects to the login page) and, for any method that can change state, checks the CSRF
token (form field for pages, ``X-CSRF-Token`` header for the API) before the handler runs.
Errors become HTML pages or JSON bodies here, so no handler formats them itself.
"""

from __future__ import annotations

import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from cloud.console.clips import ClipError
from cloud.console.cursors import CursorCodec
from cloud.console.errors import (
    ConflictError,
    ConsoleError,
    InvalidInputError,
    NotFoundError,
    ProvisioningError,
    StorageError,
)
from cloud.console.hls import PlaylistError
from cloud.console.service import ConsoleService
from cloud.console.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Authenticator,
    Session,
    Sessions,
    Signer,
    tokens_match,
)

__all__ = ["SAFE_METHODS", "Handler", "WebContext", "api", "ctx_of", "error_response", "page"]

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[Request], Awaitable[Response]]
R = TypeVar("R", bound=Response)
LOGIN_TOKEN_AGE_S = 3600
"""How long a login form (and its double-submit token) stays usable."""


class CsrfError(ConsoleError):
    """The request changes state without a valid CSRF token."""


@dataclass
class WebContext:
    """Shared state of the web application.

    Attributes:
        service: the console's operations.
        authenticator: password checks and lockout.
        sessions: live sessions.
        signer: signs cookies.
        cursors: makes and reads pagination cursors.
        templates: page templates.
        secure_cookies: mark cookies ``Secure``.
        session_max_age_s: cookie lifetime.
    """

    service: ConsoleService
    authenticator: Authenticator
    sessions: Sessions
    signer: Signer
    cursors: CursorCodec
    templates: jinja2.Environment
    secure_cookies: bool
    session_max_age_s: int

    def session_of(self, request: Request) -> Session | None:
        """The request's live session, if it carries one."""
        session_id = self.signer.unsign("session", request.cookies.get(SESSION_COOKIE))
        return self.sessions.get(session_id)

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """Render a page; the template sees ``session``, ``csrf_token`` and ``path`` too."""
        session: Session | None = getattr(request.state, "session", None)
        html = self.templates.get_template(template).render(
            session=session,
            csrf_token=session.csrf_token if session else "",
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=headers)

    def with_login_token(self, build: Callable[[str], R]) -> R:
        """A response carrying a fresh double-submit login token, also set as a signed cookie.

        Args:
            build: makes the response (a login form, a JSON body) around the token.
        """
        token = secrets.token_urlsafe(24)
        response = build(token)
        self.set_cookie(
            response, LOGIN_COOKIE, self.signer.sign("login", token), max_age=LOGIN_TOKEN_AGE_S
        )
        return response

    def login_token(self, request: Request) -> str | None:
        """The login token the request's login cookie carries, if its signature holds."""
        return self.signer.unsign("login", request.cookies.get(LOGIN_COOKIE))

    def start_session(self, username: str, build: Callable[[Session], R]) -> R:
        """Log ``username`` in: a new session, its cookie set, the login cookie cleared.

        Args:
            username: the operator who passed the password check.
            build: makes the response for the new session.
        """
        session = self.sessions.create(username)
        response = build(session)
        self.set_cookie(
            response,
            SESSION_COOKIE,
            self.signer.sign("session", session.session_id),
            max_age=self.session_max_age_s,
        )
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    def end_session(self, response: Response, session: Session) -> None:
        """Log out: the session ends and its cookie is cleared."""
        self.sessions.end(session.session_id)
        response.delete_cookie(SESSION_COOKIE, path="/")

    def set_cookie(self, response: Response, name: str, value: str, *, max_age: int) -> None:
        """Set a cookie the way every console cookie is set: HttpOnly, SameSite=Strict."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )


def ctx_of(request: Request) -> WebContext:
    """The application's :class:`WebContext`."""
    ctx: WebContext = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    """The peer address of the connection (a reverse proxy's own address when behind one)."""
    return request.client.host if request.client is not None else "-"


def operator(request: Request) -> str:
    """The signed-in operator's user name (for the audit trail)."""
    session: Session | None = getattr(request.state, "session", None)
    return session.username if session is not None else "-"


def is_api(request: Request) -> bool:
    """True for REST API paths (JSON answers)."""
    return request.url.path.startswith("/api/")


_STATUS_CODES: tuple[tuple[type[ConsoleError], int, str], ...] = (
    (InvalidInputError, 400, "invalid_input"),
    (CsrfError, 403, "csrf"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (StorageError, 502, "storage_unavailable"),
    (ProvisioningError, 502, "registry_unavailable"),
    (PlaylistError, 502, "bad_playlist"),
    (ClipError, 502, "clip_mismatch"),
)


def error_response(request: Request, status: int, code: str, message: str) -> Response:
    """An error as JSON (API) or as an HTML page."""
    if is_api(request):
        return JSONResponse({"error": code, "message": message}, status_code=status)
    ctx = ctx_of(request)
    return ctx.render(
        request, "error.html", {"status": status, "code": code, "message": message}, status=status
    )


def too_many(request: Request, retry_after_s: int, message: str) -> Response:
    """HTTP 429 with ``Retry-After``."""
    response = error_response(request, 429, "too_many_attempts", message)
    response.headers["Retry-After"] = str(retry_after_s)
    return response


async def console_error_handler(request: Request, exc: Exception) -> Response:
    """Turn a :class:`ConsoleError` into the matching HTTP answer."""
    for cls, status, code in _STATUS_CODES:
        if isinstance(exc, cls):
            if status >= 500:
                log.warning("%s %s: %s", request.method, request.url.path, exc)
            return error_response(request, status, code, str(exc))
    log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(request, 500, "internal", "internal error")


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown path, wrong method) in the console's format."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    response = error_response(request, status, code, str(detail))
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


def _login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if len(target) > 512:
        target = "/"
    return RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), status_code=303)


def page(handler: Handler) -> Handler:
    """Guard an HTML route: login required; state changes need the form's CSRF token."""

    async def guarded(request: Request) -> Response:
        ctx = ctx_of(request)
        session = ctx.session_of(request)
        if session is None:
            if request.method in SAFE_METHODS:
                return _login_redirect(request)
            return error_response(request, 401, "login_required", "log in first")
        request.state.session = session
        if request.method not in SAFE_METHODS:
            form = await request.form()
            token = form.get(CSRF_FIELD)
            if not tokens_match(session.csrf_token, token if isinstance(token, str) else None):
                raise CsrfError("missing or wrong CSRF token")
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


def api(handler: Handler) -> Handler:
    """Guard an API route: login required; state changes need the ``X-CSRF-Token`` header."""

    async def guarded(request: Request) -> Response:
        ctx = ctx_of(request)
        session = ctx.session_of(request)
        if session is None:
            return error_response(request, 401, "login_required", "log in first")
        request.state.session = session
        if request.method not in SAFE_METHODS and not tokens_match(
            session.csrf_token, request.headers.get(CSRF_HEADER)
        ):
            raise CsrfError("missing or wrong X-CSRF-Token header")
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything that could leave the site becomes ``/``."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or len(target) > 512
        or any(ord(ch) < 0x20 for ch in target)
    ):
        return "/"
    return target
