"""HMAC signatures and AES-256-GCM sealing, against independent computations."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

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


def _verify_by_decoding(key: bytes, canonical: str, sig: str) -> bool:
    expected = hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest()
    try:
        return hmac.compare_digest(expected, b64url_decode(sig))
    except InvalidMessage:
        return False


_CANONICAL = "ossmedia/v1\ncreds.request\ncam-0001"


def _spellings(sig: str) -> list[str]:
    # The true signature and the ways a forger could re-spell it: another last character
    # (same bytes when only spare bits differ), padding, a standard-alphabet character.
    last = [sig[:-1] + c for c in "AEIMQUYcgkosw048BFJN"]
    return [sig, *last, sig + "=", sig.replace("-", "+"), sig.replace("_", "/"), sig + "\ud800"]


@given(st.binary(min_size=32, max_size=32), st.text(max_size=40), st.data())
def test_verify_agrees_with_decoding_the_signature(
    key: bytes, canonical: str, data: st.DataObject
) -> None:
    true_sig = sign(key, canonical)
    sig = data.draw(st.one_of(st.sampled_from(_spellings(true_sig)), st.text(max_size=50)))
    assert verify(key, canonical, sig) == _verify_by_decoding(key, canonical, sig)


def test_only_the_canonical_spelling_verifies() -> None:
    sig = sign(KEY, _CANONICAL)
    verdicts = {s: verify(KEY, _CANONICAL, s) for s in _spellings(sig)}
    assert [s for s, ok in verdicts.items() if ok] == [sig]


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
