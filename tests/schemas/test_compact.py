"""The compact request reader accepts exactly what the full path accepts in compact form.

For every payload, :func:`parse_compact_request` must return the full path's request when the
full path (hardened JSON, then model validation) accepts the payload and the payload is the
compact encoding of that request, and ``None`` otherwise. Payloads come from valid requests,
from compact-shaped payloads with field values near every rule's edge, from byte-level edits
of valid payloads, and from arbitrary bytes.
"""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas import CredsRequest, DeviceId, SchemaError, encode, parse_request
from schemas.compact import parse_compact_request
from schemas.requests import Access
from tests.schemas.strategies import requests

VALID = (
    b'{"v":1,"kind":"creds.request","device_id":"cam-0001",'
    b'"request_id":"0123456789abcdef0123456789abcdef","issued_at_ms":1764380000123,'
    b'"nonce":"AAAAAAAAAAAAAAAAAAAAAA","access":"append","duration_s":900,'
    b'"sig":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}'
)


def _expected(payload: bytes) -> CredsRequest | None:
    try:
        full = parse_request(payload)
    except SchemaError:
        return None
    return full if encode(full) == payload else None


def _check(payload: bytes) -> CredsRequest | None:
    fast = parse_compact_request(payload)
    expected = _expected(payload)
    assert fast == expected
    if fast is not None:
        assert type(fast.device_id) is DeviceId
        assert type(fast.access) is Access
        assert fast.model_fields_set == parse_request(payload).model_fields_set
    return fast


@given(requests)
def test_every_valid_request_in_compact_form_is_read_as_the_full_path_reads_it(
    req: CredsRequest,
) -> None:
    assert _check(encode(req)) == req


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(length: int) -> st.SearchStrategy[str]:
    # Mostly the right length in the right alphabet with any last character (canonical or
    # not), sometimes a length off by one, padding or a character from another alphabet.
    right = st.tuples(
        st.text(alphabet=_B64, min_size=length - 1, max_size=length - 1),
        st.sampled_from(_B64 + "=+/."),
    ).map("".join)
    near = st.text(alphabet="AQgwBz09_-=+/.", min_size=length - 1, max_size=length + 1)
    return st.one_of(right, near).map(json.dumps)


_ints = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.sampled_from(
        [
            "0", "-0", "00", "01", "1", "900", "43200", "43201", "9007199254740991",
            "9007199254740992", "1.0", "1e3", '"900"', "true", "null", "9" * 21,
        ]
    ),
)  # fmt: skip
_EDGES: dict[str, st.SearchStrategy[str]] = {
    "v": st.sampled_from(["1", "2", "true", "1.0", '"1"', "01", "-1"]),
    "kind": st.sampled_from(['"creds.request"', '"creds.response"', '"creds\\u002erequest"']),
    "device_id": st.one_of(
        st.from_regex(r"[A-Za-z0-9_+#/.-]{0,34}", fullmatch=True),
        st.sampled_from(["cam-0001", "-cam", "_cam", "cam+", "a", "A" * 32, "A" * 33, "cam\u00e9"]),
    ).map(json.dumps),
    "request_id": st.from_regex(r"[0-9a-fA-F]{31,33}", fullmatch=True).map(json.dumps),
    "issued_at_ms": _ints,
    "nonce": _b64(22),
    "access": st.sampled_from(
        ['"append"', '"write"', '"read"', '"APPEND"', '"appendx"', '"delete"', '""', "1", "null"]
    ),
    "duration_s": _ints,
    "sig": _b64(43),
}


def _fields_of(req: CredsRequest) -> dict[str, str]:
    return {name: json.dumps(value) for name, value in json.loads(encode(req)).items()}


def _join(items: list[tuple[str, str]], *, space: str = "", tail: str = "") -> bytes:
    return (
        "{" + ",".join(f'"{name}":{space}{value}' for name, value in items) + tail + "}"
    ).encode()


@settings(max_examples=1000, deadline=None)
@given(requests, st.data())
def test_compact_payloads_with_a_field_at_the_edge_of_its_rule(
    req: CredsRequest, data: st.DataObject
) -> None:
    fields = _fields_of(req)
    for name in data.draw(
        st.lists(st.sampled_from(list(_EDGES)), min_size=1, max_size=2, unique=True)
    ):
        fields[name] = data.draw(_EDGES[name])
    _check(_join(list(fields.items())))


@given(
    requests,
    st.sampled_from(["", " ", "\n"]),
    st.booleans(),
    st.sampled_from(["", ',"extra":1', ',"v":1']),
)
def test_valid_requests_in_another_layout(
    req: CredsRequest, space: str, swap: bool, tail: str
) -> None:
    items = list(_fields_of(req).items())
    if swap:
        items[2], items[3] = items[3], items[2]
    _check(_join(items, space=space, tail=tail))


_edit_bytes = st.sampled_from(
    [b'"', b"\\", b" ", b"{", b"}", b",", b":", b"0", b"9", b"a", b"A", b"=", b"\xc3\xa9", b"\xff"]
)


@given(requests, st.data())
@example(None, None)
def test_byte_edits_of_valid_payloads(req: CredsRequest | None, data: st.DataObject | None) -> None:
    if req is None or data is None:  # the fixed example: a known-good payload unchanged
        assert _check(VALID) is not None
        return
    payload = bytearray(encode(req))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(payload)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        new = data.draw(_edit_bytes)
        if op == "insert":
            payload[at:at] = new
        elif op == "delete":
            del payload[at : at + 1]
        else:
            payload[at : at + 1] = new
    _check(bytes(payload))


@given(st.binary(max_size=400))
def test_arbitrary_bytes(payload: bytes) -> None:
    _check(payload)


def test_edges_of_the_value_rules() -> None:
    def with_(old: bytes, new: bytes) -> bytes:
        assert old in VALID
        return VALID.replace(old, new)

    assert _check(with_(b"1764380000123", b"9007199254740991")) is not None
    assert _check(with_(b"1764380000123", b"9007199254740992")) is None
    assert _check(with_(b":900,", b":43200,")) is not None
    assert _check(with_(b":900,", b":43201,")) is None
    assert _check(with_(b":900,", b":0,")) is None
    # Canonical base64url: the spare low bits of the last character must be zero.
    assert _check(with_(b'"AAAAAAAAAAAAAAAAAAAAAA"', b'"AAAAAAAAAAAAAAAAAAAAAw"')) is not None
    assert _check(with_(b'"AAAAAAAAAAAAAAAAAAAAAA"', b'"AAAAAAAAAAAAAAAAAAAAAB"')) is None
    sig = b'"' + b"A" * 43 + b'"'
    assert _check(with_(sig, b'"' + b"A" * 42 + b'8"')) is not None
    assert _check(with_(sig, b'"' + b"A" * 42 + b'9"')) is None
    # Valid, but not compact: the full path reads it, this reader leaves it alone.
    spaced = with_(b'"v":1,', b'"v": 1,')
    assert parse_compact_request(spaced) is None
    assert parse_request(spaced).device_id == "cam-0001"
