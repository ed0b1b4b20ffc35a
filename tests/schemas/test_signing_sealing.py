"""HMAC signatures and AES-256-GCM sealing, against independent computations."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas import InvalidKey, InvalidMessage, SealError, b64url_decode, seal, sign, unseal, verify

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_sign_is_b64url_hmac_sha256_of_utf8() -> None:
    canonical = "ossmedia/v1\nkind\ncam-0001\nvidéo"
    expected = hmac.new(KEY, canonical.encode("utf-8"), hashlib.sha256).digest()
    sig = sign(KEY, canonical)
    assert sig == base64.urlsafe_b64encode(expected).decode().rstrip("=")
    assert len(sig) == 43
    assert verify(KEY, canonical, sig)


def test_verify_rejects_wrong_key_text_or_sig() -> None:
    sig = sign(KEY, "a\nb")
    assert not verify(OTHER, "a\nb", sig)
    assert not verify(KEY, "a\nb ", sig)
    assert not verify(KEY, "a\nb", sig[:-1])
    assert not verify(KEY, "a\nb", sig + "=")
    assert not verify(KEY, "a\nb", sig + "A")
    assert not verify(KEY, "a\nb", "")
    assert not verify(KEY, "a\nb", "!" * 43)
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    assert not verify(KEY, "a\nb", flipped)


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "k" * 32])
def test_bad_sign_keys(key: bytes) -> None:
    with pytest.raises(InvalidKey):
        sign(key, "x")
    with pytest.raises(InvalidKey):
        verify(key, "x", "A" * 43)


def test_seal_layout_matches_aesgcm() -> None:
    nonce = bytes(12)
    sealed = seal(KEY, b"plain", b"aad", nonce)
    blob = b64url_decode(sealed)
    assert blob[:12] == nonce
    assert blob[12:] == AESGCM(KEY).encrypt(nonce, b"plain", b"aad")
    assert len(blob) == 12 + len(b"plain") + 16
    assert unseal(KEY, sealed, b"aad") == b"plain"


def test_fresh_nonces() -> None:
    blobs = {b64url_decode(seal(KEY, b"p", b"a"))[:12] for _ in range(20)}
    assert len(blobs) == 20


def test_unseal_failures() -> None:
    sealed = seal(KEY, b"plain", b"aad")
    with pytest.raises(SealError):
        unseal(OTHER, sealed, b"aad")
    with pytest.raises(SealError):
        unseal(KEY, sealed, b"aad2")
    with pytest.raises(SealError):
        unseal(KEY, sealed, b"")
    with pytest.raises(SealError):
        unseal(KEY, sealed + "=", b"aad")
    with pytest.raises(SealError, match="short"):
        unseal(KEY, "A" * 36, b"aad")
    with pytest.raises(SealError):
        unseal(KEY, "", b"aad")


def test_empty_plaintext_round_trips() -> None:
    assert unseal(KEY, seal(KEY, b"", b""), b"") == b""


def test_seal_rejects_bad_nonce_and_key() -> None:
    with pytest.raises(InvalidMessage):
        seal(KEY, b"p", b"a", bytes(11))
    with pytest.raises(InvalidKey):
        seal(bytes(16), b"p", b"a")
    with pytest.raises(InvalidKey):
        unseal(bytes(16), "A" * 40, b"a")
