"""Identity state of the emulated Alibaba Cloud accounts: keys, roles, STS sessions.

Pure state and logic, no HTTP. :class:`Iam` answers the three questions the wire layers ask:
which secret verifies a request's signature and who signed it (:meth:`Iam.resolve`), may that
principal do this (:meth:`Iam.is_allowed`), and mint temporary credentials for a role
(:meth:`Iam.mint_session`; AssumeRole's checks and STS error codes are in
:mod:`simulator.sts.assume_role`). All reads are lock-free dictionary lookups so the OSS hot
path stays cheap; changes take a lock because tests and the admin API change state from other threads.
"""

from __future__ import annotations

import hmac
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schemas.durations import (
    DEFAULT_SESSION_DURATION_S,
    MAX_SESSION_DURATION_S,
    MIN_ROLE_MAX_SESSION_S,
)
from simulator.base.errors import EmulatorConfigError
from simulator.iam import errors, tokens
from simulator.iam.conditions import Context
from simulator.iam.entities import AccessKey, Principal, Role, Session, TemporaryCredentials
from simulator.iam.policy import Policy, is_allowed
from simulator.iam.store import IamStore
from simulator.iam.trust import TrustPolicy

ROLE_ARN_RE = re.compile(r"acs:ram::(\d+):role/([A-Za-z0-9.\-]{1,64})\Z")
_COMPACT_EVERY = 10_000
_PRUNE_EVERY = 256

__all__ = ["Iam", "Principal", "TemporaryCredentials"]


