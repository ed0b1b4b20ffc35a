"""Errors of the emulated RAM/identity layer, with the OSS wire codes they map to.

Tree::

    EmulatorError                      (simulator.base.errors)
    └── IamError                       code, message, http_status, access_key_id
        └── PolicyGrammarError         reason (a policy document that does not parse)

The OSS side answers an :class:`IamError` with an XML error body built from ``code``,
``message`` and ``http_status`` unchanged; the STS side translates it to its own RPC codes.
"""

from __future__ import annotations

from simulator.base.errors import EmulatorError

INVALID_ACCESS_KEY_ID = "InvalidAccessKeyId"
INVALID_SECURITY_TOKEN = "InvalidSecurityToken"  # noqa: S105 - an error code
SECURITY_TOKEN_EXPIRED = "SecurityTokenExpired"  # noqa: S105 - an error code
KEY_TOKEN_MISMATCH = "AccessKeyIdAndSecurityTokenNotMatch"  # noqa: S105 - an error code

_MESSAGES = {
    INVALID_ACCESS_KEY_ID: "The OSS Access Key Id you provided does not exist in our records.",
    INVALID_SECURITY_TOKEN: "The security token you provided is invalid.",
    SECURITY_TOKEN_EXPIRED: "The security token you provided has expired.",
    KEY_TOKEN_MISMATCH: "The OSS access key id and security token you provided does not match.",
}


class IamError(EmulatorError):
    """A credential could not be resolved.

    Args:
        code: the OSS error code (one of the module constants).
        message: the text OSS sends with that code; defaults to the standard one.
        http_status: the HTTP status OSS answers with (403 for every credential error).
        access_key_id: the key the request named (an id, not a secret), for context.
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        http_status: int = 403,
        access_key_id: str | None = None,
    ) -> None:
        super().__init__(message or _MESSAGES.get(code, code))
        self.code = code
        self.http_status = http_status
        self.access_key_id = access_key_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, access_key_id={self.access_key_id!r})"


class PolicyGrammarError(IamError):
    """A RAM policy document is not valid JSON or breaks the policy grammar.

    Args:
        reason: what is wrong, e.g. ``"Statement[0].Effect must be Allow or Deny"``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("MalformedPolicyDocument", f"Invalid policy: {reason}", http_status=400)
        self.reason = reason
