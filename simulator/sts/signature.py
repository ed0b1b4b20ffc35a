"""The RPC (POP) signature, version 1.0 with HMAC-SHA1, as aliyunsdkcore computes it.

``StringToSign = METHOD & percent("/") & percent(canonical query)``, where the canonical query
is every parameter except ``Signature``, sorted by name, each name and value percent-encoded
(RFC 3986: only ``A-Za-z0-9-_.~`` stay literal, a space is ``%20``). The key is the secret
followed by ``&``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the POP gateway uses it."""
    return urllib.parse.quote(value.encode("utf-8"), safe="~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """Build the string the signature covers.

    Args:
        method: the HTTP method actually used (``GET`` or ``POST``).
        params: all request parameters (query and form body), decoded.

    Returns:
        The string to sign; it contains no raw ``:``.
    """
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(secret: str, text: str) -> str:
    """Base64 HMAC-SHA1 of ``text`` keyed with ``secret + "&"``."""
    digest = hmac.new(f"{secret}&".encode(), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str, text: str, signature: str) -> bool:
    """Constant-time check of a provided signature."""
    return hmac.compare_digest(sign(secret, text).encode(), signature.encode())