class Iam:
    """Accounts, access keys, roles and STS sessions of the emulator.

    Args:
        clock: current time in epoch seconds (the emulator's adjustable clock).
        rng: source of key ids, secrets and tokens; a seeded one makes runs repeatable.
        store: where to persist state; None keeps everything in memory. An existing state in
            the store is loaded on construction.
        retain_expired_s: how long an expired session is remembered, so its use is answered
            with ``SecurityTokenExpired`` rather than ``InvalidAccessKeyId``.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        store: IamStore | None = None,
        retain_expired_s: float = 86_400.0,
    ) -> None:
        self._clock = clock
        self._rng = rng if rng is not None else random.SystemRandom()
        self._store = store
        self._retain_expired_s = retain_expired_s
        self._lock = threading.RLock()
        self._accounts: set[str] = set()
        self._keys: dict[str, AccessKey] = {}
        self._principals: dict[str, Principal] = {}
        self._roles: dict[tuple[str, str], Role] = {}
        self._sessions: dict[str, Session] = {}
        self._token_owner: dict[str, str] = {}
        self._mints = 0
        if store is not None:
            snapshot, journal = store.load()
            if snapshot is not None or journal:
                self.restore(snapshot or {}, journal)
                self._persist()

    # -- configuration -------------------------------------------------------------------

    @property
    def accounts(self) -> frozenset[str]:
        """The account ids known to the emulator."""
        return frozenset(self._accounts)

    def add_account(self, account_id: str) -> None:
        """Create an account (idempotent).

        Raises:
            EmulatorConfigError: the id is not a string of digits.
        """
        if not account_id.isdigit():
            raise EmulatorConfigError(f"account id {account_id!r} must be digits")
        with self._lock:
            if account_id not in self._accounts:
                self._accounts.add(account_id)
                self._persist()

    def add_access_key(
        self,
        account_id: str,
        access_key_id: str,
        secret: str,
        *,
        user: str | None = None,
        policies: Sequence[Mapping[str, Any] | str] = (),
    ) -> None:
        """Register a long-term access key.

        Args:
            account_id: an existing account.
            access_key_id: the key id clients send.
            secret: the key secret.
            user: RAM user name; None makes it a root key allowed everything in the account.
            policies: the user's policy documents (ignored for root keys).

        Raises:
            EmulatorConfigError: unknown account, or the key id is taken.
            PolicyGrammarError: a policy does not parse.
        """
        parsed = tuple(Policy.parse(p) for p in policies)
        with self._lock:
            self._require_account(account_id)
            if access_key_id in self._keys or access_key_id.startswith("STS."):
                raise EmulatorConfigError(f"access key id {access_key_id!r} is taken or reserved")
            key = AccessKey(access_key_id, secret, account_id, user, parsed)
            self._keys[access_key_id] = key
            self._principals[access_key_id] = key.principal()
            self._persist()

    def add_role(
        self,
        account_id: str,
        role_name: str,
        *,
        policies: Sequence[Mapping[str, Any] | str],
        trusted_accounts: Sequence[str] | None = None,
        trust_policy: Mapping[str, Any] | str | None = None,
        max_session_duration: int = DEFAULT_SESSION_DURATION_S,
    ) -> str:
        """Create or replace a role (names are case-insensitive, as in RAM).

        Args:
            account_id: the owning account.
            role_name: 1-64 letters, digits, ``.`` or ``-``.
            policies: policy documents attached to the role.
            trusted_accounts: accounts whose principals may assume it (default: the owner);
                not used when ``trust_policy`` is given.
            trust_policy: a RAM trust policy document naming who may assume the role.
            max_session_duration: longest session in seconds,
                :data:`~schemas.durations.MIN_ROLE_MAX_SESSION_S` to
                :data:`~schemas.durations.MAX_SESSION_DURATION_S`.

        Returns:
            The role ARN, ``acs:ram::<account>:role/<lower-case name>``.

        Raises:
            EmulatorConfigError: unknown account, bad name or duration.
            PolicyGrammarError: a policy or the trust policy does not parse.
        """
        if not MIN_ROLE_MAX_SESSION_S <= max_session_duration <= MAX_SESSION_DURATION_S:
            raise EmulatorConfigError(
                "max_session_duration must be within "
                f"{MIN_ROLE_MAX_SESSION_S}..{MAX_SESSION_DURATION_S}"
            )
        if ROLE_ARN_RE.match(f"acs:ram::0:role/{role_name}") is None:
            raise EmulatorConfigError(f"role name {role_name!r} is not valid")
        parsed = tuple(Policy.parse(p) for p in policies)
        trust = TrustPolicy.parse(trust_policy) if trust_policy is not None else None
        with self._lock:
            self._require_account(account_id)
            key = (account_id, role_name.lower())
            old = self._roles.get(key)
            role = Role(
                account_id,
                role_name,
                old.role_id if old else tokens.numeric_id(self._rng),
                parsed,
                frozenset(trusted_accounts if trusted_accounts is not None else [account_id]),
                max_session_duration,
                trust,
            )
            self._roles[key] = role
            self._persist()
            return role.arn

    def has_access_key(self, access_key_id: str) -> bool:
        """Whether a long-term key with this id exists."""
        return access_key_id in self._keys

    def role(self, role_arn: str) -> Role | None:
        """The role an ARN names, or None (the ARN's name part is case-insensitive)."""
        match = ROLE_ARN_RE.match(role_arn)
        if match is None:
            return None
        return self._roles.get((match.group(1), match.group(2).lower()))

    # -- the three questions ---------------------------------------------------------------

    def resolve(self, access_key_id: str, security_token: str | None) -> tuple[str, Principal]:
        """Find the secret to verify a request with, and the principal behind the key.

        Args:
            access_key_id: the key id the request names.
            security_token: the STS token sent with it, if any (empty counts as none).

        Returns:
            ``(secret, principal)``.

        Raises:
            IamError: ``InvalidAccessKeyId`` (unknown key), ``InvalidSecurityToken`` (token
                missing for an STS key, unknown, or sent with a long-term key),
                ``AccessKeyIdAndSecurityTokenNotMatch`` (a valid token of another key),
                ``SecurityTokenExpired``.
        """
        key = self._keys.get(access_key_id)
        if key is not None:
            if security_token:
                raise errors.IamError(errors.INVALID_SECURITY_TOKEN, access_key_id=access_key_id)
            return key.secret, self._principals[access_key_id]
        session = self._sessions.get(access_key_id)
        if session is None:
            if security_token and security_token in self._token_owner:
                raise errors.IamError(errors.KEY_TOKEN_MISMATCH, access_key_id=access_key_id)
            raise errors.IamError(errors.INVALID_ACCESS_KEY_ID, access_key_id=access_key_id)
        if not security_token:
            raise errors.IamError(errors.INVALID_SECURITY_TOKEN, access_key_id=access_key_id)
        if not hmac.compare_digest(security_token.encode(), session.token.encode()):
            code = errors.KEY_TOKEN_MISMATCH
            if security_token not in self._token_owner:
                code = errors.INVALID_SECURITY_TOKEN
            raise errors.IamError(code, access_key_id=access_key_id)
        if self._clock() > session.expiration:
            raise errors.IamError(errors.SECURITY_TOKEN_EXPIRED, access_key_id=access_key_id)
        return session.secret, self._session_principal(session)

    def is_allowed(
        self, principal: Principal, action: str, resource: str, context: Context
    ) -> bool:
        """Whether ``principal`` may do ``action`` on ``resource`` (see :func:`policy.is_allowed`)."""
        return is_allowed(
            principal.identity_policies, principal.session_policy, action, resource, context
        )

    def mint_session(
        self,
        role: Role,
        *,
        session_name: str,
        duration_s: int,
        session_policy: Policy | None,
    ) -> TemporaryCredentials:
        """Mint temporary credentials for a role; AssumeRole's checks are the caller's job.

        :func:`simulator.sts.assume_role.assume_role` checks the request (ARN, session name,
        duration, session policy, trust, permission) and answers with STS errors; this only
        records the session.

        Args:
            role: the role, as :meth:`role` returned it.
            session_name: the session name (already checked).
            duration_s: the session's lifetime in seconds (already checked).
            session_policy: the parsed session policy, if any.

        Returns:
            The new credentials; their principal has the role's policies and the session policy.
        """
        with self._lock:
            session = Session(
                tokens.access_key_id(self._rng, temporary=True),
                tokens.access_key_secret(self._rng),
                tokens.security_token(self._rng),
                self._clock() + duration_s,
                role.account_id,
                role.name.lower(),
                session_name,
                session_policy,
            )
            self._add_session(session)
            if self._store is not None:
                self._store.append_session(session.record())
                if self._store.journal_lines >= _COMPACT_EVERY:
                    self._persist()
            self._mints += 1
            if self._mints % _PRUNE_EVERY == 0:
                self._prune()
        principal = self._session_principal(session)
        return TemporaryCredentials(
            session.access_key_id,
            session.secret,
            session.token,
            session.expiration,
            principal,
            f"{role.arn}/{session_name}",
            f"{role.role_id}:{session_name}",
        )

    # -- persistence -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything as a JSON-serialisable dict (contains secrets: store it privately)."""
        with self._lock:
            return {
                "version": 1,
                "accounts": sorted(self._accounts),
                "access_keys": [
                    {"access_key_id": k.access_key_id, "secret": k.secret, "account_id": k.account_id,
                     "user": k.user, "policies": [p.document for p in k.policies]}
                    for k in self._keys.values()
                ],
                "roles": [
                    {"account_id": r.account_id, "name": r.name, "role_id": r.role_id,
                     "policies": [p.document for p in r.policies],
                     "trusted_accounts": sorted(r.trusted_accounts),
                     "max_session_duration": r.max_session_duration,
                     "trust_policy": r.trust_policy.document if r.trust_policy else None}
                    for r in self._roles.values()
                ],
                "sessions": [s.record() for s in self._sessions.values()],
            }  # fmt: skip

    def restore(
        self, snapshot: Mapping[str, Any], journal: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Replace the whole state with a :meth:`snapshot` (plus journaled sessions after it)."""
        with self._lock:
            self._accounts = set(snapshot.get("accounts", ()))
            self._keys, self._principals, self._roles = {}, {}, {}
            self._sessions, self._token_owner = {}, {}
            for k in snapshot.get("access_keys", ()):
                policies = tuple(Policy.parse(p) for p in k.get("policies", ()))
                key = AccessKey(
                    k["access_key_id"], k["secret"], k["account_id"], k.get("user"), policies
                )
                self._keys[key.access_key_id] = key
                self._principals[key.access_key_id] = key.principal()
            for r in snapshot.get("roles", ()):
                role = Role(
                    r["account_id"], r["name"], r["role_id"],
                    tuple(Policy.parse(p) for p in r.get("policies", ())),
                    frozenset(r.get("trusted_accounts", (r["account_id"],))),
                    int(r.get("max_session_duration", DEFAULT_SESSION_DURATION_S)),
                    TrustPolicy.parse(r["trust_policy"]) if r.get("trust_policy") else None,
                )  # fmt: skip
                self._roles[(role.account_id, role.name.lower())] = role
            for s in [*snapshot.get("sessions", ()), *journal]:
                self._add_session(Session.from_record(s))
            self._prune()

    def flush(self) -> None:
        """Compact the session journal into a fresh snapshot (durable mode; else a no-op)."""
        with self._lock:
            self._persist()

    # -- internals -------------------------------------------------------------------------

    def _require_account(self, account_id: str) -> None:
        if account_id not in self._accounts:
            raise EmulatorConfigError(f"unknown account {account_id!r}")

    def _session_principal(self, session: Session) -> Principal:
        role = self._roles.get((session.account_id, session.role_name))
        policies = role.policies if role is not None else ()
        return Principal(
            session.account_id,
            session.access_key_id,
            "assumed_role",
            f"acs:ram::{session.account_id}:role/{session.role_name}",
            session.session_name,
            policies,
            session.session_policy,
        )

    def _add_session(self, session: Session) -> None:
        self._sessions[session.access_key_id] = session
        self._token_owner[session.token] = session.access_key_id

    def _prune(self) -> None:
        horizon = self._clock() - self._retain_expired_s
        for ak in [ak for ak, s in self._sessions.items() if s.expiration < horizon]:
            session = self._sessions.pop(ak)
            self._token_owner.pop(session.token, None)

    def _persist(self) -> None:
        if self._store is not None:
            self._store.write_snapshot(self.snapshot())
