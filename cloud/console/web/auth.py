"""Operator authentication: password check, login throttling, sessions and CSRF tokens.

A session lives on the server (so logging out really ends it) and is named by a random id
in a signed cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind HTTPS). Each
session carries its own CSRF token: forms send it in a hidden field, API calls in the
``X-CSRF-Token`` header, and every state change is refused without it. Before login, a
separate signed cookie carries a token for the login form (double submit), so a foreign
site cannot log a browser in under its own account either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cloud.console.passwords import hash_password, verify_password
from cloud.console.settings import OperatorAccount, SessionSettings
from cloud.console.web.login_limits import AttemptBuckets, LoginGate

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "Authenticator",
    "FailureLog",
    "MemoryFailures",
    "Session",
    "SessionStore",
    "Sessions",
    "Signer",
    "tokens_match",
]

SESSION_COOKIE = "ossmedia_session"
LOGIN_COOKIE = "ossmedia_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_MAX_SESSIONS = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def tokens_match(expected: str, received: str | None) -> bool:
    """Compare two tokens in constant time; None or empty never matches."""
    if not received or not expected:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8", "replace"))


class Signer:
    """Signs and checks short cookie values with HMAC-SHA256.

    Args:
        key: the signing key.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, value: str) -> str:
        data = f"{purpose}\0{value}".encode()
        return _b64(hmac.new(self._key, data, hashlib.sha256).digest())

    def sign(self, purpose: str, value: str) -> str:
        """``value.signature``; ``purpose`` keeps one cookie's value from passing as another's."""
        return f"{value}.{self._mac(purpose, value)}"

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        """The value, or None when the signature is missing or wrong."""
        if not signed or len(signed) > 256 or "." not in signed:
            return None
        value, _, mac = signed.rpartition(".")
        return value if tokens_match(self._mac(purpose, value), mac) else None


@dataclass(frozen=True)
class Session:
    """A logged-in operator.

    Attributes:
        session_id: random id (the cookie names it).
        username: who logged in.
        csrf_token: token every state change must carry.
        created_ms: login time.
    """

    session_id: str = field(repr=False)
    username: str
    csrf_token: str = field(repr=False)
    created_ms: int


class Sessions(Protocol):
    """Where live sessions are kept: this process (:class:`SessionStore`) or the ledger's
    database, shared by several replicas (``cloud.console.web.replicas``)."""

    def create(self, username: str) -> Session:
        """Start a session for ``username``."""

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""

    def end(self, session_id: str) -> None:
        """Log out."""


class SessionStore:
    """Live sessions in memory; they end at logout, after ``max_age_s`` or at restart.

    Args:
        max_age_s: session lifetime.
        clock: wall clock in seconds.
    """

    def __init__(self, *, max_age_s: int, clock: Callable[[], float]) -> None:
        self._max_age_ms = max_age_s * 1000
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def create(self, username: str) -> Session:
        """Start a session for ``username``."""
        now = self._now_ms()
        session = Session(
            session_id=secrets.token_urlsafe(32),
            username=username,
            csrf_token=secrets.token_urlsafe(32),
            created_ms=now,
        )
        with self._lock:
            self._purge(now)
            if len(self._sessions) >= _MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.created_ms)
                del self._sessions[oldest.session_id]
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._now_ms() - session.created_ms >= self._max_age_ms:
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str) -> None:
        """Log out."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def _purge(self, now: int) -> None:
        expired = [k for k, s in self._sessions.items() if now - s.created_ms >= self._max_age_ms]
        for key in expired:
            del self._sessions[key]


class FailureLog(Protocol):
    """Failed logins per (user name, client address): in this process (:class:`MemoryFailures`)
    or in the ledger's database, counted across replicas (``cloud.console.web.replicas``)."""

    def recent(self, key: tuple[str, str], *, since: float) -> int:
        """Failures of ``key`` at or after ``since`` (older ones may be forgotten)."""

    def add(self, key: tuple[str, str], at: float) -> None:
        """Record a failure."""

    def clear(self, key: tuple[str, str]) -> None:
        """Forget ``key``'s failures (a successful login)."""


