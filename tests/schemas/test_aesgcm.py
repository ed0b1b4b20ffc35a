"""Both AES-256-GCM backends: published vectors, agreement, tampering and refused inputs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import aesgcm
from schemas.errors import SealError

LIBCRYPTO = aesgcm.libcrypto_backend()
BACKENDS = [aesgcm.cryptography_backend(), LIBCRYPTO]

# McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14.
ZERO_KEY = bytes(32)
ZERO_NONCE = bytes(12)
VECTORS = [
    (b"", bytes.fromhex("530f8afbc74536b9a963b4f1c4cb738b")),
    (
        bytes(16),
        bytes.fromhex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
    ),
]


def test_python_s_own_libcrypto_is_used_here() -> None:
    # Every machine this project runs on has CPython's _hashlib on OpenSSL; the camera's
    # memory figure depends on not loading the cryptography package.
    assert LIBCRYPTO is not None
    assert aesgcm.backend.name == "libcrypto"


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize(("plaintext", "expected"), VECTORS)
def test_published_vectors(backend: aesgcm.Backend, plaintext: bytes, expected: bytes) -> None:
    assert backend.encrypt(ZERO_KEY, ZERO_NONCE, plaintext, b"") == expected
    assert backend.decrypt(ZERO_KEY, ZERO_NONCE, expected, b"") == plaintext


@given(
    key=st.binary(min_size=32, max_size=32),
    nonce=st.binary(min_size=12, max_size=12),
    plaintext=st.binary(max_size=2048),
    aad=st.binary(max_size=256),
)
def test_the_backends_agree(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> None:
    assert LIBCRYPTO is not None
    reference = aesgcm.cryptography_backend()
    sealed = LIBCRYPTO.encrypt(key, nonce, plaintext, aad)
    assert sealed == reference.encrypt(key, nonce, plaintext, aad)
    assert reference.decrypt(key, nonce, sealed, aad) == plaintext
    assert LIBCRYPTO.decrypt(key, nonce, sealed, aad) == plaintext


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_changed_bit_is_refused(backend: aesgcm.Backend, position: int, bit: int) -> None:
    key, nonce, aad = bytes(range(32)), bytes(range(12)), b"ossmedia/v1"
    sealed = bytearray(backend.encrypt(key, nonce, b"credentials", aad))
    sealed[position % len(sealed)] ^= 1 << bit
    with pytest.raises(SealError, match="failed authentication"):
        backend.decrypt(key, nonce, bytes(sealed), aad)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_wrong_key_nonce_or_aad_is_refused(backend: aesgcm.Backend) -> None:
    key, nonce = bytes(range(32)), bytes(range(12))
    sealed = backend.encrypt(key, nonce, b"credentials", b"aad")
    for args in [(bytes(32), nonce, b"aad"), (key, bytes(12), b"aad"), (key, nonce, b"aae")]:
        with pytest.raises(SealError):
            backend.decrypt(args[0], args[1], sealed, args[2])
    with pytest.raises(SealError, match="too short"):
        backend.decrypt(key, nonce, sealed[:15], b"aad")


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize(
    ("key", "nonce", "data", "error"),
    [
        (bytes(16), bytes(12), b"x", ValueError),
        (bytes(32), bytes(16), b"x", ValueError),
        ("k" * 32, bytes(12), b"x", ValueError),
        (bytes(32), bytes(12), "text", TypeError),
        (bytes(32), bytes(12), bytearray(b"x"), TypeError),
    ],
)
def test_inputs_that_would_reach_c_unchecked_are_refused(
    backend: aesgcm.Backend, key: object, nonce: bytes, data: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        backend.encrypt(key, nonce, data, b"")  # type: ignore[arg-type]
