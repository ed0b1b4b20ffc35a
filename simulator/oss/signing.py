"""The strings OSS signs: V1 and V2 StringToSign and V4 canonical request, built from a received request.

They are the same for every addressing style: the resource is always ``/<bucket>/<key>``
(decoded for V1, URI-encoded with ``/`` kept for V4), ``/<bucket>/`` for bucket operations and
``/`` for the service. Header values are used as received (latin-1 round trip keeps the bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from simulator.oss.requests import OssRequest
from simulator.oss.subresources import SUBRESOURCES
from simulator.oss.urls import Target

V4_ALGORITHM = "OSS4-HMAC-SHA256"
V2_SCHEME = "OSS2"
# V2 percent-encodes every octet but these (and so encodes "/" too).
_V2_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-~.")


def v2_encode(text: str) -> str:
    """V2's URI encoding: every UTF-8 octet but ``A-Z a-z 0-9 _ - ~ .`` as ``%XX``."""
    return "".join(
        chr(b) if b in _V2_SAFE else f"%{b:02X}" for b in text.encode("utf-8", "surrogatepass")
    )


def v2_string_to_sign(
    req: OssRequest,
    target: Target,
    date_line: str,
    additional: Sequence[str],
    *,
    exclude_param: str | None,
) -> bytes:
    """Build the V2 StringToSign (HMAC-SHA256 signed) of a request.

    Unlike V1 it signs every query parameter (not just sub-resources), URI-encodes the resource
    including its slashes, and adds the extra signed header names on a line of their own.

    Args:
        req: the request.
        target: the addressed bucket/key.
        date_line: the Date header, or the presigned URL's ``x-oss-expires``.
        additional: lower-case names of extra signed headers (not ``x-oss-*``).
        exclude_param: a query parameter left out (the signature itself, for presigned URLs).
    """
    headers = req.headers
    extra = set(additional)
    signed = sorted((k, v) for k, v in headers.items() if k.startswith("x-oss-") or k in extra)
    canonical = "".join(f"{k}:{v}\n" for k, v in signed)
    resource = v2_encode("/" if target.bucket is None else f"/{target.bucket}/{target.key or ''}")
    params = sorted((v2_encode(k), v2_encode(v)) for k, v in req.query_items if k != exclude_param)
    if params:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in params)
    text = "\n".join(
        [
            req.method,
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            date_line,
            canonical + ";".join(sorted(extra)),
            resource,
        ]
    )
    # Header values arrive latin-1 decoded (their bytes round-trip); the resource is ASCII.
    return text.encode("latin-1")


def parse_v2_authorization(value: str) -> dict[str, str]:
    """Split ``OSS2 AccessKeyId:...,AdditionalHeaders:...,Signature:...`` into its fields."""
    fields: dict[str, str] = {}
    for part in value[len(V2_SCHEME) :].split(","):
        name, sep, item = part.strip().partition(":")
        if sep:
            fields[name] = item.strip()
    return fields


def v1_string_to_sign(req: OssRequest, target: Target, date_line: str) -> bytes:
    """Build the V1 StringToSign of a request (header or presigned URL).

    Args:
        req: the request.
        target: the addressed bucket/key (the resource is the same for every addressing style).
        date_line: the Date header, x-oss-date, or the presigned ``Expires`` value.

    Returns:
        The bytes that were HMAC-SHA1 signed.
    """
    headers = req.headers
    lines = [
        req.method.encode("latin-1"),
        headers.get("content-md5", "").encode("latin-1"),
        headers.get("content-type", "").encode("latin-1"),
        date_line.encode("latin-1"),
    ]
    oss_headers = sorted((k, v) for k, v in headers.items() if k.startswith("x-oss-"))
    canonical = b"".join(f"{k}:{v}\n".encode("latin-1") for k, v in oss_headers)
    resource = "/" if target.bucket is None else f"/{target.bucket}/{target.key or ''}"
    subresources = sorted((k, v) for k, v in req.query_items if k in SUBRESOURCES)
    if subresources:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subresources)
    lines.append(canonical + resource.encode("utf-8"))
    return b"\n".join(lines)


def v4_canonical_request(
    req: OssRequest,
    target: Target,
    additional: Sequence[str],
    *,
    exclude_param: str | None,
    payload_hash: str,
) -> bytes:
    """Build the V4 canonical request (what the StringToSign hashes).

    Args:
        req: the request.
        target: the addressed bucket/key.
        additional: lower-case names of extra signed headers.
        exclude_param: a query parameter left out (the signature itself, for presigned URLs).
        payload_hash: the hashed-payload line (always UNSIGNED-PAYLOAD here).

    Returns:
        The canonical request bytes.
    """
    uri = "/" if target.bucket is None else quote(f"/{target.bucket}/{target.key or ''}", safe="/")
    params = sorted(
        (quote(k, safe=""), quote(v, safe="")) for k, v in req.query_items if k != exclude_param
    )
    query = "&".join(f"{k}={v}" if v else k for k, v in params)
    extra = set(additional)
    signed = sorted(
        (k, v)
        for k, v in req.headers.items()
        if k.startswith("x-oss-") or k == "content-type" or k == "content-md5" or k in extra
    )
    headers = b"".join(f"{k}:{v}\n".encode("latin-1") for k, v in signed)
    return b"".join(
        [
            f"{req.method}\n{uri}\n{query}\n".encode(),
            headers,
            f"\n{';'.join(sorted(extra))}\n{payload_hash}".encode("latin-1"),
        ]
    )


def parse_v4_authorization(value: str) -> dict[str, str]:
    """Split ``OSS4-HMAC-SHA256 Credential=..., Signature=..., AdditionalHeaders=...`` (any order)."""
    fields: dict[str, str] = {}
    for part in value[len(V4_ALGORITHM) :].split(","):
        name, sep, item = part.strip().partition("=")
        if sep:
            fields[name] = item.strip()
    return fields


def split_additional(value: str) -> list[str]:
    """The extra signed header names (``a;b``), minus those V4 always signs."""
    names = [name.strip().lower() for name in value.split(";") if name.strip()]
    return [
        n for n in names if not n.startswith("x-oss-") and n not in ("content-type", "content-md5")
    ]
