"""Object tagging through the real oss2: Put/Get/DeleteObjectTagging and ``x-oss-tagging``."""

from __future__ import annotations

from pathlib import Path

import oss2
import pytest
from oss2.models import Tagging, TaggingRule

from tests.simulator.oss._raw import raw_request
from tests.simulator.oss._server import MODES, OssEnv, start_emulator


def _tagging(**tags: str) -> Tagging:
    rule = TaggingRule()
    for key, value in tags.items():
        rule.add(key, value)
    return Tagging(rule)


def test_put_get_delete_tags(bucket: oss2.Bucket) -> None:
    bucket.put_object("tagged", b"x")
    assert bucket.get_object_tagging("tagged").tag_set.tagging_rule == {}
    bucket.put_object_tagging("tagged", _tagging(camera="cam-1", kind="hls segment"))
    rules = bucket.get_object_tagging("tagged").tag_set.tagging_rule
    assert rules == {"camera": "cam-1", "kind": "hls segment"}
    assert bucket.head_object("tagged").headers["x-oss-tagging-count"] == "2"
    bucket.delete_object_tagging("tagged")
    assert bucket.get_object_tagging("tagged").tag_set.tagging_rule == {}
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.put_object_tagging("missing", _tagging(a="1"))


def test_tags_given_at_upload(bucket: oss2.Bucket) -> None:
    bucket.put_object("put", b"x", headers={"x-oss-tagging": "a=1&b=x%20y"})
    assert bucket.get_object_tagging("put").tag_set.tagging_rule == {"a": "1", "b": "x y"}
    upload_id = bucket.init_multipart_upload("mp", headers={"x-oss-tagging": "c=3"}).upload_id
    etag = bucket.upload_part("mp", upload_id, 1, b"p").etag
    bucket.complete_multipart_upload("mp", upload_id, [oss2.models.PartInfo(1, etag)])
    assert bucket.get_object_tagging("mp").tag_set.tagging_rule == {"c": "3"}


def test_tag_rules(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"x")
    # oss2 refuses these itself: they only travel raw.
    eleven = "".join(f"<Tag><Key>t{i}</Key><Value>v</Value></Tag>" for i in range(11))
    long_key = f"<Tag><Key>{'k' * 129}</Key><Value>v</Value></Tag>"
    for tags in (eleven, long_key):
        refused = raw_request(
            oss,
            "PUT",
            f"/{oss.bucket}/k?tagging",
            resource=f"/{oss.bucket}/k?tagging",
            body=f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode(),
        )
        assert (refused.status, b"<Code>InvalidArgument</Code>" in refused.body) == (400, True)
    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.put_object("bad", b"x", headers={"x-oss-tagging": "a=1&a=2"})
    broken = raw_request(
        oss,
        "PUT",
        f"/{oss.bucket}/k?tagging",
        resource=f"/{oss.bucket}/k?tagging",
        body=b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
    )
    assert (broken.status, b"<Code>MalformedXML</Code>" in broken.body) == (400, True)


def test_tagging_needs_its_ram_actions(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"x")
    creds = oss.assume_role(
        policies=[
            {
                "Version": "1",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["oss:GetObjectTagging"],
                        "Resource": [f"acs:oss:*:*:{oss.bucket}/*"],
                    }
                ],
            }
        ]
    )
    reader = oss.bucket_client(oss.sts_auth(creds))
    assert reader.get_object_tagging("k").tag_set.tagging_rule == {}
    with pytest.raises(oss2.exceptions.AccessDenied):
        reader.put_object_tagging("k", _tagging(a="1"))


@pytest.mark.parametrize("mode", MODES)
def test_tags_survive_a_restart(tmp_path: Path, mode: str) -> None:
    with start_emulator(mode, data_dir=tmp_path) as handle:
        env = OssEnv.from_handle(handle)
        name = env.bucket
        env.bucket_client().put_object("k", b"x")
        env.bucket_client().put_object_tagging("k", _tagging(a="1"))
    with start_emulator(mode, data_dir=tmp_path) as handle:
        bucket = OssEnv.from_handle(handle, bucket=name).bucket_client()
        assert bucket.get_object_tagging("k").tag_set.tagging_rule == {"a": "1"}
