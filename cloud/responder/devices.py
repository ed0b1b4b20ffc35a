"""Device lookups for the pipeline: the registry row with its keys derived, briefly cached.

Reading the registry, opening the secret and deriving the two keys costs more than the rest
of a cache-hit request together, so each result (including "not provisioned") is kept for
``ttl_ms``. Revocation and rotation therefore take effect within that time; ``ttl_ms = 0``
reads the registry on every request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloud.registry.models import DeviceRecord, KnownDevice
from schemas.encoding import b64url_encode
from schemas.keys import DeviceKeys

_MAX_ENTRIES = 100_000


class DeviceLookup(Protocol):
    """Finds a device and its secret (the registry)."""

    def lookup(self, device_id: str) -> KnownDevice | None:
        """The device, or ``None`` when it is not provisioned."""


@dataclass(frozen=True)
class ResolvedDevice:
    """A provisioned device with its derived keys (never shown in a repr).

    ``sealer`` is the AES-256-GCM cipher under ``keys.seal_key``, built once per lookup
    rather than once per reply.
    """

    record: DeviceRecord
    keys: DeviceKeys = field(repr=False)
    sealer: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sealer", AESGCM(self.keys.seal_key))

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        """Seal a reply payload as protocol v1 does: ``b64url(nonce12 || ciphertext+tag)``."""
        nonce = os.urandom(12)
        return b64url_encode(nonce + self.sealer.encrypt(nonce, plaintext, aad))


class DeviceDirectory:
    """Resolve device ids through the registry, caching results for ``ttl_ms``.

    Args:
        registry: the device lookup.
        ttl_ms: how long a result is reused (0: never).
        clock_ms: a clock in milliseconds.
    """

    def __init__(self, registry: DeviceLookup, *, ttl_ms: int, clock_ms: Callable[[], int]) -> None:
        self._registry = registry
        self._ttl_ms = ttl_ms
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, ResolvedDevice | None]] = {}

    def resolve(self, device_id: str) -> ResolvedDevice | None:
        """The device and its keys, or ``None`` when it is not provisioned.

        Raises:
            RegistryError: the registry failed (including a secret that does not decrypt).
        """
        now = self._clock_ms()
        if self._ttl_ms > 0:
            with self._lock:
                entry = self._entries.get(device_id)
            if entry is not None and entry[0] > now:
                return entry[1]
        device = self._registry.lookup(device_id)
        resolved = (
            None
            if device is None
            else ResolvedDevice(device.record, DeviceKeys.from_secret(device.secret))
        )
        if self._ttl_ms > 0:
            with self._lock:
                if len(self._entries) >= _MAX_ENTRIES:
                    self._entries.clear()
                self._entries[device_id] = (now + self._ttl_ms, resolved)
        return resolved
