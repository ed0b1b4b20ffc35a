"""Request authentication: OSS V1, V2 and V4 signatures, in headers and in presigned URLs.

The server recomputes what the client signed from the request it received and compares in
constant time. Secrets come from the identity service (``resolve``) and never leave this
module: errors carry the StringToSign (so a client can compare) but never a secret or token.

Time rules: a header-signed request whose ``Date`` (V1; ``x-oss-date`` wins when present, the
way oss2 signs) or ``x-oss-date`` (V4) is more than ``max_clock_skew_s`` from the server clock
fails with RequestTimeTooSkewed (V2 header signatures use ``Date`` alike); a presigned URL
fails with AccessDenied "Request has expired." once ``Expires`` (V1) or ``x-oss-expires``
(V2; both absolute) or ``x-oss-date + x-oss-expires`` (V4) has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from simulator.base.errors import EmulatorError
from simulator.oss.errors import (
    AccessDenied,
    InvalidArgument,
    OssError,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)
from simulator.oss.requests import OssRequest
from simulator.oss.settings import OssSettings
from simulator.oss.signing import (
    V2_SCHEME,
    V4_ALGORITHM,
    parse_v2_authorization,
    parse_v4_authorization,
    split_additional,
    v1_string_to_sign,
    v2_string_to_sign,
    v4_canonical_request,
)
from simulator.oss.urls import Target

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


_RFC1123_RE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_ISO_BASIC_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
_V1_AUTH_RE = re.compile(r"^OSS ([^:\s]+):(\S+)$")
_CACHE_LIMIT = 256


class PrincipalLike(Protocol):
    """What the OSS emulator needs to know about an authenticated caller."""

    @property
    def account_id(self) -> str:
        """The account the caller belongs to (bucket ownership is per account)."""
        ...


class IdentityService(Protocol):
    """The seam to the IAM half of the emulator (``simulator.iam.Iam`` implements it).

    ``is_allowed`` only ever gets back a principal that ``resolve`` returned, so its parameter
    is typed loosely: an implementation may ask for its own principal class.
    """

    def resolve(self, access_key_id: str, security_token: str | None) -> tuple[str, PrincipalLike]:
        """Return (secret, principal) for a key; raise an EmulatorError with code/http_status."""
        ...

    def is_allowed(
        self,
        principal: Any,
        action: str,
        resource: str,
        context: Mapping[str, str | Sequence[str]],
    ) -> bool:
        """Whether the principal's policies allow ``action`` on ``resource``."""
        ...


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request's identity.

    Attributes:
        principal: as resolved by the identity service.
        access_key_id: the key the request was signed with (not secret).
        scheme: ``v1``, ``v2``, ``v4``, ``v1-url``, ``v2-url`` or ``v4-url``.
    """

    principal: PrincipalLike
    access_key_id: str
    scheme: str


class Authenticator:
    """Verifies request signatures.

    Args:
        identity: resolves access key ids (and STS tokens) to secrets and principals.
        settings: region and time limits.
        clock: returns the current Unix time in seconds.
    """

    def __init__(
        self, identity: IdentityService, settings: OssSettings, clock: Callable[[], float]
    ) -> None:
        self._identity = identity
        self._settings = settings
        self._clock = clock
        self._dates: dict[str, float] = {}
        self._signing_keys: dict[tuple[str, str, str], bytes] = {}

    def authenticate(self, req: OssRequest, target: Target) -> Caller | None:
        """Verify the request's signature.

        Args:
            req: the request.
            target: what it addresses (the signed resource is derived from it).

        Returns:
            The caller, or ``None`` for an anonymous (unsigned) request.

        Raises:
            OssError: InvalidArgument (malformed Authorization), AccessDenied (missing or
                expired presign parameters, bad date), RequestTimeTooSkewed,
                SignatureDoesNotMatch, or the identity service's code (InvalidAccessKeyId,
                SecurityTokenExpired ...).
        """
        authorization = req.headers.get("authorization")
        query = req.query
        presign_v2 = query.get("x-oss-signature-version") == V2_SCHEME
        presign_v4 = "x-oss-signature-version" in query and not presign_v2
        presign_v1 = "OSSAccessKeyId" in query or "Signature" in query
        if authorization is not None:
            if presign_v1 or presign_v2 or presign_v4:
                raise AccessDenied("Only one authentication method may be used per request.")
            if authorization.startswith("OSS "):
                return self._v1_header(req, target, authorization)
            if authorization.startswith(V2_SCHEME + " "):
                return self._v2_header(req, target, authorization)
            if authorization.startswith(V4_ALGORITHM):
                return self._v4_header(req, target, authorization)
            raise InvalidArgument(
                "Authorization header is invalid.", name="Authorization", value=""
            )
        if presign_v2:
            return self._v2_url(req, target)
        if presign_v4:
            return self._v4_url(req, target)
        if presign_v1 or "Expires" in query:
            return self._v1_url(req, target)
        return None

    # ---- V1 -------------------------------------------------------------------------------

    def _v1_header(self, req: OssRequest, target: Target, authorization: str) -> Caller:
        match = _V1_AUTH_RE.match(authorization)
        if match is None:
            raise InvalidArgument(
                "Authorization header is invalid.", name="Authorization", value=""
            )
        access_key_id, provided = match.group(1), match.group(2)
        date_line = req.headers.get("x-oss-date") or req.headers.get("date", "")
        self._check_skew(self._parse_date(date_line), date_line)
        secret, principal = self._resolve(access_key_id, req.headers.get("x-oss-security-token"))
        string_to_sign = v1_string_to_sign(req, target, date_line)
        self._hmac_b64_verify("sha1", secret, string_to_sign, access_key_id, provided)
        return Caller(principal, access_key_id, "v1")

    def _v1_url(self, req: OssRequest, target: Target) -> Caller:
        query = req.query
        access_key_id = query.get("OSSAccessKeyId")
        expires = query.get("Expires")
        provided = query.get("Signature")
        if not access_key_id or expires is None or provided is None:
            raise AccessDenied(
                "Query string authentication requires the Signature, Expires and OSSAccessKeyId parameters"
            )
        self._check_expires(expires)
        secret, principal = self._resolve(access_key_id, query.get("security-token"))
        string_to_sign = v1_string_to_sign(req, target, expires)
        self._hmac_b64_verify("sha1", secret, string_to_sign, access_key_id, provided)
        return Caller(principal, access_key_id, "v1-url")

    def _check_expires(self, expires: str) -> None:
        """Refuse a V1/V2 presigned URL whose epoch-seconds ``expires`` is malformed or past."""
        if not expires.isdigit():
            raise AccessDenied("Invalid date (should be seconds since epoch)", Expires=expires)
        now = self._clock()
        if now > int(expires):
            raise AccessDenied(
                "Request has expired.", Expires=_iso8601(int(expires)), ServerTime=_iso8601(now)
            )

    @staticmethod
    def _hmac_b64_verify(
        digest: str, secret: str, string_to_sign: bytes, access_key_id: str, provided: str
    ) -> None:
        """Compare ``provided`` with base64(HMAC-``digest``(secret, string_to_sign)) (V1: sha1,
        V2: sha256)."""
        expected = b64encode(hmac.new(secret.encode("utf-8"), string_to_sign, digest).digest())
        if not hmac.compare_digest(expected, provided.encode("latin-1", "replace")):
            raise SignatureDoesNotMatch(
                string_to_sign, access_key_id=access_key_id, signature_provided=provided
            )

    # ---- V2 -------------------------------------------------------------------------------

    def _v2_header(self, req: OssRequest, target: Target, authorization: str) -> Caller:
        fields = parse_v2_authorization(authorization)
        access_key_id = fields.get("AccessKeyId")
        provided = fields.get("Signature")
        if not access_key_id or not provided:
            raise InvalidArgument(
                "Authorization header is invalid.", name="Authorization", value=""
            )
        date_line = req.headers.get("date", "")
        self._check_skew(self._parse_date(date_line), date_line)
        secret, principal = self._resolve(access_key_id, req.headers.get("x-oss-security-token"))
        additional = _v2_additional(fields.get("AdditionalHeaders", ""))
        string_to_sign = v2_string_to_sign(req, target, date_line, additional, exclude_param=None)
        self._hmac_b64_verify("sha256", secret, string_to_sign, access_key_id, provided)
        return Caller(principal, access_key_id, "v2")

    def _v2_url(self, req: OssRequest, target: Target) -> Caller:
        query = req.query
        access_key_id = query.get("x-oss-access-key-id")
        expires = query.get("x-oss-expires")
        provided = query.get("x-oss-signature")
        if not access_key_id or expires is None or provided is None:
            raise AccessDenied(
                "Query string authentication requires the x-oss-access-key-id, x-oss-expires "
                "and x-oss-signature parameters"
            )
        self._check_expires(expires)
        secret, principal = self._resolve(access_key_id, query.get("security-token"))
        additional = _v2_additional(query.get("x-oss-additional-headers", ""))
        string_to_sign = v2_string_to_sign(
            req, target, expires, additional, exclude_param="x-oss-signature"
        )
        self._hmac_b64_verify("sha256", secret, string_to_sign, access_key_id, provided)
        return Caller(principal, access_key_id, "v2-url")

    # ---- V4 -------------------------------------------------------------------------------

    def _v4_header(self, req: OssRequest, target: Target, authorization: str) -> Caller:
        fields = parse_v4_authorization(authorization)
        credential = fields.get("Credential")
        provided = fields.get("Signature")
        if not credential or not provided:
            raise InvalidArgument(
                "Authorization header is invalid.", name="Authorization", value=""
            )
        additional = split_additional(fields.get("AdditionalHeaders", ""))
        x_oss_date = req.headers.get("x-oss-date", "")
        timestamp = self._parse_iso_basic(x_oss_date)
        self._check_skew(timestamp, x_oss_date)
        payload_hash = req.headers.get("x-oss-content-sha256", UNSIGNED_PAYLOAD)
        if payload_hash != UNSIGNED_PAYLOAD:
            raise InvalidArgument(
                "x-oss-content-sha256 must be UNSIGNED-PAYLOAD.",
                name="x-oss-content-sha256",
                value=payload_hash,
                ec="0002-00000214",
            )
        access_key_id, scope = self._check_credential(credential, x_oss_date)
        secret, principal = self._resolve(access_key_id, req.headers.get("x-oss-security-token"))
        canonical = v4_canonical_request(
            req, target, additional, exclude_param=None, payload_hash=payload_hash
        )
        self._v4_verify(secret, canonical, x_oss_date, scope, access_key_id, provided)
        return Caller(principal, access_key_id, "v4")

    def _v4_url(self, req: OssRequest, target: Target) -> Caller:
        query = req.query
        if query.get("x-oss-signature-version") != V4_ALGORITHM:
            raise InvalidArgument(
                "Unsupported signature version.",
                name="x-oss-signature-version",
                value=query.get("x-oss-signature-version", ""),
            )
        credential = query.get("x-oss-credential")
        provided = query.get("x-oss-signature")
        x_oss_date = query.get("x-oss-date")
        expires = query.get("x-oss-expires")
        if not credential or not provided or not x_oss_date or expires is None:
            raise AccessDenied(
                "Query string authentication requires the x-oss-credential, x-oss-date, "
                "x-oss-expires and x-oss-signature parameters"
            )
        if not expires.isdigit() or not 0 < int(expires) <= self._settings.max_presign_expires_s:
            raise InvalidArgument(
                "x-oss-expires is out of range.", name="x-oss-expires", value=expires
            )
        timestamp = self._parse_iso_basic(x_oss_date)
        now = self._clock()
        if timestamp - now > self._settings.max_clock_skew_s:
            raise RequestTimeTooSkewed(
                request_time=_iso8601(timestamp),
                server_time=_iso8601(now),
                max_skew_ms=int(self._settings.max_clock_skew_s * 1000),
            )
        if now > timestamp + int(expires):
            raise AccessDenied(
                "Request has expired.",
                Expires=_iso8601(timestamp + int(expires)),
                ServerTime=_iso8601(now),
            )
        access_key_id, scope = self._check_credential(credential, x_oss_date)
        secret, principal = self._resolve(access_key_id, query.get("x-oss-security-token"))
        additional = split_additional(query.get("x-oss-additional-headers", ""))
        payload_hash = req.headers.get("x-oss-content-sha256", UNSIGNED_PAYLOAD)
        canonical = v4_canonical_request(
            req, target, additional, exclude_param="x-oss-signature", payload_hash=payload_hash
        )
        self._v4_verify(secret, canonical, x_oss_date, scope, access_key_id, provided)
        return Caller(principal, access_key_id, "v4-url")

    def _check_credential(self, credential: str, x_oss_date: str) -> tuple[str, str]:
        parts = credential.split("/")
        if len(parts) != 5 or parts[3] != "oss" or parts[4] != "aliyun_v4_request" or not parts[0]:
            raise InvalidArgument("Invalid credential.", name="Credential", value=credential)
        if parts[1] != x_oss_date[:8]:
            raise InvalidArgument(
                "The credential date does not match x-oss-date.",
                name="Credential",
                value=credential,
            )
        if parts[2] != self._settings.region:
            raise InvalidArgument(
                f"Invalid signing region in credential: expected {self._settings.region}.",
                name="Credential",
                value=credential,
            )
        return parts[0], "/".join(parts[1:])

    def _v4_verify(
        self,
        secret: str,
        canonical: bytes,
        x_oss_date: str,
        scope: str,
        access_key_id: str,
        provided: str,
    ) -> None:
        string_to_sign = f"{V4_ALGORITHM}\n{x_oss_date}\n{scope}\n{hashlib.sha256(canonical).hexdigest()}".encode(
            "ascii"
        )
        date, region = scope.split("/", 2)[:2]
        key = self._signing_key(secret, date, region)
        expected = hmac.digest(key, string_to_sign, "sha256").hex()
        if not hmac.compare_digest(expected.encode("ascii"), provided.encode("latin-1", "replace")):
            raise SignatureDoesNotMatch(
                string_to_sign,
                access_key_id=access_key_id,
                signature_provided=provided,
                canonical_request=canonical,
            )

    def _signing_key(self, secret: str, date: str, region: str) -> bytes:
        cache_key = (secret, date, region)
        key = self._signing_keys.get(cache_key)
        if key is None:
            key = hmac.new(
                ("aliyun_v4" + secret).encode("utf-8"), date.encode("ascii"), hashlib.sha256
            ).digest()
            for part in (region, "oss", "aliyun_v4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            if len(self._signing_keys) >= _CACHE_LIMIT:
                self._signing_keys.clear()
            self._signing_keys[cache_key] = key
        return key

    # ---- shared ---------------------------------------------------------------------------

    def _resolve(self, access_key_id: str, security_token: str | None) -> tuple[str, PrincipalLike]:
        try:
            return self._identity.resolve(access_key_id, security_token)
        except OssError:
            raise
        except EmulatorError as exc:
            code = getattr(exc, "code", "InvalidAccessKeyId")
            status = getattr(exc, "http_status", 403)
            raise OssError(
                str(code), exc.message, int(status), elements={"OSSAccessKeyId": access_key_id}
            ) from None

    def _check_skew(self, timestamp: float, raw: str) -> None:
        now = self._clock()
        if abs(now - timestamp) > self._settings.max_clock_skew_s:
            raise RequestTimeTooSkewed(
                request_time=raw,
                server_time=_iso8601(now),
                max_skew_ms=int(self._settings.max_clock_skew_s * 1000),
            )

    def _parse_date(self, value: str) -> float:
        cached = self._dates.get(value)
        if cached is not None:
            return cached
        match = _RFC1123_RE.match(value)
        try:
            if match is not None:
                day, month, year, hh, mm, ss = match.groups()
                moment = datetime(
                    int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=UTC
                )
            else:
                iso = _ISO_BASIC_RE.match(value)
                if iso is None:
                    raise ValueError(value)
                y, mo, d, hh, mm, ss = (int(g) for g in iso.groups())
                moment = datetime(y, mo, d, hh, mm, ss, tzinfo=UTC)
        except ValueError:
            raise AccessDenied("OSS authentication requires a valid Date.") from None
        timestamp = moment.timestamp()
        if len(self._dates) >= _CACHE_LIMIT:
            self._dates.clear()
        self._dates[value] = timestamp
        return timestamp

    def _parse_iso_basic(self, value: str) -> float:
        if _ISO_BASIC_RE.match(value) is None:
            raise AccessDenied("OSS V4 authentication requires a valid x-oss-date.")
        return self._parse_date(value)


def _v2_additional(value: str) -> list[str]:
    # The extra signed header names; x-oss-* headers are signed anyway.
    names = {name.strip().lower() for name in value.split(";") if name.strip()}
    return sorted(n for n in names if not n.startswith("x-oss-"))


def _iso8601(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))
