"""AES-256-GCM sealing of reply payloads: ``b64url(nonce12 || ciphertext || tag16)``."""

from __future__ import annotations

import os

from schemas import aesgcm
from schemas.encoding import b64url_decode, b64url_encode
from schemas.errors import InvalidKey, InvalidMessage, SealError

NONCE_BYTES = aesgcm.NONCE_BYTES
TAG_BYTES = aesgcm.TAG_BYTES


def _check_key(seal_key: bytes) -> None:
    if not isinstance(seal_key, bytes) or len(seal_key) != aesgcm.KEY_BYTES:
        raise InvalidKey("seal key must be 32 bytes")


def seal(seal_key: bytes, plaintext: bytes, aad: bytes, nonce: bytes | None = None) -> str:
    """Encrypt and authenticate ``plaintext``, binding ``aad``.

    Args:
        seal_key: the device's 32-byte seal key.
        plaintext: the bytes to protect.
        aad: associated data: authenticated, not encrypted, not included in the output.
        nonce: 12 bytes; leave None for a fresh random nonce. Pass one only for fixed test
            vectors: reusing a nonce under one key breaks GCM.

    Returns:
        ``b64url(nonce || ciphertext || tag)``.

    Raises:
        InvalidKey: ``seal_key`` is not 32 bytes.
        InvalidMessage: ``nonce`` is given and not 12 bytes.
    """
    _check_key(seal_key)
    if nonce is None:
        nonce = os.urandom(NONCE_BYTES)
    elif not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise InvalidMessage(f"seal nonce must be {NONCE_BYTES} bytes")
    return b64url_encode(nonce + aesgcm.backend.encrypt(seal_key, nonce, plaintext, aad))


def unseal(seal_key: bytes, sealed: str, aad: bytes) -> bytes:
    """Check and decrypt a sealed blob.

    Args:
        seal_key: the device's 32-byte seal key.
        sealed: ``b64url(nonce || ciphertext || tag)``.
        aad: the associated data the sender bound; any difference fails.

    Returns:
        The plaintext.

    Raises:
        InvalidKey: ``seal_key`` is not 32 bytes.
        SealError: malformed blob, wrong key, or any change to nonce, ciphertext, tag or aad.
    """
    _check_key(seal_key)
    try:
        blob = b64url_decode(sealed)
    except InvalidMessage:
        raise SealError("sealed value is not unpadded base64url") from None
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise SealError("sealed value is too short")
    return aesgcm.backend.decrypt(seal_key, blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
