"""Both AES-128-CBC backends: NIST vectors, agreement, padding errors and refused inputs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.hls import aescbc

LIBCRYPTO = aescbc.libcrypto_backend()
BACKENDS = [aescbc.cryptography_backend(), LIBCRYPTO]

# NIST SP 800-38A, F.2.1 CBC-AES128.Encrypt (four blocks, no padding in the vector).
NIST_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
NIST_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
NIST_PLAIN = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
NIST_CIPHER = bytes.fromhex(
    "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
    "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"
)


def test_python_s_own_libcrypto_is_used_here() -> None:
    assert LIBCRYPTO is not None
    assert aescbc.backend.name == "libcrypto"


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_nist_vector(backend: aescbc.CbcBackend) -> None:
    sealed = backend.encrypt(NIST_KEY, NIST_IV, NIST_PLAIN)
    # The vector's blocks, then one whole block of PKCS#7 padding.
    assert sealed[:64] == NIST_CIPHER
    assert len(sealed) == 80
    assert backend.decrypt(NIST_KEY, NIST_IV, sealed) == NIST_PLAIN


@given(
    key=st.binary(min_size=16, max_size=16),
    iv=st.binary(min_size=16, max_size=16),
    plaintext=st.binary(max_size=4096),
)
def test_the_backends_agree(key: bytes, iv: bytes, plaintext: bytes) -> None:
    assert LIBCRYPTO is not None
    reference = aescbc.cryptography_backend()
    sealed = LIBCRYPTO.encrypt(key, iv, plaintext)
    assert sealed == reference.encrypt(key, iv, plaintext)
    assert len(sealed) == (len(plaintext) // 16 + 1) * 16
    assert reference.decrypt(key, iv, sealed) == plaintext
    assert LIBCRYPTO.decrypt(key, iv, sealed) == plaintext


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_broken_padding_is_a_value_error(backend: aescbc.CbcBackend) -> None:
    sealed = backend.encrypt(NIST_KEY, NIST_IV, b"segment" * 3)  # 11 bytes of padding
    # Flipping the last byte of the IV-side block changes the padding byte of the last block.
    tampered = sealed[:-17] + bytes([sealed[-17] ^ 0x01]) + sealed[-16:]
    with pytest.raises(ValueError, match="padding"):
        backend.decrypt(NIST_KEY, NIST_IV, tampered)
    with pytest.raises(ValueError, match="whole number of blocks"):
        backend.decrypt(NIST_KEY, NIST_IV, sealed[:-1])


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize(
    ("key", "iv", "data", "error"),
    [
        (bytes(15), bytes(16), b"x", ValueError),
        (bytes(16), bytes(8), b"x", ValueError),
        (bytes(16), bytes(16), "text", TypeError),
    ],
)
def test_refused_inputs(
    backend: aescbc.CbcBackend, key: bytes, iv: bytes, data: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        backend.encrypt(key, iv, data)


def test_hls_encryption_runs_without_the_cryptography_package() -> None:
    # A camera without the cryptography wheel (no armv7 build exists) encrypts segments.
    code = (
        "import sys; sys.modules['cryptography'] = None\n"
        "from device.hls.encryption import encrypt_segment, decrypt_segment\n"
        "from device.hls import aescbc\n"
        "k = bytes(range(16)); iv = bytes(16)\n"
        "s = encrypt_segment(b'ts' * 100, k, iv)\n"
        "assert decrypt_segment(s, k, iv) == b'ts' * 100\n"
        "print(aescbc.backend.name, len(s))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["libcrypto", "208"]
