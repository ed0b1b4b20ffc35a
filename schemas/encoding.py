"""Unpadded base64url, the only base64 flavour on the wire.

Decoding is strict: padding, characters outside ``A-Z a-z 0-9 - _``, impossible lengths and
non-canonical trailing bits are all rejected, so every byte string has exactly one text form
(a signature or nonce cannot be re-spelled to dodge replay memory).
"""

from __future__ import annotations

import base64
import binascii
import re

from schemas.errors import InvalidMessage

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url.

    Args:
        data: the bytes to encode.

    Returns:
        The text form, without ``=`` padding.
    """
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url strictly.

    Args:
        text: the encoded form.

    Returns:
        The decoded bytes.

    Raises:
        InvalidMessage: ``text`` is not a string, has padding or characters outside the
            base64url alphabet, has an impossible length, or is not the canonical encoding.
    """
    if not isinstance(text, str):
        raise InvalidMessage("base64url value must be a string")
    if _B64URL_RE.fullmatch(text) is None:
        raise InvalidMessage("base64url value has padding or characters outside the alphabet")
    if len(text) % 4 == 1:
        raise InvalidMessage("base64url value has an impossible length")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidMessage("base64url value does not decode") from None
    if b64url_encode(data) != text:
        raise InvalidMessage("base64url value is not in canonical form")
    return data
