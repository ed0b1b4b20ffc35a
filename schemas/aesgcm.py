"""AES-256-GCM for sealed payloads, through the OpenSSL that Python itself already loaded.

``hashlib`` and ``ssl`` run on OpenSSL's libcrypto, so every process that speaks MQTT over TLS
or hashes has that library mapped already. Calling its EVP interface through ``ctypes`` costs
a camera no extra memory, where the ``cryptography`` package maps a second copy of OpenSSL
(about 8 MB resident), and it needs no Rust-built wheel on the camera's architecture.

The library is found through the ``_hashlib`` extension module (the exact copy Python uses),
and a known-answer test must pass before it is used. Where either step fails, the
``cryptography`` package does the same work. Both backends produce ``ciphertext || tag`` and
are tested against each other.
"""

from __future__ import annotations

import ctypes
from typing import Protocol

from schemas import libcrypto
from schemas.errors import SealError

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "Backend",
    "backend",
    "cryptography_backend",
    "libcrypto_backend",
]

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_EVP_CTRL_GCM_GET_TAG = 0x10
_EVP_CTRL_GCM_SET_TAG = 0x11
_MAX_INPUT = 2**31 - 1 - TAG_BYTES  # EVP lengths are C ints
_CTRL: dict[str, libcrypto.Signature] = {
    "EVP_CIPHER_CTX_ctrl": (
        libcrypto.INT,
        [libcrypto.POINTER, libcrypto.INT, libcrypto.INT, libcrypto.POINTER],
    ),
}


class Backend(Protocol):
    """One implementation of AES-256-GCM with a 12-byte nonce and a 16-byte tag."""

    name: str

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Return ``ciphertext || tag``."""
        ...

    def decrypt(self, key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        """Return the plaintext of ``ciphertext || tag``.

        Raises:
            SealError: the tag does not authenticate the ciphertext and ``aad`` under ``key``.
        """
        ...


class _Libcrypto:
    """AES-256-GCM through libcrypto's EVP interface; one cipher context per call."""

    name = "libcrypto"

    def __init__(self, lib: ctypes.CDLL, cipher: int) -> None:
        self._lib = lib
        self._cipher = cipher

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        _check(key, nonce, plaintext, aad)
        tag = ctypes.create_string_buffer(TAG_BYTES)
        ciphertext = self._run(True, key, nonce, plaintext, aad, tag)
        if ciphertext is None:
            raise OSError("libcrypto failed to encrypt with AES-256-GCM")
        return ciphertext + tag.raw

    def decrypt(self, key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        _check(key, nonce, data, aad)
        if len(data) < TAG_BYTES:
            raise SealError("sealed value is too short")
        size = len(data) - TAG_BYTES
        tag = ctypes.create_string_buffer(data[size:], TAG_BYTES)
        plaintext = self._run(False, key, nonce, data[:size], aad, tag)
        if plaintext is None:
            raise SealError("sealed value failed authentication (tampered or wrong key)")
        return plaintext

    def _run(
        self,
        encrypting: bool,
        key: bytes,
        nonce: bytes,
        data: bytes,
        aad: bytes,
        tag: ctypes.Array[ctypes.c_char],
    ) -> bytes | None:
        """One GCM pass over ``data``; ``tag`` receives the tag (encrypting) or is checked.

        Returns None when a step fails, which when decrypting means the tag did not match.
        GCM is a stream mode: each update writes as many bytes as it reads, the final step
        none, so one output buffer the size of ``data`` is enough.
        """
        lib = self._lib
        out = ctypes.create_string_buffer(max(len(data), 1))
        written = ctypes.c_int(0)
        ctx = libcrypto.new_context(lib)
        try:
            ok = lib.EVP_CipherInit_ex(ctx, self._cipher, None, key, nonce, int(encrypting)) == 1
            if ok and aad:
                ok = lib.EVP_CipherUpdate(ctx, None, written, aad, len(aad)) == 1
            ok = ok and lib.EVP_CipherUpdate(ctx, out, written, data, len(data)) == 1
            if ok and not encrypting:
                ok = lib.EVP_CIPHER_CTX_ctrl(ctx, _EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) == 1
            ok = ok and lib.EVP_CipherFinal_ex(ctx, out, written) == 1
            if ok and encrypting:
                ok = lib.EVP_CIPHER_CTX_ctrl(ctx, _EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tag) == 1
        finally:
            lib.EVP_CIPHER_CTX_free(ctx)
        return out.raw[: len(data)] if ok else None


def _check(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> None:
    # ctypes would pass a str or a short buffer through to C; refuse them here.
    if not (isinstance(key, bytes) and len(key) == KEY_BYTES):
        raise ValueError(f"AES-256-GCM needs a {KEY_BYTES}-byte key")
    if not (isinstance(nonce, bytes) and len(nonce) == NONCE_BYTES):
        raise ValueError(f"AES-256-GCM needs a {NONCE_BYTES}-byte nonce")
    if not (isinstance(data, bytes) and isinstance(aad, bytes)):
        raise TypeError("AES-256-GCM works on bytes")
    if len(data) > _MAX_INPUT or len(aad) > _MAX_INPUT:
        raise ValueError("input too large for one AES-256-GCM call")


class _Cryptography:
    """AES-256-GCM through the ``cryptography`` package, imported only when chosen."""

    name = "cryptography"

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        _check(key, nonce, plaintext, aad)
        return AESGCM(key).encrypt(nonce, plaintext, aad)

    def decrypt(self, key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        _check(key, nonce, data, aad)
        if len(data) < TAG_BYTES:
            raise SealError("sealed value is too short")
        try:
            return AESGCM(key).decrypt(nonce, data, aad)
        except InvalidTag:
            raise SealError("sealed value failed authentication (tampered or wrong key)") from None


# A known answer (key, nonce, plaintext and aad below; result from an independent
# implementation): a library that loads but computes something else is not used.
_KAT_KEY = bytes(range(32))
_KAT_NONCE = bytes(range(12))
_KAT_PLAINTEXT = b"ossmedia sealed payload"
_KAT_AAD = b"ossmedia/v1"
_KAT_RESULT = bytes.fromhex(
    "2871a576a081ab7aad32f2eadd8c1c4df3b7fe589f1a3be11c44a0621585bea5a6d9c15d13f778"
)


def libcrypto_backend() -> Backend | None:
    """The libcrypto backend, or None where Python's libcrypto cannot be used."""
    try:
        backend = _Libcrypto(*libcrypto.load("EVP_aes_256_gcm", "AES-256-GCM", _CTRL))
        result = backend.encrypt(_KAT_KEY, _KAT_NONCE, _KAT_PLAINTEXT, _KAT_AAD)
        opened = backend.decrypt(_KAT_KEY, _KAT_NONCE, result, _KAT_AAD)
    except (ImportError, OSError, AttributeError, SealError):
        return None
    if result != _KAT_RESULT or opened != _KAT_PLAINTEXT:
        return None
    return backend


def cryptography_backend() -> Backend:
    """The ``cryptography`` package's backend."""
    return _Cryptography()


backend: Backend = libcrypto_backend() or cryptography_backend()
"""The backend this process uses: libcrypto where it passes its known-answer test."""
