"""Symlinks through the real oss2: PutSymlink, GetSymlink, reads through a symlink."""

from __future__ import annotations

import oss2
import pytest


def test_symlink_reads_its_target(bucket: oss2.Bucket) -> None:
    bucket.put_object("videos/seg 1.ts", b"segment bytes", headers={"Content-Type": "video/MP2T"})
    bucket.put_symlink("videos/seg 1.ts", "latest.ts")
    assert bucket.get_symlink("latest.ts").target_key == "videos/seg 1.ts"
    assert bucket.get_object("latest.ts").read() == b"segment bytes"
    head = bucket.head_object("latest.ts")
    assert (head.content_length, head.content_type) == (13, "video/MP2T")
    assert bucket.get_object("latest.ts", byte_range=(0, 6)).read() == b"segment"
    # Re-pointing replaces the symlink; the old target is untouched.
    bucket.put_object("videos/seg 2.ts", b"next")
    bucket.put_symlink("videos/seg 2.ts", "latest.ts")
    assert bucket.get_object("latest.ts").read() == b"next"
    assert bucket.get_object("videos/seg 1.ts").read() == b"segment bytes"
    listed = {o.key: o.type for o in oss2.ObjectIterator(bucket)}
    assert listed["latest.ts"] == "Symlink"


def test_dangling_symlink_and_not_a_symlink(bucket: oss2.Bucket) -> None:
    bucket.put_symlink("not-yet", "dangling")
    with pytest.raises(oss2.exceptions.ServerError) as dangling:
        bucket.get_object("dangling")
    assert (dangling.value.status, dangling.value.code) == (404, "SymlinkTargetNotExist")
    bucket.put_object("plain", b"x")
    with pytest.raises(oss2.exceptions.ServerError) as plain:
        bucket.get_symlink("plain")
    assert (plain.value.status, plain.value.code) == (400, "NotSymlink")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_symlink("missing")
    # A symlink is not appendable.
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("dangling", 0, b"x")
