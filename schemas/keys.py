"""Device secrets and the two keys derived from them.

Each device holds one 32-byte random secret. Neither side uses it directly: a signing key
and a sealing key are derived with HMAC-SHA256 under fixed labels, so a bug that leaks one
purpose's key does not hand over the other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from schemas.encoding import b64url_decode, b64url_encode
from schemas.errors import InvalidKey, InvalidMessage

SECRET_BYTES = 32
KEY_BYTES = 32
SIGN_LABEL = b"ossmedia/v1/sign"
SEAL_LABEL = b"ossmedia/v1/seal"


@dataclass(frozen=True)
class DeviceKeys:
    """The keys of one device: ``sign_key`` for HMAC signatures, ``seal_key`` for AES-256-GCM.

    The repr shows neither key.

    Attributes:
        sign_key: 32 bytes, ``HMAC-SHA256(secret, b"ossmedia/v1/sign")``.
        seal_key: 32 bytes, ``HMAC-SHA256(secret, b"ossmedia/v1/seal")``.
    """

    sign_key: bytes = field(repr=False)
    seal_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("sign_key", "seal_key"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != KEY_BYTES:
                raise InvalidKey(f"{name} must be {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return "DeviceKeys(<hidden>)"

    @classmethod
    def from_secret(cls, secret_b64: str) -> DeviceKeys:
        """Derive a device's keys from its secret.

        Args:
            secret_b64: the 32-byte device secret as unpadded base64url.

        Returns:
            The derived keys.

        Raises:
            InvalidKey: the secret is not 32 bytes of strict unpadded base64url.
        """
        try:
            secret = b64url_decode(secret_b64)
        except InvalidMessage:
            raise InvalidKey("device secret is not unpadded base64url") from None
        if len(secret) != SECRET_BYTES:
            raise InvalidKey(f"device secret must be {SECRET_BYTES} bytes")
        return cls(
            sign_key=hmac.new(secret, SIGN_LABEL, hashlib.sha256).digest(),
            seal_key=hmac.new(secret, SEAL_LABEL, hashlib.sha256).digest(),
        )


def new_device_secret() -> str:
    """Return a fresh device secret: 32 random bytes as unpadded base64url (43 characters)."""
    return b64url_encode(secrets.token_bytes(SECRET_BYTES))
