"""The RAM policies of ``deploy/aliyun`` do their job and nothing more.

The kit's JSON files are loaded unmodified into the emulator's IAM; every claim is checked
with the real STS SDK (AssumeRole) and real ``oss2`` calls, including the production session
policy the responder attaches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import oss2
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from cloud.responder.policy import session_policy
from simulator.base.errors import EmulatorConfigError
from simulator.emulator.config import load_config
from simulator.emulator.handle import EmulatorHandle, running_emulator, spawned_emulator
from tests.fixtures.aliyun_kit import (
    ACCOUNT,
    BUCKET,
    CONSOLE_KEY,
    KIT,
    OTHER_BUCKET,
    RESPONDER_KEY,
    ROLE_ARN,
    ROOT_KEY,
    kit_config,
    kit_policy,
)

PREFIX = "videos/cam-0001/"


@pytest.fixture(scope="module")
def kit() -> Iterator[EmulatorHandle]:
    """One emulator populated from the kit for the whole module."""
    with running_emulator(port=0, access_log=False, config=kit_config()) as handle:
        yield handle


def _assume(
    kit: EmulatorHandle, key: tuple[str, str], role_arn: str = ROLE_ARN, policy: str | None = None
) -> dict[str, str]:
    client = AcsClient(key[0], key[1], kit.region, proxy={"http": None, "https": None})
    request = AssumeRoleRequest()
    request.set_endpoint(kit.sts_endpoint)
    request.set_RoleArn(role_arn)
    request.set_RoleSessionName("cam-0001")
    request.set_DurationSeconds(900)
    if policy is not None:
        request.set_Policy(policy)
    creds: dict[str, str] = json.loads(client.do_action_with_exception(request))["Credentials"]
    return creds


def _sts_code(call: Callable[[], object]) -> str:
    with pytest.raises(ServerException) as caught:
        call()
    return str(caught.value.get_error_code())


def _oss_status(call: Callable[[], object]) -> int:
    with pytest.raises(oss2.exceptions.OssError) as caught:
        call()
    return int(caught.value.status)


def _bucket(kit: EmulatorHandle, auth: oss2.AuthBase, name: str = BUCKET) -> oss2.Bucket:
    return oss2.Bucket(auth, kit.oss_endpoint, name)


def _camera_bucket(kit: EmulatorHandle, name: str = BUCKET) -> oss2.Bucket:
    policy = session_policy(bucket=BUCKET, prefix=PREFIX, access="append")
    creds = _assume(kit, RESPONDER_KEY, policy=policy)
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    return _bucket(kit, auth, name)


def _root(kit: EmulatorHandle, name: str = BUCKET) -> oss2.Bucket:
    return _bucket(kit, oss2.Auth(*ROOT_KEY), name)


def test_the_kit_files_are_plain_json_without_comments() -> None:
    for name in (
        "responder-user-policy",
        "camera-role-trust-policy",
        "camera-role-policy",
        "console-user-policy",
    ):
        assert kit_policy(name)["Version"] == "1"


def test_the_responder_key_assumes_the_camera_role(kit: EmulatorHandle) -> None:
    creds = _assume(kit, RESPONDER_KEY)
    assert creds["AccessKeyId"].startswith("STS.")


def test_the_responder_key_assumes_no_other_role(kit: EmulatorHandle) -> None:
    assert kit.emulator is not None
    other = kit.emulator.create_role(
        "ossmedia-admin",
        policies=[
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}]}
        ],
    )
    assert _sts_code(lambda: _assume(kit, RESPONDER_KEY, role_arn=other)) == "NoPermission"


def test_the_responder_key_has_no_oss_access(kit: EmulatorHandle) -> None:
    bucket = _bucket(kit, oss2.Auth(*RESPONDER_KEY))
    assert _oss_status(lambda: bucket.put_object("videos/x", b"x")) == 403
    assert _oss_status(lambda: bucket.get_bucket_info()) == 403


def test_the_console_key_cannot_assume_the_camera_role(kit: EmulatorHandle) -> None:
    assert _sts_code(lambda: _assume(kit, CONSOLE_KEY)) == "NoPermission"


def test_the_trust_policy_refuses_a_user_it_does_not_name(kit: EmulatorHandle) -> None:
    assert kit.emulator is not None
    # A user whose own policy allows the AssumeRole: only the role's trust stands in the way.
    kit.emulator.add_access_key(
        "LTAI5tKitIntruder00001",
        "intruder-secret-0001",
        account_id=ACCOUNT,
        user="intruder",
        policies=[kit_policy("responder-user-policy")],
    )
    key = ("LTAI5tKitIntruder00001", "intruder-secret-0001")
    assert _sts_code(lambda: _assume(kit, key)) == "NoPermission"


def test_camera_credentials_append_and_read_in_their_prefix(kit: EmulatorHandle) -> None:
    bucket = _camera_bucket(kit)
    key = f"{PREFIX}seg-1.ts"
    bucket.append_object(key, 0, b"abc")
    bucket.append_object(key, 3, b"def")
    assert bucket.get_object(key).read() == b"abcdef"
    assert bucket.head_object(key).content_length == 6


def test_camera_credentials_do_nothing_else(kit: EmulatorHandle) -> None:
    bucket = _camera_bucket(kit)
    _root(kit).put_object(f"{PREFIX}kept.ts", b"k")
    _root(kit).put_object("videos/cam-0002/theirs.ts", b"t")
    assert _oss_status(lambda: bucket.delete_object(f"{PREFIX}kept.ts")) == 403
    assert _oss_status(lambda: bucket.list_objects(prefix=PREFIX)) == 403
    assert _oss_status(lambda: bucket.put_object("videos/cam-0002/x.ts", b"x")) == 403
    assert _oss_status(lambda: bucket.get_object("videos/cam-0002/theirs.ts")) == 403
    assert _oss_status(lambda: bucket.put_object("elsewhere/x.ts", b"x")) == 403
    assert _oss_status(lambda: bucket.get_bucket_lifecycle()) == 403
    other = _camera_bucket(kit, OTHER_BUCKET)
    assert _oss_status(lambda: other.put_object(f"{PREFIX}x.ts", b"x")) == 403
    assert _root(kit).get_object(f"{PREFIX}kept.ts").read() == b"k"


def test_camera_credentials_cannot_make_a_recording_public(kit: EmulatorHandle) -> None:
    # Setting an object ACL needs oss:PutObjectAcl, which the session policy does not grant,
    # whether by PutObjectAcl or by x-oss-object-acl on the upload itself.
    bucket = _camera_bucket(kit)
    key = f"{PREFIX}public.ts"
    public = {"x-oss-object-acl": "public-read"}
    assert _oss_status(lambda: bucket.put_object(key, b"x", headers=public)) == 403
    assert _oss_status(lambda: bucket.append_object(key, 0, b"x", headers=public)) == 403
    bucket.append_object(key, 0, b"x")
    assert _oss_status(lambda: bucket.put_object_acl(key, "public-read")) == 403
    assert _oss_status(lambda: bucket.get_object_acl(key)) == 403
    assert _root(kit).get_object_acl(key).acl == "default"
    anonymous = _bucket(kit, oss2.AnonymousAuth())
    assert _oss_status(lambda: anonymous.get_object(key)) == 403


def test_the_role_alone_stays_in_the_video_prefix(kit: EmulatorHandle) -> None:
    # Without a session policy the role's own policy is the limit: one bucket's video prefix.
    creds = _assume(kit, RESPONDER_KEY)
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    bucket = _bucket(kit, auth)
    bucket.put_object("videos/any-camera/x.ts", b"x")
    assert _oss_status(lambda: bucket.put_object("outside/x.ts", b"x")) == 403
    assert _oss_status(lambda: bucket.delete_object("videos/any-camera/x.ts")) == 403
    assert _oss_status(lambda: _bucket(kit, auth, OTHER_BUCKET).put_object("videos/x", b"x")) == 403


def test_the_console_key_does_its_job(kit: EmulatorHandle) -> None:
    console = _bucket(kit, oss2.Auth(*CONSOLE_KEY))
    _root(kit).put_object("videos/cam-0003/old.ts", b"old")
    assert console.head_object("videos/cam-0003/old.ts").content_length == 3
    assert console.get_object("videos/cam-0003/old.ts").read() == b"old"
    listed = [o.key for o in console.list_objects(prefix="videos/cam-0003/").object_list]
    assert listed == ["videos/cam-0003/old.ts"]
    console.delete_object("videos/cam-0003/old.ts")
    rule = oss2.models.LifecycleRule(
        "ossmedia-retention-fleet",
        "videos/",
        status=oss2.models.LifecycleRule.ENABLED,
        expiration=oss2.models.LifecycleExpiration(days=30),
    )
    console.put_bucket_lifecycle(oss2.models.BucketLifecycle([rule]))
    assert [r.id for r in console.get_bucket_lifecycle().rules] == ["ossmedia-retention-fleet"]
    console.delete_bucket_lifecycle()
    assert console.get_bucket_info().name == BUCKET


def test_the_console_key_does_nothing_else(kit: EmulatorHandle) -> None:
    console = _bucket(kit, oss2.Auth(*CONSOLE_KEY))
    _root(kit).put_object("outside/x.ts", b"x")
    assert _oss_status(lambda: console.put_object("videos/cam-0001/forged.ts", b"x")) == 403
    assert _oss_status(lambda: console.get_object("outside/x.ts")) == 403
    assert _oss_status(lambda: console.list_objects(prefix="")) == 403
    assert _oss_status(lambda: console.put_bucket_public_access_block(False)) == 403
    other = _bucket(kit, oss2.Auth(*CONSOLE_KEY), OTHER_BUCKET)
    _root(kit, OTHER_BUCKET).put_object("videos/x.ts", b"x")
    assert _oss_status(lambda: other.get_object("videos/x.ts")) == 403
    assert _oss_status(lambda: other.delete_object("videos/x.ts")) == 403
    assert _oss_status(lambda: other.get_bucket_lifecycle()) == 403


def test_block_public_access_is_a_bucket_setting(kit: EmulatorHandle) -> None:
    root = _root(kit)
    assert root.get_bucket_public_access_block().block_public_access is False
    root.put_bucket_public_access_block(True)
    console = _bucket(kit, oss2.Auth(*CONSOLE_KEY))
    assert console.get_bucket_public_access_block().block_public_access is True
    root.delete_bucket_public_access_block()
    assert root.get_bucket_public_access_block().block_public_access is False


def test_the_emulator_command_loads_the_kit() -> None:
    with spawned_emulator("--quiet", "--config", str(KIT / "emulator.toml")) as handle:
        assert handle.role_arn == ROLE_ARN
        creds = _assume(handle, RESPONDER_KEY)
        assert _sts_code(lambda: _assume(handle, CONSOLE_KEY)) == "NoPermission"
    assert creds["AccessKeyId"].startswith("STS.")


def test_a_policy_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{ not json")
    (tmp_path / "emulator.toml").write_text(
        '[[accounts]]\nid = "1"\n[[accounts.roles]]\nname = "r"\npolicy_files = ["broken.json"]\n'
    )
    with pytest.raises(EmulatorConfigError, match=r"broken\.json"):
        load_config(tmp_path / "emulator.toml")
