"""AES-128-CBC with PKCS#7 padding (HLS "AES-128"), through the OpenSSL Python already loaded.

Like :mod:`schemas.aesgcm`, the cipher runs in libcrypto's EVP interface called through
``ctypes``, found through the ``_hashlib`` extension module (the copy of OpenSSL this
interpreter uses) and accepted only after it reproduces a known answer. A camera therefore
needs no ``cryptography`` wheel, which does not exist for every camera architecture (32-bit
ARM among them). Where libcrypto cannot be used, the ``cryptography`` package does the same
work when it is installed; both backends are tested against each other and against the
NIST SP 800-38A vectors.
"""

from __future__ import annotations

import ctypes
from typing import Protocol

from schemas import libcrypto

__all__ = [
    "BLOCK_BYTES",
    "KEY_BYTES",
    "CbcBackend",
    "backend",
    "cryptography_backend",
    "libcrypto_backend",
]

KEY_BYTES = 16
BLOCK_BYTES = 16
_MAX_INPUT = 2**31 - 1 - BLOCK_BYTES  # EVP lengths are C ints


class CbcBackend(Protocol):
    """One implementation of AES-128-CBC with PKCS#7 padding."""

    name: str

    def encrypt(self, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
        """Pad ``plaintext`` and encrypt it."""
        ...

    def decrypt(self, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        """Decrypt and unpad.

        Raises:
            ValueError: the padding is wrong (wrong key or IV, or damaged data).
        """
        ...


def _check(key: bytes, iv: bytes, data: bytes) -> None:
    # ctypes would pass a str or a short buffer through to C; refuse them here.
    if not (isinstance(key, bytes) and len(key) == KEY_BYTES):
        raise ValueError(f"AES-128-CBC needs a {KEY_BYTES}-byte key")
    if not (isinstance(iv, bytes) and len(iv) == BLOCK_BYTES):
        raise ValueError(f"AES-128-CBC needs a {BLOCK_BYTES}-byte IV")
    if not isinstance(data, bytes):
        raise TypeError("AES-128-CBC works on bytes")
    if len(data) > _MAX_INPUT:
        raise ValueError("input too large for one AES-128-CBC call")


class _Libcrypto:
    """AES-128-CBC through libcrypto's EVP interface; one cipher context per call."""

    name = "libcrypto"

    def __init__(self, lib: ctypes.CDLL, cipher: int) -> None:
        self._lib = lib
        self._cipher = cipher

    def encrypt(self, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
        _check(key, iv, plaintext)
        result = self._run(True, key, iv, plaintext)
        if result is None:
            raise OSError("libcrypto failed to encrypt with AES-128-CBC")
        return result

    def decrypt(self, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        _check(key, iv, ciphertext)
        if not ciphertext or len(ciphertext) % BLOCK_BYTES:
            raise ValueError("AES-128-CBC ciphertext is not a whole number of blocks")
        result = self._run(False, key, iv, ciphertext)
        if result is None:
            raise ValueError("invalid padding (wrong key or IV, or damaged data)")
        return result

    def _run(self, encrypting: bool, key: bytes, iv: bytes, data: bytes) -> bytes | None:
        """One CBC pass with EVP's PKCS#7 padding (on by default); None when a step fails.

        The output is at most one block longer than the input (the padding block), and the
        final step writes after what the update wrote.
        """
        lib = self._lib
        out = ctypes.create_string_buffer(len(data) + BLOCK_BYTES)
        written = ctypes.c_int(0)
        final = ctypes.c_int(0)
        ctx = libcrypto.new_context(lib)
        try:
            ok = lib.EVP_CipherInit_ex(ctx, self._cipher, None, key, iv, int(encrypting)) == 1
            ok = ok and lib.EVP_CipherUpdate(ctx, out, written, data, len(data)) == 1
            if ok:
                tail = ctypes.byref(out, written.value)
                ok = lib.EVP_CipherFinal_ex(ctx, tail, final) == 1
        finally:
            lib.EVP_CIPHER_CTX_free(ctx)
        return out.raw[: written.value + final.value] if ok else None


class _Cryptography:
    """AES-128-CBC through the ``cryptography`` package, imported only when chosen."""

    name = "cryptography"

    def encrypt(self, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        _check(key, iv, plaintext)
        padder = padding.PKCS7(128).padder()
        plain = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return encryptor.update(plain) + encryptor.finalize()

    def decrypt(self, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        _check(key, iv, ciphertext)
        if not ciphertext or len(ciphertext) % BLOCK_BYTES:
            raise ValueError("AES-128-CBC ciphertext is not a whole number of blocks")
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(plain) + unpadder.finalize()
        except ValueError:
            raise ValueError("invalid padding (wrong key or IV, or damaged data)") from None


# A known answer: the first block of NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), followed by
# the block PKCS#7 adds to a whole-block input. A library that loads but computes
# something else is not used.
_KAT_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
_KAT_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
_KAT_PLAINTEXT = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
_KAT_RESULT = bytes.fromhex("7649abac8119b246cee98e9b12e9197d8964e0b149c10b7b682e6e39aaeb731c")


def libcrypto_backend() -> CbcBackend | None:
    """The libcrypto backend, or None where Python's libcrypto cannot be used."""
    try:
        backend = _Libcrypto(*libcrypto.load("EVP_aes_128_cbc", "AES-128-CBC"))
        result = backend.encrypt(_KAT_KEY, _KAT_IV, _KAT_PLAINTEXT)
        opened = backend.decrypt(_KAT_KEY, _KAT_IV, result)
    except (ImportError, OSError, AttributeError, ValueError):
        return None
    if result != _KAT_RESULT or opened != _KAT_PLAINTEXT:
        return None
    return backend


def cryptography_backend() -> CbcBackend:
    """The ``cryptography`` package's backend (raises ImportError on use where absent)."""
    return _Cryptography()


backend: CbcBackend = libcrypto_backend() or cryptography_backend()
"""The backend this process uses: libcrypto where it passes its known-answer test."""
