"""The ObjectStore contract, for both clients (oss2 and the stdlib ``device.osshttp``).

Every store failure arrives as the same DeviceError subclass with context, whichever client
sent the request: the emulator (proven against real oss2) answers, the client converts.
"""

from __future__ import annotations

from collections.abc import Callable

import oss2
import pytest

from device.errors import (
    AccessDenied,
    AuthError,
    DeviceError,
    ObjectNotAppendable,
    ObjectTooLarge,
    PositionMismatch,
    TransientStorageError,
)
from simulator.emulator.handle import EmulatorHandle
from tests.device.stores import (
    CLIENTS,
    Client,
    RotatingCameraCredentials,
    camera_store,
    keyed_store,
    root_store,
    static_keys,
)

PREFIX = "videos/cam-test/"
KEY = PREFIX + "object.mp4"


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> Client:
    """Each contract test runs once per client."""
    return request.param  # type: ignore[no-any-return]


def test_append_head_get_round_trip(emulator: EmulatorHandle, client: Client) -> None:
    store = camera_store(emulator, PREFIX, client=client)
    first = store.append(KEY, 0, b"hello ")
    second = store.append(KEY, first.next_position, b"world")
    assert (second.next_position, second.crc64) == (11, 5981764153023615706)
    info = store.head(KEY)
    assert info is not None
    assert (info.size, info.crc64, info.appendable) == (11, second.crc64, True)
    assert store.get(KEY) == b"hello world"
    assert store.get(KEY, 6) == b"world"
    assert store.get(KEY, 2, 5) == b"llo"
    assert store.head(PREFIX + "missing") is None


def test_position_mismatch_carries_the_object_length(
    emulator: EmulatorHandle, client: Client
) -> None:
    store = camera_store(emulator, PREFIX, client=client)
    store.append(KEY, 0, b"0123456789")
    with pytest.raises(PositionMismatch) as info:
        store.append(KEY, 4, b"x")
    assert info.value.next_position == 10
    assert (info.value.object_key, info.value.position) == (KEY, 4)
    assert info.value.request_id


def test_not_appendable_and_too_large(
    make_emulator: Callable[..., EmulatorHandle], client: Client
) -> None:
    emulator = make_emulator(max_append_size=100)
    root_store(emulator, client=client).put(PREFIX + "normal", b"put")
    store = camera_store(emulator, PREFIX, client=client)
    with pytest.raises(ObjectNotAppendable):
        store.append(PREFIX + "normal", 3, b"x")
    store.append(KEY, 0, b"x" * 60)
    with pytest.raises(ObjectTooLarge) as info:
        store.append(KEY, 60, b"x" * 60)
    assert info.value.code == "ObjectSizeTooLarge"


def test_policy_denials_are_access_denied(emulator: EmulatorHandle, client: Client) -> None:
    store = camera_store(emulator, PREFIX, client=client)
    store.append(KEY, 0, b"x")
    with pytest.raises(AccessDenied):
        store.delete(KEY)
    with pytest.raises(AccessDenied):
        store.append("videos/other-camera/x.mp4", 0, b"x")


def test_expired_token_is_an_auth_error(emulator: EmulatorHandle, client: Client) -> None:
    # Tokens live 900 s and requests may be 900 s off, so mint while the emulator's clock is
    # behind, then move it past the expiry without a skew.
    emulator.admin.call("POST", "/clock", {"offset_s": -700})
    credentials = RotatingCameraCredentials(emulator, PREFIX)
    store = camera_store(emulator, PREFIX, credentials, client=client)
    store.append(KEY, 0, b"x")
    emulator.admin.call("POST", "/clock", {"offset_s": 250})
    with pytest.raises(AuthError) as info:
        store.append(KEY, 1, b"y")
    assert info.value.code == "SecurityTokenExpired"
    credentials.refresh()
    assert store.append(KEY, 1, b"y").next_position == 2


def test_bad_key_is_an_auth_error(emulator: EmulatorHandle, client: Client) -> None:
    store = keyed_store(
        client, static_keys("nobody", "nothing"), emulator.oss_endpoint, emulator.bucket
    )
    with pytest.raises(AuthError) as info:
        store.head(KEY)
    assert info.value.code in {"InvalidAccessKeyId", "HTTP403"}


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"rules": [{"operations": ["AppendObject"], "error_rate": 1.0}]}, "ServiceUnavailable"),
        ({"rules": [{"operations": ["AppendObject"], "error_rate": 1.0, "error_status": 500}]},
         "InternalError"),
        ({"rules": [{"operations": ["AppendObject"], "reset_rate": 1.0}]}, "transport"),
        ({"rules": [{"operations": ["AppendObject"], "lost_response_rate": 1.0}]}, "transport"),
        ({"outages": [{"mode": "reset"}]}, "transport"),
    ],
    ids=["503", "500", "reset", "lost-response", "outage"],
)  # fmt: skip
def test_transient_failures(
    emulator: EmulatorHandle, client: Client, fault: dict[str, object], code: str
) -> None:
    store = camera_store(emulator, PREFIX, client=client)
    emulator.set_faults(fault)
    with pytest.raises(TransientStorageError) as info:
        store.append(KEY, 0, b"x")
    assert info.value.code == code
    assert info.value.object_key == KEY


def test_unreachable_store_is_transient(client: Client) -> None:
    store = keyed_store(client, static_keys("a", "b"), "http://127.0.0.1:9", "media", timeout_s=1)
    with pytest.raises(TransientStorageError):
        store.head(KEY)


def test_an_answer_slower_than_the_timeout_is_transient(
    emulator: EmulatorHandle, client: Client
) -> None:
    provider = RotatingCameraCredentials(emulator, PREFIX)
    store = keyed_store(client, provider, emulator.oss_endpoint, emulator.bucket, timeout_s=0.3)
    emulator.set_faults({"rules": [{"operations": ["AppendObject"], "latency_ms": 1500}]})
    with pytest.raises(TransientStorageError) as info:
        store.append(KEY, 0, b"x")
    assert (info.value.code, info.value.position) == ("transport", 0)
    emulator.clear_faults()
    assert store.head(PREFIX + "never-written") is None  # the store answers again


def test_no_oss2_exception_escapes(emulator: EmulatorHandle, client: Client) -> None:
    store = camera_store(emulator, PREFIX, client=client)
    failures = [
        lambda: store.delete(KEY),
        lambda: store.get(PREFIX + "missing"),
        lambda: store.append(KEY, 5, b"x"),
        lambda: store.put("elsewhere/x", b"x"),
    ]
    for call in failures:
        with pytest.raises(DeviceError) as info:
            call()
        assert not isinstance(info.value, oss2.exceptions.OssError)
        assert info.value.__cause__ is None
