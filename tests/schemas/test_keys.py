"""Device secrets and derived keys."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from schemas import DeviceKeys, InvalidKey, b64url_decode, b64url_encode, new_device_secret


def test_derivation_matches_the_spec() -> None:
    secret = bytes(range(32))
    keys = DeviceKeys.from_secret(b64url_encode(secret))
    assert keys.sign_key == hmac.new(secret, b"ossmedia/v1/sign", hashlib.sha256).digest()
    assert keys.seal_key == hmac.new(secret, b"ossmedia/v1/seal", hashlib.sha256).digest()
    assert keys.sign_key != keys.seal_key


def test_repr_and_str_hide_keys() -> None:
    keys = DeviceKeys.from_secret(new_device_secret())
    for text in (repr(keys), str(keys), f"{keys}", repr([keys])):
        assert keys.sign_key.hex() not in text
        assert keys.seal_key.hex() not in text
        assert repr(keys.sign_key) not in text
        assert repr(keys.seal_key) not in text


def test_new_secrets_are_32_random_bytes() -> None:
    secrets = {new_device_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert len(secret) == 43
        assert len(b64url_decode(secret)) == 32


@pytest.mark.parametrize(
    "secret",
    [
        "",
        b64url_encode(bytes(31)),
        b64url_encode(bytes(33)),
        b64url_encode(bytes(32)) + "=",
        "!" * 43,
    ],
)
def test_bad_secrets(secret: str) -> None:
    with pytest.raises(InvalidKey) as info:
        DeviceKeys.from_secret(secret)
    assert repr(secret) not in str(info.value)


def test_direct_construction_checks_lengths() -> None:
    with pytest.raises(InvalidKey):
        DeviceKeys(sign_key=bytes(31), seal_key=bytes(32))
    with pytest.raises(InvalidKey):
        DeviceKeys(sign_key=bytes(32), seal_key="x" * 32)  # type: ignore[arg-type]
    assert DeviceKeys(sign_key=bytes(32), seal_key=bytes(32)).sign_key == bytes(32)
