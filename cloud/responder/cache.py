"""Credential cache: reuse minted credentials while enough of their lifetime remains.

Entries live in the shared :class:`~cloud.state.BlobState` (process memory, or Redis so that
several responders share them), encrypted with AES-256-GCM under a key derived from the
registry master key: a Redis dump does not reveal usable credentials. Within one process,
concurrent requests for the same device and access share one STS call (single flight).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloud.responder.singleflight import SingleFlight
from cloud.responder.sts import CredentialMinter, StsCredentials
from cloud.state.protocols import BlobState

_MAX_LOCAL = 100_000


@functools.lru_cache(maxsize=65536)
def _policy_digest(policy: str) -> str:
    # Each device's policy is the same document request after request.
    return hashlib.sha256(policy.encode()).hexdigest()[:16]


class CacheObserver(Protocol):
    """Told how each credential lookup was served (metrics)."""

    def credential_source(self, source: str) -> None:
        """``source`` is ``hit``, ``miss`` (an STS call) or ``coalesced``."""


@dataclass(frozen=True)
class Issued:
    """Credentials for one request and where they came from (``hit``, ``miss``, ``coalesced``)."""

    credentials: StsCredentials
    source: str


class CredentialCache:
    """Serve credentials from the cache, minting through STS when needed.

    Args:
        minter: mints credentials (STS).
        blobs: where cached entries live.
        cache_key: 32 bytes that encrypt cached entries.
        reuse_threshold: reuse an entry while at least this share of its lifetime remains.
        clock_ms: wall clock in milliseconds.
        observer: told how each lookup was served; optional.
    """

    def __init__(
        self,
        minter: CredentialMinter,
        blobs: BlobState,
        *,
        cache_key: bytes,
        reuse_threshold: float,
        clock_ms: Callable[[], int],
        observer: CacheObserver | None = None,
    ) -> None:
        self._minter = minter
        self._blobs = blobs
        self._aead = AESGCM(cache_key)
        self._threshold = reuse_threshold
        self._clock_ms = clock_ms
        self._observer = observer
        self._flight: SingleFlight[StsCredentials] = SingleFlight()
        # Decoded entries of this process, in front of the shared (encrypted) store.
        self._local: dict[str, tuple[StsCredentials, int]] = {}
        self._local_lock = threading.Lock()

    @staticmethod
    def key(device_id: str, access: str, policy: str) -> str:
        """The cache key: the device, the access and the exact policy the entry was minted with."""
        return f"creds:{device_id}:{access}:{_policy_digest(policy)}"

    def _encode(self, key: str, creds: StsCredentials, issued_ms: int) -> bytes:
        plain = json.dumps(
            {
                "id": creds.access_key_id,
                "secret": creds.access_key_secret,
                "token": creds.security_token,
                "exp": creds.expiration_ms,
                "issued": issued_ms,
            }
        ).encode()
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plain, key.encode())

    def _decode(self, key: str, blob: bytes) -> tuple[StsCredentials, int] | None:
        try:
            doc = json.loads(self._aead.decrypt(blob[:12], blob[12:], key.encode()))
            creds = StsCredentials(
                access_key_id=doc["id"],
                access_key_secret=doc["secret"],
                security_token=doc["token"],
                expiration_ms=int(doc["exp"]),
            )
            return creds, int(doc["issued"])
        except (InvalidTag, ValueError, KeyError, TypeError):
            return None  # written under another master key, or corrupt: mint afresh

    def _reusable(self, creds: StsCredentials, issued_ms: int, now_ms: int) -> bool:
        lifetime = creds.expiration_ms - issued_ms
        remaining = creds.expiration_ms - now_ms
        return remaining > 0 and remaining >= self._threshold * lifetime

    def _lookup(self, key: str) -> StsCredentials | None:
        now = self._clock_ms()
        with self._local_lock:
            local = self._local.get(key)
        if local is not None:
            if self._reusable(local[0], local[1], now):
                return local[0]
            with self._local_lock:
                self._local.pop(key, None)
        blob = self._blobs.get(key, now_ms=now)
        if blob is None:
            return None
        decoded = self._decode(key, blob)
        if decoded is None or not self._reusable(decoded[0], decoded[1], now):
            return None
        self._remember(key, decoded[0], decoded[1])
        return decoded[0]

    def _remember(self, key: str, creds: StsCredentials, issued_ms: int) -> None:
        with self._local_lock:
            if len(self._local) >= _MAX_LOCAL:
                self._local.clear()
            self._local[key] = (creds, issued_ms)

    def _mint(self, key: str, device_id: str, policy: str, duration_s: int) -> StsCredentials:
        # Another flight may have filled the cache between our miss and taking the lead.
        cached = self._lookup(key)
        if cached is not None:
            return cached
        issued = self._clock_ms()
        creds = self._minter.assume_role(
            session_name=device_id, policy=policy, duration_s=duration_s
        )
        reuse_until = creds.expiration_ms - int(self._threshold * (creds.expiration_ms - issued))
        ttl = reuse_until - self._clock_ms()
        if ttl > 0:
            self._blobs.put(
                key, self._encode(key, creds, issued), now_ms=self._clock_ms(), ttl_ms=ttl
            )
            self._remember(key, creds, issued)
        return creds

    def get(self, *, device_id: str, access: str, policy: str, duration_s: int) -> Issued:
        """Credentials for ``device_id`` under ``policy``.

        Args:
            device_id: the device (also the RoleSessionName).
            access: the access mode (part of the cache key).
            policy: the session policy (part of the cache key).
            duration_s: the lifetime to ask STS for on a miss.

        Returns:
            The credentials and how they were obtained.

        Raises:
            StsError: a miss that STS could not serve.
            StateError: the shared state failed.
        """
        key = self.key(device_id, access, policy)
        cached = self._lookup(key)
        if cached is not None:
            self._note("hit")
            return Issued(cached, "hit")
        creds, shared = self._flight.do(key, lambda: self._mint(key, device_id, policy, duration_s))
        source = "coalesced" if shared else "miss"
        self._note(source)
        return Issued(creds, source)

    def peek(self, *, device_id: str, access: str, policy: str) -> Issued | None:
        """Cached credentials if there are any, without ever calling STS.

        Raises:
            StateError: the shared state failed.
        """
        cached = self._lookup(self.key(device_id, access, policy))
        if cached is None:
            return None
        self._note("hit")
        return Issued(cached, "hit")

    def forget(self, device_id: str, access: str, policy: str) -> None:
        """Drop a cached entry (for example after revoking the device)."""
        key = self.key(device_id, access, policy)
        with self._local_lock:
            self._local.pop(key, None)
        self._blobs.delete(key)

    def _note(self, source: str) -> None:
        if self._observer is not None:
            self._observer.credential_source(source)
