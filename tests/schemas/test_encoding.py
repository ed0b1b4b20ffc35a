"""Strict unpadded base64url."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import InvalidMessage, b64url_decode, b64url_encode


@given(st.binary(max_size=100))
def test_round_trip_and_no_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text) == data
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "AA==",  # padding
        "AAA=",
        "AA=",
        "A",  # impossible length
        "AAAAA",
        "AB+/",  # standard alphabet
        "AB C",
        " AAAA",
        "AAAA\n",
        "AAAA\x00",
        "AÅAA",
        "AB",  # non-zero trailing bits: "AA" is the canonical spelling of b"\x00"
        "AAB",  # ditto for two bytes
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(InvalidMessage):
        b64url_decode(text)


def test_rejects_non_strings() -> None:
    with pytest.raises(InvalidMessage):
        b64url_decode(b"AAAA")  # type: ignore[arg-type]


def test_empty() -> None:
    assert b64url_encode(b"") == ""
    assert b64url_decode("") == b""


@given(st.text(alphabet="ABCDEFabcdef0123456789-_=+/ ", max_size=12))
def test_decode_is_canonical_or_rejects(text: str) -> None:
    try:
        data = b64url_decode(text)
    except InvalidMessage:
        return
    assert b64url_encode(data) == text
