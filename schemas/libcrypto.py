"""The libcrypto Python itself already loaded, with its EVP cipher calls typed for ``ctypes``.

``hashlib`` and ``ssl`` run on OpenSSL's libcrypto, so the library is found through the
``_hashlib`` extension module: the exact copy this interpreter uses, already mapped. The
cipher modules built on it (:mod:`schemas.aesgcm`, :mod:`device.hls.aescbc`) each accept it
only after it reproduces their own known answer.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping

__all__ = ["INT", "POINTER", "Signature", "load", "new_context"]

POINTER = ctypes.c_void_p
INT = ctypes.c_int
_BUFFER = ctypes.c_char_p
_INT_POINTER = ctypes.POINTER(ctypes.c_int)

Signature = tuple[object, list[object]]
"""``(restype, argtypes)`` of one libcrypto function."""

# The calls every EVP cipher pass makes: one context per call, init, update, final.
_EVP_CIPHER: dict[str, Signature] = {
    "EVP_CIPHER_CTX_new": (POINTER, []),
    "EVP_CIPHER_CTX_free": (None, [POINTER]),
    "EVP_CipherInit_ex": (INT, [POINTER, POINTER, POINTER, _BUFFER, _BUFFER, INT]),
    "EVP_CipherUpdate": (INT, [POINTER, POINTER, _INT_POINTER, _BUFFER, INT]),
    "EVP_CipherFinal_ex": (INT, [POINTER, POINTER, _INT_POINTER]),
}


def load(
    cipher: str, label: str, extra: Mapping[str, Signature] | None = None
) -> tuple[ctypes.CDLL, int]:
    """Python's libcrypto with the EVP cipher calls (and ``extra``) typed, and one cipher.

    Args:
        cipher: the function returning the cipher, such as ``"EVP_aes_256_gcm"``.
        label: the cipher's name in the error raised when libcrypto lacks it.
        extra: further functions the caller uses, with their signatures.

    Returns:
        The library and the cipher's ``EVP_CIPHER`` pointer.

    Raises:
        ImportError: this interpreter has no ``_hashlib``.
        OSError: the library cannot be loaded or lacks the cipher.
        AttributeError: the library lacks one of the functions.
    """
    import _hashlib

    lib = ctypes.CDLL(_hashlib.__file__)
    signatures = {**_EVP_CIPHER, cipher: (POINTER, []), **(extra or {})}
    for symbol, (restype, argtypes) in signatures.items():
        function = getattr(lib, symbol)
        function.restype = restype
        function.argtypes = argtypes
    handle: int | None = getattr(lib, cipher)()
    if not handle:
        raise OSError(f"libcrypto has no {label}")
    return lib, handle


def new_context(lib: ctypes.CDLL) -> int:
    """A new ``EVP_CIPHER_CTX`` (the caller frees it with ``EVP_CIPHER_CTX_free``)."""
    ctx: int | None = lib.EVP_CIPHER_CTX_new()
    if not ctx:
        raise MemoryError("libcrypto could not allocate a cipher context")
    return ctx
