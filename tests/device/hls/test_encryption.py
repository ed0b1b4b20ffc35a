from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # reference

from device.hls.encryption import (
    ContentKey,
    InMemoryKeyDelivery,
    KeyDelivery,
    decrypt_segment,
    encrypt_segment,
    iv_for_sequence,
    new_content_key,
)
from device.hls.errors import KeyDeliveryError


def test_iv_is_the_sequence_number_big_endian() -> None:
    assert iv_for_sequence(0) == bytes(16)
    assert iv_for_sequence(258) == bytes(14) + b"\x01\x02"


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 188 * 7])
def test_cbc_pkcs7_round_trip(size: int) -> None:
    key, iv, data = os.urandom(16), iv_for_sequence(9), os.urandom(size)
    sealed = encrypt_segment(data, key, iv)
    assert len(sealed) == (size // 16 + 1) * 16  # PKCS#7 always pads
    assert decrypt_segment(sealed, key, iv) == data
    # Independently: the last block decrypts to the PKCS#7 padding bytes.
    raw = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(sealed)
    pad = 16 - size % 16
    assert raw[-pad:] == bytes([pad]) * pad


def test_wrong_key_does_not_decrypt() -> None:
    sealed = encrypt_segment(b"x" * 100, b"k" * 16, iv_for_sequence(1))
    with pytest.raises(ValueError):  # noqa: PT011 -- cryptography's padding error
        # Any key but the right one almost surely breaks the padding.
        decrypt_segment(sealed, b"j" * 16, iv_for_sequence(1))


def test_key_bytes_never_in_repr() -> None:
    key = new_content_key("cam-0001", 0, lambda n: b"\xab" * n)
    assert len(key.key) == 16
    assert len(key.key_id) == 32
    assert "abab" not in repr(key).replace(key.key_id, "")
    assert "key=" not in repr(key).replace("key_id=", "")


def test_in_memory_delivery() -> None:
    delivery = InMemoryKeyDelivery()
    assert isinstance(delivery, KeyDelivery)
    key = ContentKey(device_id="cam-1", key_id="k1", key=b"\x01" * 16, first_sequence=0)
    delivery.deliver(key)
    assert delivery.lookup("cam-1", "k1") == b"\x01" * 16
    with pytest.raises(KeyError):
        delivery.lookup("cam-2", "k1")
    delivery.fail = True
    with pytest.raises(KeyDeliveryError) as info:
        delivery.deliver(key)
    assert info.value.key_id == "k1"
    assert "\\x01" not in repr(delivery)


def test_key_length_is_checked() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        ContentKey(device_id="cam-1", key_id="k", key=b"short", first_sequence=0)
