"""AppendObject: positions, whole-object CRC-64, object types, size limit, concurrency."""

from __future__ import annotations

import threading

import oss2
import pytest

from simulator.oss.crc import crc64
from tests.simulator.oss._server import MODES, OssEnv, start_emulator


def test_appends_build_one_object_with_whole_object_crc(any_bucket: oss2.Bucket) -> None:
    first = any_bucket.append_object("video/seg.ts", 0, b"hello ", init_crc=0)
    assert first.next_position == 6
    assert first.crc == crc64(b"hello ")
    second = any_bucket.append_object(
        "video/seg.ts", first.next_position, b"world", init_crc=first.crc
    )
    assert second.next_position == 11
    assert second.crc == crc64(b"hello world") == 5981764153023615706
    assert second.etag != first.etag
    head = any_bucket.head_object("video/seg.ts")
    assert head.object_type == "Appendable"
    assert head.content_length == 11
    assert head.server_crc == second.crc
    assert head.headers["x-oss-next-append-position"] == "11"
    got = any_bucket.get_object("video/seg.ts")
    assert got.read() == b"hello world"
    assert got.headers["x-oss-object-type"] == "Appendable"


def test_append_position_mismatch_reports_current_length(bucket: oss2.Bucket) -> None:
    bucket.append_object("a", 0, b"12345")
    for wrong in (0, 4, 6, 10**12):
        with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as info:
            bucket.append_object("a", wrong, b"x")
        assert info.value.status == 409
        assert info.value.next_position == 5
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as missing:
        bucket.append_object("never", 3, b"x")
    assert missing.value.next_position == 0
    assert not bucket.object_exists("never")
    assert bucket.get_object("a").read() == b"12345"


def test_append_to_normal_object_is_refused(bucket: oss2.Bucket) -> None:
    bucket.put_object("normal", b"abc")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable) as info:
        bucket.append_object("normal", 3, b"d")
    assert info.value.status == 409
    # PutObject over an appendable object makes it Normal.
    bucket.append_object("app", 0, b"abc")
    bucket.put_object("app", b"new")
    assert bucket.head_object("app").object_type == "Normal"
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("app", 3, b"d")


def test_empty_appends_and_restart_after_delete(bucket: oss2.Bucket) -> None:
    empty = bucket.append_object("e", 0, b"")
    assert (empty.next_position, empty.crc) == (0, 0)
    assert bucket.append_object("e", 0, b"ab").next_position == 2
    bucket.delete_object("e")
    assert bucket.append_object("e", 0, b"xyz").crc == crc64(b"xyz")


def test_metadata_only_taken_from_the_creating_append(bucket: oss2.Bucket) -> None:
    bucket.append_object(
        "m.ts", 0, b"a", headers={"x-oss-meta-camera": "cam-1", "Content-Type": "video/mp2t"}
    )
    bucket.append_object(
        "m.ts", 1, b"b", headers={"x-oss-meta-camera": "cam-2", "Content-Type": "text/plain"}
    )
    head = bucket.head_object("m.ts")
    assert head.headers["x-oss-meta-camera"] == "cam-1"
    assert head.content_type == "video/mp2t"


def test_chunked_append(bucket: oss2.Bucket) -> None:
    def gen():  # type: ignore[no-untyped-def]
        yield b"x" * 10_000
        yield b"y" * 10

    result = bucket.append_object("c", 0, gen(), init_crc=0)
    assert result.next_position == 10_010
    assert result.crc == crc64(b"x" * 10_000 + b"y" * 10)


def test_append_with_sts_v4_credentials(oss: OssEnv) -> None:
    policy = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["oss:PutObject", "oss:GetObject"],
                "Resource": [f"acs:oss:*:*:{oss.bucket}/*"],
            }
        ],
    }
    creds = oss.assume_role(policies=[policy])
    for version in ("v1", "v4"):
        client = oss.bucket_client(oss.sts_auth(creds, version))
        key = f"videos/cam-0001/{version}.ts"
        first = client.append_object(key, 0, b"seg-1", init_crc=0)
        client.append_object(key, first.next_position, b"seg-2", init_crc=first.crc)
        assert client.head_object(key).server_crc == crc64(b"seg-1seg-2")


def test_concurrent_appends_at_the_same_position_exactly_one_wins(bucket: oss2.Bucket) -> None:
    bucket.append_object("race", 0, b"base")
    workers = 8
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def append(index: int) -> None:
        data = bytes([65 + index]) * 1000
        barrier.wait()
        try:
            bucket.append_object("race", 4, data)
            outcome = f"ok:{index}"
        except oss2.exceptions.PositionNotEqualToLength as exc:
            outcome = f"conflict:{exc.next_position}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [o for o in outcomes if o.startswith("ok:")]
    assert len(winners) == 1
    assert sorted(o for o in outcomes if not o.startswith("ok:")) == ["conflict:1004"] * (
        workers - 1
    )
    winner = int(winners[0].split(":")[1])
    content = bucket.get_object("race").read()
    assert content == b"base" + bytes([65 + winner]) * 1000
    assert bucket.head_object("race").server_crc == crc64(content)


@pytest.mark.parametrize("mode", MODES)
def test_append_size_limit(mode: str) -> None:
    with start_emulator(mode, max_append_size=100) as handle:
        bucket = OssEnv.from_handle(handle).bucket_client()
        bucket.append_object("cap", 0, b"x" * 60)
        with pytest.raises(oss2.exceptions.ServerError) as info:
            bucket.append_object("cap", 60, b"y" * 41)
        assert (info.value.status, info.value.code) == (409, "ObjectSizeTooLarge")
        assert info.value.headers["x-oss-next-append-position"] == "60"
        assert bucket.append_object("cap", 60, b"y" * 40).next_position == 100
        with pytest.raises(oss2.exceptions.ServerError) as single:
            bucket.append_object("other", 0, b"z" * 101)
        assert single.value.code == "EntityTooLarge"
        assert bucket.get_object("cap").read() == b"x" * 60 + b"y" * 40


def test_append_position_argument_errors(oss: OssEnv) -> None:
    from tests.simulator.oss._raw import raw_request

    missing = raw_request(oss, "POST", f"/{oss.bucket}/k?append", body=b"x")
    assert missing.status == 400
    assert b"<ArgumentName>position</ArgumentName>" in missing.body
    bad = raw_request(oss, "POST", f"/{oss.bucket}/k?append&position=-1", body=b"x")
    assert bad.status == 400
    assert b"<Code>InvalidArgument</Code>" in bad.body
