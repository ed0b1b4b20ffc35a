"""AES-128 segment encryption and the hand-over of content keys.

HLS "AES-128" encrypts each whole segment with AES-128-CBC and PKCS#7 padding. The IV of a
segment is its media sequence number as a 128-bit big-endian integer (the protocol's
default when ``EXT-X-KEY`` has no IV attribute), so a player can compute it.

Keys never travel with the media: :class:`HlsStream` hands every new key to a
:class:`KeyDelivery` *before* any segment encrypted with it is stored, and the playlist
points players at the console (``/api/keys/{device_id}/{key_id}``), which serves the key to
signed-in viewers only. The bucket holds ciphertext and playlists, nothing that unlocks them.

The cipher itself is :mod:`device.hls.aescbc` (the interpreter's libcrypto, so a camera
needs no ``cryptography`` wheel).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from device.hls import aescbc
from device.hls.errors import KeyDeliveryError

__all__ = [
    "KEY_SIZE",
    "ContentKey",
    "InMemoryKeyDelivery",
    "KeyDelivery",
    "decrypt_segment",
    "encrypt_segment",
    "iv_for_sequence",
    "new_content_key",
]

KEY_SIZE = 16


@dataclass(frozen=True)
class ContentKey:
    """One AES-128 content key of one device's stream.

    Attributes:
        device_id: the camera the key belongs to.
        key_id: a random, non-secret identifier (32 hex digits) used in key URIs.
        key: the 16 key bytes; left out of ``repr`` so they never reach a log.
        first_sequence: the media sequence number of the first segment it encrypts.
    """

    device_id: str
    key_id: str
    key: bytes = field(repr=False)
    first_sequence: int

    def __post_init__(self) -> None:
        if len(self.key) != KEY_SIZE:
            raise ValueError("an AES-128 key has 16 bytes")


def new_content_key(
    device_id: str, first_sequence: int, random_bytes: Callable[[int], bytes]
) -> ContentKey:
    """Draw a fresh key and key id.

    Args:
        device_id: the camera's id.
        first_sequence: the first segment the key will encrypt.
        random_bytes: a cryptographically secure source such as ``os.urandom``.
    """
    return ContentKey(
        device_id=device_id,
        key_id=random_bytes(16).hex(),
        key=random_bytes(KEY_SIZE),
        first_sequence=first_sequence,
    )


@runtime_checkable
class KeyDelivery(Protocol):
    """Where content keys go: the console (which serves them to authorised players).

    ``deliver`` must return only once the key is safely held by the receiver; the stream
    stores no segment encrypted with a key whose delivery did not return.
    """

    def deliver(self, key: ContentKey) -> None:
        """Hand over ``key``.

        Raises:
            KeyDeliveryError: the key could not be delivered (any other ``DeviceError``
                is treated the same way).
        """
        ...


class InMemoryKeyDelivery:
    """A :class:`KeyDelivery` that keeps keys in a dictionary (tests, single-process demos).

    Args:
        fail: when true, every delivery fails (to exercise the failure path).
    """

    def __init__(self, *, fail: bool = False) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], ContentKey] = {}
        self.fail = fail

    def deliver(self, key: ContentKey) -> None:
        """Store ``key`` (or fail, when told to)."""
        if self.fail:
            raise KeyDeliveryError("key receiver unavailable", key_id=key.key_id)
        with self._lock:
            self._keys[(key.device_id, key.key_id)] = key

    def lookup(self, device_id: str, key_id: str) -> bytes:
        """Return the key bytes, as the console's key endpoint would.

        Raises:
            KeyError: no such key was delivered.
        """
        with self._lock:
            return self._keys[(device_id, key_id)].key

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def __repr__(self) -> str:
        return f"InMemoryKeyDelivery(keys={len(self)})"


def iv_for_sequence(sequence: int) -> bytes:
    """Return the default IV of a segment: its media sequence number, 128-bit big-endian."""
    return sequence.to_bytes(16, "big")


def encrypt_segment(data: bytes, key: bytes, iv: bytes) -> bytes:
    """Encrypt a whole segment with AES-128-CBC and PKCS#7 padding (:mod:`.aescbc`)."""
    return aescbc.backend.encrypt(key, iv, data)


def decrypt_segment(data: bytes, key: bytes, iv: bytes) -> bytes:
    """Decrypt a segment produced by :func:`encrypt_segment` (for consoles and tests).

    Raises:
        ValueError: the padding is wrong (wrong key or IV, or damaged data).
    """
    return aescbc.backend.decrypt(key, iv, data)
