"""AssumeRole wire errors: the codes, messages and HTTP statuses the STS SDK sees.

Tree::

    EmulatorError                      (simulator.base.errors)
    └── StsError                       code, message, http_status

Build them with the helpers below so every raise site uses the exact text real STS sends.
The ``SignatureDoesNotMatch`` message must contain ``:`` followed by the server's string to
sign: aliyunsdkcore splits on the first ``:`` (a message without one crashes the SDK) and,
when the text matches its own string to sign, reports ``InvalidAccessKeySecret`` instead.
"""

from __future__ import annotations

from simulator.base.errors import EmulatorError


class StsError(EmulatorError):
    """An STS RPC error.

    Args:
        code: the RPC error code, e.g. ``"EntityNotExist.Role"``.
        message: the text sent with it (never a secret).
        http_status: the HTTP status of the reply.
    """

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status

    def __repr__(self) -> str:
        return f"StsError(code={self.code!r}, http_status={self.http_status})"


def invalid_role_arn() -> StsError:
    return StsError("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")


def invalid_session_name() -> StsError:
    return StsError(
        "InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed."
    )


def invalid_duration(max_seconds: int) -> StsError:
    return StsError(
        "InvalidParameter.DurationSeconds",
        f"The Min/Max value of DurationSeconds is 15min/{_human(max_seconds)}.",
    )


def policy_grammar() -> StsError:
    return StsError(
        "InvalidParameter.PolicyGrammar", "The parameter Policy has not passed grammar check."
    )


def policy_size(limit: int) -> StsError:
    return StsError(
        "InvalidParameter.PolicySize", f"The size of Policy must be smaller than {limit} bytes."
    )


def no_permission() -> StsError:
    return StsError(
        "NoPermission",
        "You are not authorized to do this action. You should be authorized by RAM.",
        403,
    )


def role_not_found() -> StsError:
    return StsError("EntityNotExist.Role", "The specified Role not exists.", 404)


def internal_error() -> StsError:
    return StsError("InternalError", "STS Server Internal Error happened.", 500)


def service_unavailable() -> StsError:
    return StsError(
        "ServiceUnavailable",
        "The request has failed due to a temporary failure of the server.",
        503,
    )


def signature_mismatch(string_to_sign: str) -> StsError:
    return StsError(
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation. server string to sign is:"
        + string_to_sign,
    )


def access_key_not_found() -> StsError:
    return StsError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)


def timestamp_expired() -> StsError:
    return StsError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")


def timestamp_format() -> StsError:
    return StsError(
        "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
    )


def nonce_used() -> StsError:
    return StsError("SignatureNonceUsed", "Specified signature nonce was used already.")


def throttled() -> StsError:
    return StsError("Throttling.User", "Request was denied due to user flow control.")


def missing_parameter(name: str) -> StsError:
    return StsError(f"Missing{name}", f"{name} is mandatory for this action.")


def invalid_parameter(name: str) -> StsError:
    return StsError(f"InvalidParameter.{name}", f"The parameter {name} is wrongly formed.")


def invalid_version() -> StsError:
    return StsError("InvalidVersion", "Specified parameter Version is not valid.")


def action_not_found() -> StsError:
    return StsError(
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
        404,
    )


def unsupported_signature_method() -> StsError:
    return StsError(
        "InvalidParameter.SignatureMethod", "Specified signature method is not supported."
    )


def security_token_error(code: str) -> StsError:
    """Translate an OSS-style credential error code to the STS wording."""
    suffix = {
        "SecurityTokenExpired": "Expired",
        "AccessKeyIdAndSecurityTokenNotMatch": "MismatchWithAccessKey",
    }.get(code, "Malformed")
    messages = {
        "Expired": "Specified SecurityToken is expired.",
        "MismatchWithAccessKey": "Specified SecurityToken mismatch with the AccessKey.",
        "Malformed": "Specified SecurityToken is malformed.",
    }
    return StsError(f"InvalidSecurityToken.{suffix}", messages[suffix])


def _human(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}hr"
    if seconds % 60 == 0:
        return f"{seconds // 60}min"
    return f"{seconds}s"
