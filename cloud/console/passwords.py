"""Operator password hashes: scrypt from the standard library, in a self-describing string.

Format: ``scrypt$<log2 n>$<r>$<p>$<salt b64url>$<hash b64url>``. The parameters travel with
the hash so they can be raised later without invalidating existing configuration files.
``ossmedia console --hash-password`` prints a new hash for the configuration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["DEFAULT_LOG2_N", "hash_password", "is_valid_hash", "verify_password"]

DEFAULT_LOG2_N = 15  # n = 32768, r = 8: about 32 MiB and tens of milliseconds per check
_R = 8
_P = 1
_DKLEN = 32
_MAX_LOG2_N = 20
_MAX_PASSWORD_BYTES = 1024  # longer inputs are refused rather than hashed (cost is per byte)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r * p,
        dklen=_DKLEN,
    )


def hash_password(password: str, *, log2_n: int = DEFAULT_LOG2_N) -> str:
    """Hash a password for the console configuration.

    Args:
        password: the operator's password (1 to 1024 bytes as UTF-8).
        log2_n: scrypt cost as a power of two; tests lower it to stay fast.

    Returns:
        The encoded hash, safe to store in ``console.toml``.

    Raises:
        ValueError: if the password is empty or too long, or ``log2_n`` is out of range.
    """
    if not password or len(password.encode("utf-8")) > _MAX_PASSWORD_BYTES:
        raise ValueError("password must be 1 to 1024 bytes")
    if not 10 <= log2_n <= _MAX_LOG2_N:
        raise ValueError("log2_n must be between 10 and 20")
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, log2_n, _R, _P)
    return f"scrypt${log2_n}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if not (10 <= log2_n <= _MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 4):
        return None
    if len(salt) < 8 or len(digest) != _DKLEN:
        return None
    return log2_n, r, p, salt, digest


def is_valid_hash(encoded: str) -> bool:
    """Tell whether ``encoded`` is a well-formed hash made by :func:`hash_password`."""
    return _parse(encoded) is not None


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against a stored hash in constant time.

    Args:
        password: what the operator typed.
        encoded: the stored hash.

    Returns:
        True when they match; False for a wrong password, a malformed hash or an
        over-long password.
    """
    parsed = _parse(encoded)
    if parsed is None or len(password.encode("utf-8")) > _MAX_PASSWORD_BYTES:
        return False
    log2_n, r, p, salt, digest = parsed
    return hmac.compare_digest(_derive(password, salt, log2_n, r, p), digest)
