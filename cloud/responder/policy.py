"""The session policy attached to every AssumeRole call.

STS intersects it with the camera role's own policy, so even a role that is broader than it
should be yields credentials that can only do this:

- ``append`` / ``write``: ``oss:PutObject`` (which covers AppendObject) and ``oss:GetObject``
  (HEAD, to recover the append position after an ambiguous failure);
- ``read``: ``oss:GetObject`` only;

each on ``acs:oss:*:*:{bucket}/{prefix}*`` and nothing else: no delete, no listing, no other
device's prefix.
"""

from __future__ import annotations

import functools
import json

ACTIONS: dict[str, tuple[str, ...]] = {
    "append": ("oss:PutObject", "oss:GetObject"),
    "write": ("oss:PutObject", "oss:GetObject"),
    "read": ("oss:GetObject",),
}
MAX_POLICY_BYTES = 1024


def object_resource(bucket: str, prefix: str) -> str:
    """The policy resource covering every object under ``prefix`` in ``bucket``."""
    return f"acs:oss:*:*:{bucket}/{prefix}*"


@functools.lru_cache(maxsize=65536)
def session_policy(*, bucket: str, prefix: str, access: str) -> str:
    """Build the session policy document for one grant.

    Args:
        bucket: the bucket cameras write to.
        prefix: the device's key prefix (ends with ``/``; built from a validated device id,
            so it holds no wildcard).
        access: ``append``, ``write`` or ``read``.

    Returns:
        The policy as compact JSON, small enough for AssumeRole's size limit.

    Raises:
        ValueError: an unknown access mode, a prefix that could widen the grant, or a policy
            over the size limit.
    """
    actions = ACTIONS.get(access)
    if actions is None:
        raise ValueError(f"unknown access mode {access!r}")
    if not prefix.endswith("/") or any(c in prefix for c in "*?$") or ".." in prefix:
        raise ValueError("the prefix must end with '/' and hold no wildcard or '..'")
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": [object_resource(bucket, prefix)],
            }
        ],
    }
    text = json.dumps(document, separators=(",", ":"))
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise ValueError("the session policy is over the AssumeRole size limit")
    return text
