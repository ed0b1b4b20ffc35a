"""Raw HTTP requests for cases oss2 cannot produce, signed with an independent V1 signer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from tests.simulator.oss._server import OssEnv

# Query parameters that belong to the V1 CanonicalizedResource in these tests.
_SIGNED_PARAMS = (
    "append",
    "position",
    "delete",
    "lifecycle",
    "objectMeta",
    "bucketInfo",
    "acl",
    "publicAccessBlock",
)


@dataclass(frozen=True)
class RawResponse:
    """A response as received."""

    status: int
    headers: dict[str, str]
    body: bytes


def sign_v1(secret: str, method: str, resource: str, headers: Mapping[str, str]) -> str:
    """The V1 signature of a request (independent of the emulator's implementation)."""
    lower = {k.lower(): v for k, v in headers.items()}
    oss_headers = "".join(f"{k}:{lower[k]}\n" for k in sorted(lower) if k.startswith("x-oss-"))
    text = "\n".join(
        [
            method,
            lower.get("content-md5", ""),
            lower.get("content-type", ""),
            lower.get("date", ""),
            oss_headers + resource,
        ]
    )
    digest = hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def raw_request(
    env: OssEnv,
    method: str,
    target: str,
    *,
    resource: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    sign: bool = True,
    date: str | None = None,
) -> RawResponse:
    """Send one request with the request target exactly as given.

    Args:
        env: the emulator.
        method: HTTP method.
        target: raw request target (path and query, percent-encoded as it should travel).
        resource: the V1 CanonicalizedResource to sign (decoded); default derived from target.
        headers: extra headers.
        body: the body (Content-Length is set by http.client).
        sign: add Date and a V1 Authorization with the root key.
        date: override the Date header.
    """
    all_headers = dict(headers or {})
    if sign:
        all_headers.setdefault("Date", date if date is not None else formatdate(usegmt=True))
        if resource is None:
            resource = _resource_of(target)
        signature = sign_v1(env.handle.access_key_secret, method, resource, all_headers)
        all_headers["Authorization"] = f"OSS {env.handle.access_key_id}:{signature}"
    parts = urlsplit(env.endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in all_headers.items():
            conn.putheader(name, value)
        if (
            body is not None
            and "Content-Length" not in all_headers
            and "Transfer-Encoding" not in all_headers
        ):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return RawResponse(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def _resource_of(target: str) -> str:

    path, _, query = target.partition("?")
    bucket, _, key = path[1:].partition("/")
    resource = f"/{unquote(bucket)}/{unquote(key)}" if bucket else "/"
    params = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        if name in _SIGNED_PARAMS:
            params.append((name, unquote(value)))
    if params:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sorted(params))
    return resource
