"""Hypothesis strategies producing valid protocol values and messages."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from schemas import (
    Access,
    Credentials,
    CredsRequest,
    CredsResponseError,
    CredsResponseOk,
    ErrorCode,
    ErrorInfo,
    Grant,
    HlsKey,
    SealedPayload,
    SegmentClosed,
    Status,
    StatusAlert,
    StatusState,
    b64url_encode,
)

JS_MAX = 2**53 - 1

device_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{1,31}", fullmatch=True)
hex_ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
nonces = st.binary(min_size=16, max_size=16).map(b64url_encode)
sigs = st.binary(min_size=32, max_size=32).map(b64url_encode)
millis = st.integers(min_value=0, max_value=JS_MAX)
signed_millis = st.integers(min_value=-JS_MAX, max_value=JS_MAX)
crc64s = st.integers(min_value=0, max_value=2**64 - 1)
durations = st.integers(min_value=1, max_value=43200)
accesses = st.sampled_from(Access)
error_codes = st.sampled_from(ErrorCode)
states = st.sampled_from(StatusState)

_printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def tokens(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=_printable, min_size=1, max_size=max_size)


# Any Unicode except control characters and surrogates.
free_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters=[chr(c) for c in [*range(32), 127]]
    ),
    max_size=80,
)

buckets = st.from_regex(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", fullmatch=True)
regions = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
_prefix_segments = st.from_regex(r"[A-Za-z0-9_.=+@,;~!()'-]{1,20}", fullmatch=True).filter(
    lambda s: s not in {".", ".."}
)
prefixes = st.lists(_prefix_segments, min_size=1, max_size=5).map(lambda ps: "/".join(ps) + "/")
_key_segments = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters=["/", *[chr(c) for c in [*range(32), 127]]],
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s not in {".", ".."} and not s.startswith("\\"))
object_keys = st.lists(_key_segments, min_size=1, max_size=6).map("/".join)

requests = st.builds(
    CredsRequest,
    device_id=device_ids,
    request_id=hex_ids,
    issued_at_ms=millis,
    nonce=nonces,
    access=accesses,
    duration_s=durations,
    sig=sigs,
)

credentials = st.builds(
    Credentials,
    access_key_id=tokens(128),
    access_key_secret=tokens(256),
    security_token=tokens(600),
    expiration_ms=millis,
)
grants = st.builds(
    Grant,
    endpoint=tokens(256),
    bucket=buckets,
    region=regions,
    prefix=prefixes,
    access=accesses,
    expires_at_ms=millis,
)
sealed_payloads = st.builds(SealedPayload, credentials=credentials, grant=grants)

sealed_blobs = st.binary(min_size=28, max_size=400).map(b64url_encode)

ok_responses = st.builds(
    CredsResponseOk,
    device_id=device_ids,
    request_id=hex_ids,
    server_time_ms=millis,
    sealed=sealed_blobs,
)
error_infos = st.builds(
    ErrorInfo, code=error_codes, message=free_text, retry_after_ms=st.none() | millis
)
error_responses = st.builds(
    CredsResponseError,
    device_id=device_ids,
    request_id=st.none() | hex_ids,
    server_time_ms=millis,
    error=error_infos,
    sig=st.none() | sigs,
)

segment_fields: dict[str, st.SearchStrategy[Any]] = {
    "device_id": device_ids,
    "event_id": hex_ids,
    "seq": millis,
    "key": object_keys,
    "bytes": millis,
    "crc64": crc64s,
    "start_ms": millis,
    "end_ms": millis,
}
segments = st.builds(SegmentClosed, sig=sigs, **segment_fields)

status_fields: dict[str, st.SearchStrategy[Any]] = {
    "device_id": device_ids,
    "ts_ms": millis,
    "state": states,
    "spool_bytes": millis,
    "oldest_unsent_age_ms": st.none() | millis,
    "last_upload_ms": st.none() | millis,
    "cred_expires_at_ms": st.none() | millis,
    "clock_offset_ms": signed_millis,
    "uploaded_bytes": millis,
    "dropped_bytes": millis,
    "alerts": st.lists(st.sampled_from(StatusAlert), unique=True, max_size=3).map(tuple),
}
statuses = st.builds(Status, sig=sigs, **status_fields) | st.builds(
    Status, sig=st.none(), **{**status_fields, "state": st.just(StatusState.OFFLINE)}
)

request_fields: dict[str, st.SearchStrategy[Any]] = {
    "device_id": device_ids,
    "request_id": hex_ids,
    "issued_at_ms": millis,
    "nonce": nonces,
    "access": accesses,
    "duration_s": durations,
}

error_fields: dict[str, st.SearchStrategy[Any]] = {
    "device_id": device_ids,
    "request_id": st.none() | hex_ids,
    "server_time_ms": millis,
    "code": error_codes,
    "retry_after_ms": st.none() | millis,
}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

sealed_content_keys = st.binary(min_size=44, max_size=44).map(b64url_encode)
hls_keys = st.builds(
    HlsKey,
    device_id=device_ids,
    key_id=hex_ids,
    created_ms=millis,
    sealed=sealed_content_keys,
    sig=sigs,
)
