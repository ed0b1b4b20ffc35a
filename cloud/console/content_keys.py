"""HLS content keys held by the console: sealed at rest, served to signed-in operators.

Cameras that encrypt their HLS segments send each AES-128 key in an ``hls.key`` event,
sealed to the device's ``seal_key`` (see ``docs/protocol.md``). The ingest opens it and
hands it to :class:`ContentKeys`, which stores it in the ledger sealed again, this time with
AES-256-GCM under a key derived from the registry's master key (the same master key that
protects device secrets), with the device id and key id as associated data. A ledger file
alone therefore reveals no content key, and a sealed key copied onto another row does not
open.

A key id is written once: the same key again is a duplicate, a different key under a known
id is refused, so a key that players already used never changes.
"""

from __future__ import annotations

import hmac
import logging
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloud.console.errors import ConsoleError, NotFoundError
from cloud.console.ledger import Ledger
from cloud.registry import MasterKey

__all__ = ["ContentKeyError", "ContentKeyNotFoundError", "ContentKeys", "KeySealer"]

log = logging.getLogger(__name__)

KEY_BYTES = 16
_NONCE_BYTES = 12
_LABEL = b"console/hls-content-keys/v1"
_AAD_PREFIX = b"ossmedia/console/content-key/v1\n"


class ContentKeyError(ConsoleError):
    """A stored content key cannot be opened, or a key id was sent with a different key.

    Attributes:
        device_id: the camera.
        key_id: the key's id (never the key).
    """

    def __init__(self, device_id: str, key_id: str, message: str) -> None:
        super().__init__(f"content key {device_id}/{key_id}: {message}")
        self.device_id = device_id
        self.key_id = key_id


class ContentKeyNotFoundError(NotFoundError):
    """No content key with this id is held for this camera (HTTP 404)."""

    def __init__(self, device_id: str, key_id: str) -> None:
        super().__init__(f"no content key {device_id}/{key_id}")
        self.device_id = device_id
        self.key_id = key_id


def _aad(device_id: str, key_id: str) -> bytes:
    return _AAD_PREFIX + device_id.encode("ascii") + b"\n" + key_id.encode("ascii")


class KeySealer:
    """AES-256-GCM for content keys at rest, bound to their device id and key id.

    Args:
        key: 32 bytes; use :meth:`from_master_key` in production.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the at-rest key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_master_key(cls, master: MasterKey) -> KeySealer:
        """The sealer whose key is derived from the registry's master key."""
        return cls(master.derive(_LABEL))

    @classmethod
    def ephemeral(cls) -> KeySealer:
        """A sealer with a random key: what it sealed cannot be opened after a restart."""
        return cls(os.urandom(32))

    def __repr__(self) -> str:
        return "KeySealer(<hidden>)"

    def seal(self, device_id: str, key_id: str, key: bytes) -> bytes:
        """Return ``nonce || ciphertext || tag`` for storage."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, _aad(device_id, key_id))

    def open(self, device_id: str, key_id: str, sealed: bytes) -> bytes:
        """Open a stored key.

        Raises:
            ContentKeyError: wrong master key, tampered row, or a row moved to another id.
        """
        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(device_id, key_id)
            )
        except (InvalidTag, ValueError):
            raise ContentKeyError(device_id, key_id, "stored key does not open") from None


class ContentKeys:
    """The console's content keys, in the ledger, sealed by a :class:`KeySealer`.

    Args:
        ledger: where the sealed keys live.
        sealer: at-rest protection.
    """

    def __init__(self, ledger: Ledger, sealer: KeySealer) -> None:
        self._ledger = ledger
        self._sealer = sealer

    def __repr__(self) -> str:
        return "ContentKeys()"

    def put(self, device_id: str, key_id: str, key: bytes, *, created_ms: int, now_ms: int) -> bool:
        """Keep a key delivered by a camera.

        Returns:
            True when it is new; False when the same key is already held under this id.

        Raises:
            ContentKeyError: the id is held with a different key (or the held one does not
                open), or ``key`` is not 16 bytes.
        """
        if len(key) != KEY_BYTES:
            raise ContentKeyError(device_id, key_id, "a content key has 16 bytes")
        sealed = self._sealer.seal(device_id, key_id, key)
        if self._ledger.add_content_key(
            device_id, key_id, sealed, created_ms=created_ms, now_ms=now_ms
        ):
            return True
        if hmac.compare_digest(self.get(device_id, key_id), key):
            return False
        raise ContentKeyError(device_id, key_id, "already held with a different key")

    def get(self, device_id: str, key_id: str) -> bytes:
        """The 16 key bytes.

        Raises:
            ContentKeyNotFoundError: no such key.
            ContentKeyError: the stored key does not open (for example the master key changed).
        """
        sealed = self._ledger.content_key(device_id, key_id)
        if sealed is None:
            raise ContentKeyNotFoundError(device_id, key_id)
        return self._sealer.open(device_id, key_id, sealed)
