"""docs/protocol.md's worked example, recomputed byte for byte.

The values are read from fenced blocks labelled ``example:<name>`` and checked both with the
``schemas`` helpers and with independent calls to hmac / AESGCM, so the document, the code and
the primitives must all agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas import (
    CredsResponseError,
    CredsResponseOk,
    DeviceKeys,
    ErrorCode,
    HlsKey,
    build_error_response,
    build_hls_key,
    build_ok_response,
    build_request,
    encode,
    error_canonical,
    hls_key_aad,
    hls_key_canonical,
    open_hls_key,
    open_ok_response,
    parse_event,
    parse_request,
    parse_response,
    parse_sealed_payload,
    parse_status,
    request_canonical,
    response_aad,
    segment_canonical,
    sign_segment_closed,
    sign_status,
    status_canonical,
    verify_error_response,
    verify_hls_key,
    verify_request,
    verify_segment_closed,
    verify_status,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
_BLOCK = re.compile(r"^```[a-z]* example:([a-z_]+)\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def ex() -> dict[str, str]:
    blocks: dict[str, str] = {}
    for name, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        assert name not in blocks, f"duplicate example block {name}"
        blocks[name] = body
    return blocks


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, text: str) -> str:
    return _b64(hmac.new(key, text.encode(), hashlib.sha256).digest())


def test_all_blocks_present(ex: dict[str, str]) -> None:
    assert set(ex) == {
        "secret",
        "sign_key",
        "seal_key",
        "request_canonical",
        "request_sig",
        "request_json",
        "sealed_plaintext",
        "response_aad",
        "seal_nonce",
        "response_json",
        "error_canonical",
        "error_json",
        "segment_canonical",
        "segment_json",
        "status_canonical",
        "status_json",
        "hls_key_aad",
        "hls_key_nonce",
        "hls_key_canonical",
        "hls_key_json",
    }


def test_secret_and_keys(ex: dict[str, str]) -> None:
    secret = _unb64(ex["secret"])
    assert secret == bytes(range(32))
    keys = DeviceKeys.from_secret(ex["secret"])
    assert keys.sign_key.hex() == ex["sign_key"]
    assert keys.seal_key.hex() == ex["seal_key"]
    assert ex["sign_key"] == hmac.new(secret, b"ossmedia/v1/sign", hashlib.sha256).hexdigest()
    assert ex["seal_key"] == hmac.new(secret, b"ossmedia/v1/seal", hashlib.sha256).hexdigest()


def test_request(ex: dict[str, str]) -> None:
    keys = DeviceKeys.from_secret(ex["secret"])
    req = parse_request(ex["request_json"].encode())
    assert req.nonce == _b64(bytes(range(0xA0, 0xB0)))
    assert request_canonical(req) == ex["request_canonical"]
    assert _mac(keys.sign_key, ex["request_canonical"]) == ex["request_sig"] == req.sig
    assert verify_request(keys, req)
    rebuilt = build_request(
        keys,
        req.device_id,
        access=req.access,
        duration_s=req.duration_s,
        now_ms=req.issued_at_ms,
        request_id=req.request_id,
        nonce=req.nonce,
    )
    assert encode(rebuilt).decode() == ex["request_json"]


def test_success_reply(ex: dict[str, str]) -> None:
    keys = DeviceKeys.from_secret(ex["secret"])
    payload = parse_sealed_payload(ex["sealed_plaintext"].encode())
    assert encode(payload).decode() == ex["sealed_plaintext"]
    resp = parse_response(ex["response_json"].encode())
    assert isinstance(resp, CredsResponseOk)
    aad = response_aad(
        device_id=resp.device_id, request_id=resp.request_id, server_time_ms=resp.server_time_ms
    )
    assert aad.decode() == ex["response_aad"]
    nonce = bytes.fromhex(ex["seal_nonce"])
    assert nonce == bytes(range(0xC0, 0xCC))
    expected_blob = nonce + AESGCM(keys.seal_key).encrypt(
        nonce, ex["sealed_plaintext"].encode(), ex["response_aad"].encode()
    )
    assert resp.sealed == _b64(expected_blob)
    assert open_ok_response(keys, resp) == payload
    rebuilt = build_ok_response(
        keys,
        device_id=resp.device_id,
        request_id=resp.request_id,
        server_time_ms=resp.server_time_ms,
        payload=payload,
        nonce=nonce,
    )
    assert encode(rebuilt).decode() == ex["response_json"]


def test_error_reply(ex: dict[str, str]) -> None:
    keys = DeviceKeys.from_secret(ex["secret"])
    resp = parse_response(ex["error_json"].encode())
    assert isinstance(resp, CredsResponseError)
    canonical = error_canonical(
        device_id=resp.device_id,
        request_id=resp.request_id,
        server_time_ms=resp.server_time_ms,
        code=resp.error.code,
        retry_after_ms=resp.error.retry_after_ms,
    )
    assert canonical == ex["error_canonical"]
    assert resp.sig == _mac(keys.sign_key, ex["error_canonical"])
    assert verify_error_response(keys, resp)
    assert resp.error.code is ErrorCode.STS_THROTTLED
    rebuilt = build_error_response(
        keys,
        device_id=resp.device_id,
        request_id=resp.request_id,
        server_time_ms=resp.server_time_ms,
        code=resp.error.code,
        message=resp.error.message,
        retry_after_ms=resp.error.retry_after_ms,
    )
    assert encode(rebuilt).decode() == ex["error_json"]


def test_segment_closed(ex: dict[str, str]) -> None:
    keys = DeviceKeys.from_secret(ex["secret"])
    ev = parse_event(ex["segment_json"].encode())
    assert segment_canonical(ev) == ex["segment_canonical"]
    assert ev.sig == _mac(keys.sign_key, ex["segment_canonical"])
    assert verify_segment_closed(keys, ev)
    assert json.loads(ex["segment_json"])["crc64"] == str(ev.crc64)
    fields = ev.model_dump(exclude={"v", "kind", "sig"})
    assert encode(sign_segment_closed(keys, **fields)).decode() == ex["segment_json"]


def test_hls_key(ex: dict[str, str]) -> None:
    keys = DeviceKeys.from_secret(ex["secret"])
    ev = parse_event(ex["hls_key_json"].encode())
    assert isinstance(ev, HlsKey)
    assert hls_key_canonical(ev) == ex["hls_key_canonical"]
    assert ev.sig == _mac(keys.sign_key, ex["hls_key_canonical"])
    assert verify_hls_key(keys, ev)
    aad = hls_key_aad(device_id=ev.device_id, key_id=ev.key_id)
    assert aad.decode() == ex["hls_key_aad"]
    blob = _unb64(ev.sealed)
    assert blob[:12].hex() == ex["hls_key_nonce"]
    # Independently of the schemas helpers: AES-256-GCM under seal_key with that aad.
    assert AESGCM(keys.seal_key).decrypt(blob[:12], blob[12:], aad) == bytes(range(0x10, 0x20))
    assert open_hls_key(keys, ev) == bytes(range(0x10, 0x20))
    rebuilt = build_hls_key(
        keys,
        device_id=ev.device_id,
        key_id=ev.key_id,
        created_ms=ev.created_ms,
        key=bytes(range(0x10, 0x20)),
        nonce=bytes.fromhex(ex["hls_key_nonce"]),
    )
    assert encode(rebuilt).decode() == ex["hls_key_json"]


def test_status(ex: dict[str, str]) -> None:
    keys = DeviceKeys.from_secret(ex["secret"])
    st = parse_status(ex["status_json"].encode())
    assert status_canonical(st) == ex["status_canonical"]
    assert "\n\n" in ex["status_canonical"]  # the null field shows as an empty line
    assert st.sig == _mac(keys.sign_key, ex["status_canonical"])
    assert verify_status(keys, st)
    fields = st.model_dump(exclude={"v", "kind", "sig"})
    assert encode(sign_status(keys, **fields)).decode() == ex["status_json"]


def test_doc_names_every_error_code_and_topic() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"| `{code.value}` |" in text, code
    for suffix in ("creds/req", "creds/res", "events", "status"):
        assert f"`P/v1/{{device_id}}/{suffix}`" in text
