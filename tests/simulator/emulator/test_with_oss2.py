"""The whole emulator through the real clients: aliyunsdksts mints, oss2 uses the credentials."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oss2
import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from simulator.emulator.handle import EmulatorHandle, running_emulator

PREFIX = "videos/cam-0001/"


def sts_bucket(handle: EmulatorHandle, policy: dict[str, Any] | None = None) -> oss2.Bucket:
    client = AcsClient(handle.access_key_id, handle.access_key_secret, handle.region,
                       proxy={"http": None, "https": None})  # fmt: skip
    request = AssumeRoleRequest()
    request.set_RoleArn(handle.role_arn)
    request.set_RoleSessionName("cam-0001")
    request.set_DurationSeconds(900)
    if policy is not None:
        request.set_Policy(json.dumps(policy))
    request.set_endpoint(handle.sts_endpoint)
    creds = json.loads(client.do_action_with_exception(request))["Credentials"]
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    return oss2.Bucket(auth, handle.oss_endpoint, handle.bucket)


def root_bucket(handle: EmulatorHandle) -> oss2.Bucket:
    return oss2.Bucket(
        oss2.Auth(handle.access_key_id, handle.access_key_secret),
        handle.oss_endpoint,
        handle.bucket,
    )


CAMERA_POLICY: dict[str, Any] = {
    "Version": "1",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["oss:PutObject", "oss:GetObject"],
            "Resource": [f"acs:oss:*:*:ossmedia/{PREFIX}*"],
        }
    ],
}


def test_session_policy_restricts_what_oss_allows(any_emulator: EmulatorHandle) -> None:
    bucket = sts_bucket(any_emulator, CAMERA_POLICY)
    assert bucket.append_object(f"{PREFIX}a.ts", 0, b"abc").next_position == 3
    assert bucket.get_object(f"{PREFIX}a.ts").read() == b"abc"
    attempts: list[Callable[[], object]] = [
        lambda: bucket.append_object("videos/cam-0002/a.ts", 0, b"abc"),
        lambda: bucket.delete_object(f"{PREFIX}a.ts"),
        lambda: bucket.list_objects(prefix=PREFIX),
    ]
    for attempt in attempts:
        with pytest.raises(oss2.exceptions.AccessDenied):
            attempt()
    # Without a session policy the role's own permissions apply (anything under ossmedia/).
    assert sts_bucket(any_emulator).put_object("elsewhere/b.txt", b"x").status == 200


def test_expired_token_is_refused_by_oss(emulator: EmulatorHandle) -> None:
    emulator.advance_clock(-500)
    bucket = sts_bucket(emulator, CAMERA_POLICY)
    bucket.put_object(f"{PREFIX}a.ts", b"x")
    emulator.advance_clock(950)  # token expired 50 s ago; request times still within 15 min
    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.put_object(f"{PREFIX}b.ts", b"x")
    assert (info.value.status, info.value.code) == (403, "SecurityTokenExpired")


def test_lost_append_response_lands_but_the_client_sees_a_connection_error(
    emulator: EmulatorHandle,
) -> None:
    bucket = sts_bucket(emulator, CAMERA_POLICY)
    key = f"{PREFIX}seg.ts"
    bucket.append_object(key, 0, b"first")
    emulator.set_faults({"rules": [{"operations": ["AppendObject"], "lost_response_rate": 1}]})
    with pytest.raises(oss2.exceptions.RequestError):
        bucket.append_object(key, 5, b"second")
    emulator.clear_faults()
    head = bucket.head_object(key)
    assert head.content_length == 11  # the append landed
    assert bucket.get_object(key).read() == b"firstsecond"
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength):
        bucket.append_object(key, 5, b"second")  # a blind retry is caught by the position check


def test_reset_append_does_not_land(emulator: EmulatorHandle) -> None:
    bucket = sts_bucket(emulator, CAMERA_POLICY)
    key = f"{PREFIX}seg.ts"
    bucket.append_object(key, 0, b"first")
    emulator.set_faults({"rules": [{"operations": ["AppendObject"], "reset_rate": 1}]})
    with pytest.raises(oss2.exceptions.RequestError):
        bucket.append_object(key, 5, b"second")
    emulator.clear_faults()
    assert bucket.head_object(key).content_length == 5
    assert emulator.stats()["requests"]["AppendObject"] == {"200": 1, "reset": 1}


def test_error_and_outage_faults_reach_oss2(any_emulator: EmulatorHandle) -> None:
    bucket = root_bucket(any_emulator)
    any_emulator.set_faults(
        {"rules": [{"operations": ["PutObject"], "error_rate": 1, "error_status": 500}]}
    )
    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.put_object("k", b"x")
    assert (info.value.status, info.value.code) == (500, "InternalError")
    any_emulator.set_faults({"outages": [{"duration_s": 60}]})
    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.get_object("k")
    assert (info.value.status, info.value.code) == (503, "ServiceUnavailable")
    any_emulator.advance_clock(61)
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("k")  # the failed put was never applied


def test_create_bucket_and_white_box_model(emulator: EmulatorHandle) -> None:
    emulator.create_bucket("second-bucket")
    bucket = oss2.Bucket(oss2.Auth(emulator.access_key_id, emulator.access_key_secret),
                         emulator.oss_endpoint, "second-bucket")  # fmt: skip
    bucket.put_object("k", b"v")
    assert emulator.emulator is not None
    assert emulator.emulator.oss.model.head_object("second-bucket", "k").size == 1


def test_durable_restart_keeps_objects_keys_and_sessions(
    make_emulator: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with running_emulator(data_dir=data, port=0, access_log=False, fsync=True) as first:
        bucket = sts_bucket(first, CAMERA_POLICY)
        bucket.append_object(f"{PREFIX}a.ts", 0, b"abc")
        key = first.access_key_id
    with running_emulator(data_dir=data, port=0, access_log=False) as second:
        assert second.access_key_id == key
        # The same STS credentials still work after the restart (new port, same state).
        moved = oss2.Bucket(bucket.auth, second.oss_endpoint, second.bucket)
        assert moved.append_object(f"{PREFIX}a.ts", 3, b"def").next_position == 6
        assert moved.get_object(f"{PREFIX}a.ts").read() == b"abcdef"


def test_max_append_size(make_emulator: Callable[..., EmulatorHandle]) -> None:
    handle = make_emulator(max_append_size=8)
    bucket = root_bucket(handle)
    bucket.append_object("k", 0, b"12345678")
    with pytest.raises(oss2.exceptions.OssError) as info:
        bucket.append_object("k", 8, b"9")
    assert info.value.status == 409
