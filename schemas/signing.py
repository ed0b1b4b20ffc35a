"""HMAC-SHA256 signatures over canonical strings, as unpadded base64url."""

from __future__ import annotations

import hmac

from schemas.encoding import b64url_encode
from schemas.errors import InvalidKey, InvalidMessage

SIG_BYTES = 32


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != 32:
        raise InvalidKey("sign key must be 32 bytes")


def _mac(key: bytes, canonical: str) -> bytes:
    _check_key(key)
    if not isinstance(canonical, str):
        raise InvalidMessage("canonical string must be a str")
    return hmac.digest(key, canonical.encode("utf-8"), "sha256")


def sign(key: bytes, canonical: str) -> str:
    """Sign a canonical string.

    Args:
        key: the device's 32-byte sign key.
        canonical: the canonical string (encoded as UTF-8 before hashing).

    Returns:
        The HMAC-SHA256 tag as unpadded base64url (43 characters).

    Raises:
        InvalidKey: ``key`` is not 32 bytes.
    """
    return b64url_encode(_mac(key, canonical))


def verify(key: bytes, canonical: str, sig: str) -> bool:
    """Check a signature in constant time.

    Args:
        key: the device's 32-byte sign key.
        canonical: the canonical string the signature should cover.
        sig: the received signature; anything malformed simply fails.

    Returns:
        True only when ``sig`` is the exact signature of ``canonical`` under ``key``.

    Raises:
        InvalidKey: ``key`` is not 32 bytes.
    """
    expected = b64url_encode(_mac(key, canonical)).encode("ascii")
    if not isinstance(sig, str):
        return False
    # Unpadded base64url has exactly one text form per byte string (decoding refuses every
    # other spelling), so comparing the texts compares the tags, without decoding ``sig``.
    return hmac.compare_digest(expected, sig.encode("utf-8", "surrogatepass"))
