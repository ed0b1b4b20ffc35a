"""AssumeRole's own checks, in the order real STS makes them, before IAM mints the session.

IAM (:class:`~simulator.iam.models.Iam`) only knows identities: it resolves keys, evaluates
policies and mints a session for a role it is handed. Everything AssumeRole answers with an STS
error code (a malformed ARN or session name, a duration out of bounds, a session policy too
large or not parseable, an unknown role, a caller without trust or permission) lives here.
"""

from __future__ import annotations

import re

from schemas.durations import DEFAULT_SESSION_DURATION_S, MIN_SESSION_DURATION_S
from simulator.iam.conditions import Context
from simulator.iam.entities import Principal, TemporaryCredentials
from simulator.iam.errors import PolicyGrammarError
from simulator.iam.models import ROLE_ARN_RE, Iam
from simulator.iam.policy import Policy
from simulator.sts import errors

SESSION_NAME_RE = re.compile(r"[A-Za-z0-9.@_\-]{2,64}\Z")
DEFAULT_MAX_POLICY_BYTES = 1024


def assume_role(
    iam: Iam,
    caller: Principal,
    *,
    role_arn: str,
    session_name: str,
    duration_s: int,
    policy: str | None,
    context: Context | None = None,
    max_policy_bytes: int = DEFAULT_MAX_POLICY_BYTES,
) -> TemporaryCredentials:
    """Check an AssumeRole request and mint its temporary credentials.

    Args:
        iam: the identity state the role lives in.
        caller: the principal that signed the AssumeRole request.
        role_arn: ``acs:ram::<account>:role/<name>``.
        session_name: 2-64 of ``A-Za-z0-9.@_-``.
        duration_s: :data:`~schemas.durations.MIN_SESSION_DURATION_S` up to the role's maximum.
        policy: an optional session policy (JSON text) narrowing the role's permissions.
        context: condition keys for the caller's ``sts:AssumeRole`` permission check.
        max_policy_bytes: the ``Policy`` size limit.

    Returns:
        The new credentials; their principal has the role's policies and the session policy.

    Raises:
        StsError: ``InvalidParameter.RoleArn/RoleSessionName/DurationSeconds/PolicySize/
            PolicyGrammar``, ``EntityNotExist.Role``, ``NoPermission``.
    """
    if ROLE_ARN_RE.match(role_arn) is None:
        raise errors.invalid_role_arn()
    if SESSION_NAME_RE.match(session_name) is None:
        raise errors.invalid_session_name()
    role = iam.role(role_arn)
    if duration_s < MIN_SESSION_DURATION_S:
        raise errors.invalid_duration(
            role.max_session_duration if role else DEFAULT_SESSION_DURATION_S
        )
    session_policy = _parse_session_policy(policy, max_policy_bytes)
    if role is None:
        raise errors.role_not_found()
    if not role.trusts(caller) or not iam.is_allowed(
        caller, "sts:AssumeRole", role.arn, context or {}
    ):
        raise errors.no_permission()
    if duration_s > role.max_session_duration:
        raise errors.invalid_duration(role.max_session_duration)
    return iam.mint_session(
        role, session_name=session_name, duration_s=duration_s, session_policy=session_policy
    )


def _parse_session_policy(policy: str | None, max_bytes: int) -> Policy | None:
    if policy is None or policy == "":
        return None
    if len(policy.encode("utf-8")) > max_bytes:
        raise errors.policy_size(max_bytes)
    try:
        return Policy.parse(policy)
    except PolicyGrammarError:
        raise errors.policy_grammar() from None