class MemoryFailures:
    """Failure records of one process, bounded: past the bound the least recently failed go
    first (each attempt costs a password hash, so filling the bound takes longer than a
    lockout lasts)."""

    def __init__(self) -> None:
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def recent(self, key: tuple[str, str], *, since: float) -> int:
        """Failures of ``key`` at or after ``since``; older ones are forgotten."""
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if t > since]
            if recent:
                self._failures[key] = recent
            else:
                self._failures.pop(key, None)
            return len(recent)

    def add(self, key: tuple[str, str], at: float) -> None:
        """Record a failure."""
        with self._lock:
            self._failures.setdefault(key, []).append(at)
            self._failures.move_to_end(key)
            while len(self._failures) > _MAX_SESSIONS:
                self._failures.popitem(last=False)

    def clear(self, key: tuple[str, str]) -> None:
        """Forget ``key``'s failures."""
        with self._lock:
            self._failures.pop(key, None)


class Authenticator:
    """Checks operator passwords, locking out a user name from one address after failures.

    Failures are counted per user name *and* client address: a guesser locks the name out for
    its own address only, so it cannot lock a real operator out from everywhere by typing
    wrong passwords for them. The failure records are bounded; past the bound the least
    recently failed go first (each attempt costs a password hash, so filling the bound takes
    longer than a lockout lasts).

    Attempts are also bounded per address, globally and in how many password checks run at
    once (:mod:`cloud.console.web.login_limits`): callers ask :meth:`admit` first.

    Args:
        operators: who may log in.
        settings: lockout policy and attempt limits.
        clock: wall clock in seconds.
        verify: the password check (a seam: tests count how many run at once).
        check_wait_s: how long an attempt may wait for a free password-check slot.
        failures: where failures are counted; by default in this process.
        attempts: where the per-address and global attempt limits count; by default in this
            process.
    """

    def __init__(
        self,
        operators: tuple[OperatorAccount, ...],
        settings: SessionSettings,
        *,
        clock: Callable[[], float],
        verify: Callable[[str, str], bool] = verify_password,
        check_wait_s: float = 5.0,
        failures: FailureLog | None = None,
        attempts: AttemptBuckets | None = None,
    ) -> None:
        self._hashes = {op.username: op.password_hash.get_secret_value() for op in operators}
        self._settings = settings
        self._clock = clock
        self._verify = verify
        self.gate = LoginGate(settings, clock=clock, check_wait_s=check_wait_s, buckets=attempts)
        self._failures = failures if failures is not None else MemoryFailures()
        # Unknown user names still cost one hash check with the operators' own cost, so
        # timing does not reveal them.
        sample = next(iter(self._hashes.values()), "")
        log2_n = int(sample.split("$")[1]) if sample.count("$") == 5 else 10
        self._decoy = hash_password(secrets.token_urlsafe(16), log2_n=log2_n)

    def admit(self, client: str) -> int | None:
        """Count an attempt from ``client`` against the per-address and global limits.

        Returns:
            ``None`` to go ahead, else the seconds to put in ``Retry-After``.
        """
        return self.gate.admit(client)

    def locked_out(self, username: str, client: str) -> bool:
        """True while ``username`` has too many recent failures from ``client``."""
        since = self._clock() - self._settings.lockout_s
        recent = self._failures.recent((username, client), since=since)
        return recent >= self._settings.max_login_failures

    def check(self, username: str, password: str, client: str) -> bool:
        """Check a login attempt.

        Args:
            username: the typed user name.
            password: the typed password.
            client: the address the attempt came from.

        Returns:
            True for a known operator with the right password who is not locked out from
            ``client``.

        Raises:
            LoginBusy: every password-check slot stayed taken (answer 429).
        """
        if self.locked_out(username, client):
            return False
        stored = self._hashes.get(username)
        with self.gate.checking():
            ok = self._verify(password, stored if stored is not None else self._decoy)
        ok = ok and stored is not None
        key = (username, client)
        if ok:
            self._failures.clear(key)
        else:
            self._failures.add(key, self._clock())
        if ok:
            self.gate.succeeded(client)
        return ok
