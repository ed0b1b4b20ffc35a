"""Device secrets at rest: AES-256-GCM under a master key kept outside the registry.

Each secret is sealed with the device id and its secret version as associated data, so a
ciphertext copied onto another row (or an older version) does not open. A registry file or
Redis dump alone therefore reveals nothing; the master key comes from ``OSSMEDIA_MASTER_KEY``
or a file, read by the entry point.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloud.errors import ConfigError, SecretDecryptError

_AAD_PREFIX = b"ossmedia/registry/v1\n"
_NONCE_BYTES = 12
_KEY_BYTES = 32


def new_master_key() -> str:
    """Generate a master key as unpadded base64url (32 random bytes)."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).rstrip(b"=").decode()


def _aad(device_id: str, version: int) -> bytes:
    return _AAD_PREFIX + device_id.encode() + b"\n" + str(version).encode()


class MasterKey:
    """Seals and opens device secrets.

    Args:
        key: the 32 raw key bytes.

    Raises:
        ConfigError: the key is not 32 bytes.
    """

    __slots__ = ("_aead", "_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ConfigError("the master key must be 32 bytes (unpadded base64url)")
        self._aead = AESGCM(key)
        self._key = key

    def __repr__(self) -> str:
        return "MasterKey(<hidden>)"

    @classmethod
    def from_text(cls, text: str, *, source: str = "master key") -> MasterKey:
        """Build from the base64url text form (padding optional).

        Raises:
            ConfigError: not base64url, or not 32 bytes.
        """
        raw = text.strip()
        try:
            key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            raise ConfigError("the master key is not base64url", source=source) from None
        if len(key) != _KEY_BYTES:
            raise ConfigError("the master key must decode to 32 bytes", source=source)
        return cls(key)

    def derive(self, label: bytes) -> bytes:
        """A 32-byte key for another purpose (HMAC-SHA256 of ``label`` under the master key)."""
        return hmac.new(self._key, b"ossmedia/derive/" + label, hashlib.sha256).digest()

    def check_value(self) -> bytes:
        """The key's check value: stored in the registry, it tells a wrong key at once.

        It is an HMAC of a fixed label under the key, so it reveals nothing about the key and
        opens no secret.
        """
        return self.derive(b"registry-key-check")

    def seal(self, device_id: str, version: int, secret: str) -> bytes:
        """Encrypt a device secret for storage.

        Args:
            device_id: the device the secret belongs to.
            version: the device's secret version.
            secret: the secret's text form.

        Returns:
            ``nonce || ciphertext+tag``.
        """
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), _aad(device_id, version))

    def open(self, device_id: str, version: int, sealed: bytes) -> str:
        """Decrypt a stored device secret.

        Raises:
            SecretDecryptError: wrong master key, tampered data, or a row that was moved.
        """
        try:
            plain = self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(device_id, version)
            )
        except (InvalidTag, ValueError):
            raise SecretDecryptError(device_id) from None
        return plain.decode()
