"""Hardened JSON loading: size first, then encoding, depth, numbers, duplicates."""

from __future__ import annotations

import json

import pytest

from schemas import MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, InvalidMessage, PayloadTooLarge
from schemas.wirejson import dump, load_object


def _padded(obj_text: str, size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (whitespace padding before the closing brace)."""
    raw = obj_text.encode()
    assert raw.endswith(b"}")
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def test_payload_at_the_limit_is_parsed() -> None:
    assert load_object(_padded('{"a":1}', MAX_PAYLOAD_BYTES)) == {"a": 1}


def test_payload_over_the_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge) as info:
        load_object(_padded('{"a":1}', MAX_PAYLOAD_BYTES + 1))
    assert (info.value.size, info.value.limit) == (MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES)


def test_size_is_checked_before_decoding() -> None:
    # Invalid UTF-8 *and* too large: the size verdict comes first, so no decoding happened.
    with pytest.raises(PayloadTooLarge):
        load_object(b"\xff" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(PayloadTooLarge):
        load_object(b"[" * 100_000)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_payloads(kind: type) -> None:
    assert load_object(kind(b'{"a":[1,{"b":null}]}')) == {"a": [1, {"b": None}]}


@pytest.mark.parametrize("payload", ['{"a":1}', None, 5, ["x"]])
def test_non_bytes_payloads(payload: object) -> None:
    with pytest.raises(InvalidMessage):
        load_object(payload)  # type: ignore[arg-type]


def _nested(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


def test_nesting_up_to_the_limit() -> None:
    assert load_object(_nested(MAX_JSON_DEPTH))["a"] is not None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 50, 2000])
def test_nesting_over_the_limit(depth: int) -> None:
    with pytest.raises(InvalidMessage, match="nesting"):
        load_object(_nested(depth))


def test_nesting_far_beyond_the_interpreter_recursion_limit() -> None:
    payload = b'{"a":' + b"[" * 8000 + b"]" * 8000 + b"}"
    assert len(payload) <= MAX_PAYLOAD_BYTES
    with pytest.raises(InvalidMessage, match="nesting"):
        load_object(payload)


def test_arrays_count_towards_depth() -> None:
    with pytest.raises(InvalidMessage, match="nesting"):
        load_object(b'{"a":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}")


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "{[" * 500 + '\\"{', "b": ["]}"] * 20})
    assert load_object(text.encode())["b"] == ["]}"] * 20


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"a":NaN}', "NaN"),
        (b'{"a":Infinity}', "Infinity"),
        (b'{"a":-Infinity}', "Infinity"),
        (b'{"a":1.5}', "non-integer"),
        (b'{"a":1e3}', "non-integer"),
        (b'{"a":1E400}', "non-integer"),
        (b'{"a":-0.0}', "non-integer"),
        (b'{"a":' + b"1" * 21 + b"}", "digits"),
        (b'{"a":-' + b"9" * 21 + b"}", "digits"),
        (b'{"a":' + b"1" * 5000 + b"}", "digits"),
        (b'{"a":1,"a":1}', "duplicate"),
        (b'{"a":{"b":1,"b":2}}', "duplicate"),
        (b'{"a":[{"c":1,"c":1}]}', "duplicate"),
        (b'{"a":"\\ud800"}', "surrogate"),
        (b'{"\\udfff":1}', "surrogate"),
        (b"\xef\xbb\xbf{}", "JSON"),
        (b'{"a":"\xff"}', "UTF-8"),
        (b'{"a":"\xed\xa0\x80"}', "UTF-8"),  # surrogate encoded as UTF-8
        (b"[]", "object"),
        (b'"x"', "object"),
        (b"1", "object"),
        (b"null", "object"),
        (b"", "JSON"),
        (b"{", "JSON"),
        (b'{"a":1}{"b":2}', "JSON"),
        (b"{'a':1}", "JSON"),
        (b'{"a":01}', "JSON"),
    ],
)
def test_rejects(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        load_object(payload)


def test_twenty_digit_integers_pass() -> None:
    assert load_object(b'{"a":' + b"9" * 20 + b"}") == {"a": int("9" * 20)}


def test_dump_is_compact_utf8_in_given_order() -> None:
    assert dump({"b": 1, "a": "é", "c": None}) == '{"b":1,"a":"é","c":null}'.encode()


def test_dump_refuses_oversize() -> None:
    with pytest.raises(PayloadTooLarge):
        dump({"a": "x" * MAX_PAYLOAD_BYTES})
