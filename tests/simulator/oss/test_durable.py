"""The durable store: state survives a restart, interrupted writes are repaired on load."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import oss2
import pytest
from oss2.models import BucketLifecycle, LifecycleExpiration, LifecycleRule

from simulator.oss import DurableStore, ObjectFields, OssModel
from simulator.oss.crc import crc64
from tests.simulator.oss._server import MODES, OssEnv, start_emulator

GIB = 1024**3


def _model(root: Path, *, fsync: bool = False) -> OssModel:
    return OssModel(DurableStore(root, fsync=fsync), max_append_object_size=5 * GIB)


@pytest.mark.parametrize("mode", MODES)
def test_everything_survives_a_restart(tmp_path: Path, mode: str) -> None:
    with start_emulator(mode, data_dir=tmp_path, fsync=True) as handle:
        env = OssEnv.from_handle(handle)
        bucket = env.bucket_client()
        name = env.bucket
        bucket.put_object(
            "normal/ä b.txt",
            b"hello",
            headers={"x-oss-meta-camera": "cam-1", "Content-Type": "text/x"},
        )
        first = bucket.append_object("video/seg.ts", 0, b"part-1,", init_crc=0)
        bucket.append_object("video/seg.ts", first.next_position, b"part-2", init_crc=first.crc)
        bucket.put_object("gone", b"x")
        bucket.delete_object("gone")
        bucket.put_object("replaced", b"old")
        bucket.put_object("replaced", b"new!")
        bucket.copy_object(name, "normal/ä b.txt", "copy")
        rules = [
            LifecycleRule(
                "v", "video/", status=LifecycleRule.ENABLED, expiration=LifecycleExpiration(days=3)
            )
        ]
        bucket.put_bucket_lifecycle(BucketLifecycle(rules))
        bucket.put_bucket_public_access_block(True)
        extra = env.bucket_client(bucket="extra-" + name)
        extra.create_bucket()
        extra.delete_bucket()
    with start_emulator(mode, data_dir=tmp_path) as handle:
        env = OssEnv.from_handle(handle, bucket=name)
        bucket = env.bucket_client()
        assert [o.key for o in oss2.ObjectIterator(bucket)] == [
            "copy",
            "normal/ä b.txt",
            "replaced",
            "video/seg.ts",
        ]
        head = bucket.head_object("normal/ä b.txt")
        assert (head.headers["x-oss-meta-camera"], head.content_type) == ("cam-1", "text/x")
        assert bucket.get_object("replaced").read() == b"new!"
        assert bucket.get_object("copy").read() == b"hello"
        seg = bucket.head_object("video/seg.ts")
        assert (seg.object_type, seg.content_length, seg.server_crc) == (
            "Appendable",
            13,
            crc64(b"part-1,part-2"),
        )
        more = bucket.append_object("video/seg.ts", 13, b",part-3", init_crc=seg.server_crc)
        assert more.crc == crc64(b"part-1,part-2,part-3")
        assert bucket.get_bucket_lifecycle().rules[0].expiration.days == 3
        assert bucket.get_bucket_public_access_block().block_public_access is True
        assert "extra-" + name not in [b.name for b in oss2.BucketIterator(env.service())]


@pytest.mark.parametrize("mode", MODES)
def test_concurrent_appends_with_fsync_exactly_one_wins(tmp_path: Path, mode: str) -> None:
    with start_emulator(mode, data_dir=tmp_path, fsync=True) as handle:
        bucket = OssEnv.from_handle(handle).bucket_client()
        bucket.append_object("race", 0, b"0")
        barrier = threading.Barrier(6)
        results: list[bool] = []

        def append(i: int) -> None:
            barrier.wait()
            try:
                bucket.append_object("race", 1, bytes([97 + i]) * 100)
                results.append(True)
            except oss2.exceptions.PositionNotEqualToLength:
                results.append(False)

        threads = [threading.Thread(target=append, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == [False] * 5 + [True]
        data = bucket.get_object("race").read()
        assert len(data) == 101
        assert bucket.head_object("race").server_crc == crc64(data)


def test_unacknowledged_append_bytes_are_cut_off_on_load(tmp_path: Path) -> None:
    model = _model(tmp_path)
    model.create_bucket("b-1", owner="1", region="cn-hangzhou", now=0)
    model.append_object("b-1", "seg", 0, b"committed", ObjectFields(), now=0)
    (data_file,) = tmp_path.glob("buckets/b-1/objects/*/*.data")
    # A crash after the bytes hit the data file but before the record grew to cover them.
    with open(data_file, "ab") as fh:
        fh.write(b"torn-tail")
    reopened = _model(tmp_path)
    record = reopened.head_object("b-1", "seg")
    assert (record.size, record.crc64) == (9, crc64(b"committed"))
    assert data_file.stat().st_size == 9
    after = reopened.append_object("b-1", "seg", 9, b"+next", ObjectFields(), now=1)
    assert after.crc64 == crc64(b"committed+next")
    _, reader = reopened.open_object("b-1", "seg")
    assert reader.read(0, 100) == b"committed+next"
    reader.close()


def test_load_removes_orphans_and_drops_records_without_bytes(tmp_path: Path) -> None:
    model = _model(tmp_path)
    model.create_bucket("b-2", owner="1", region="cn-hangzhou", now=0)
    model.put_object("b-2", "keep", b"1234", ObjectFields(), now=0)
    model.put_object("b-2", "lost", b"5678", ObjectFields(), now=0)
    shard_files = list(tmp_path.glob("buckets/b-2/objects/*/*"))
    lost_data = next(p for p in shard_files if p.suffix == ".data" and _record_of(p) == "lost")
    lost_data.unlink()
    orphan = lost_data.with_name("0" * 64 + ".7.data")
    orphan.write_bytes(b"orphan")
    temp = lost_data.with_name("x.json.tmp")
    temp.write_bytes(b"{")
    reopened = _model(tmp_path)
    assert [
        r.key
        for r in reopened.list_objects(
            "b-2", prefix="", delimiter="", after="", max_keys=10
        ).contents
    ] == ["keep"]
    assert not orphan.exists()
    assert not temp.exists()


def _record_of(data_path: Path) -> str:
    import json

    digest = data_path.name.split(".")[0]
    return str(json.loads(data_path.with_name(digest + ".json").read_text())["key"])


def test_overwrite_and_delete_leave_no_stale_files(tmp_path: Path) -> None:
    model = _model(tmp_path, fsync=True)
    model.create_bucket("b-3", owner="1", region="cn-hangzhou", now=0)
    model.append_object("b-3", "k", 0, b"appendable", ObjectFields(), now=0)
    model.put_object("b-3", "k", b"normal", ObjectFields(), now=1)
    model.put_object("b-3", "k", b"normal again", ObjectFields(), now=2)
    files = sorted(p.name.split(".", 1)[1] for p in tmp_path.glob("buckets/b-3/objects/*/*"))
    assert files == ["2.data", "json"]
    model.delete_object("b-3", "k")
    assert list(tmp_path.glob("buckets/b-3/objects/*/*")) == []
    model.delete_bucket("b-3")
    assert not (tmp_path / "buckets" / "b-3").exists()
    assert _model(tmp_path).list_buckets("1", prefix="", marker="", max_keys=10) == ([], False)


def test_unreadable_bucket_directory_is_skipped(tmp_path: Path) -> None:
    model = _model(tmp_path)
    model.create_bucket("good", owner="1", region="cn-hangzhou", now=0)
    os.makedirs(tmp_path / "buckets" / "broken")
    (tmp_path / "buckets" / "broken" / "bucket.json").write_text("{not json")
    buckets, _ = _model(tmp_path).list_buckets("1", prefix="", marker="", max_keys=10)
    assert [b.name for b in buckets] == ["good"]
