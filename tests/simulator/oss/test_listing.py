"""ListObjects V1 and V2 through oss2: prefixes, delimiters, paging, encoding, owners, bad arguments."""

from __future__ import annotations

import oss2
import pytest

from tests.simulator.oss._raw import raw_request
from tests.simulator.oss._server import OssEnv

KEYS = sorted(
    [
        "a.txt",
        "b/1.ts",
        "b/2.ts",
        "b/sub/3.ts",
        "c d/e+f.txt",
        "c d/x.txt",
        "z/ü.txt",
        "z/视频.ts",
        "zz",
    ]
)


@pytest.fixture
def filled(any_bucket: oss2.Bucket) -> oss2.Bucket:
    for key in KEYS:
        any_bucket.put_object(key, key.encode())
    return any_bucket


def test_v1_and_v2_list_everything_in_byte_order(filled: oss2.Bucket) -> None:
    v1 = [o.key for o in oss2.ObjectIterator(filled)]
    v2 = [o.key for o in oss2.ObjectIteratorV2(filled)]
    expected = sorted(KEYS, key=lambda k: k.encode("utf-8"))
    assert v1 == v2 == expected


def test_listing_entries_carry_what_oss2_needs(filled: oss2.Bucket) -> None:
    result = filled.list_objects(prefix="a")
    (entry,) = result.object_list
    assert (entry.key, entry.size, entry.type, entry.storage_class) == (
        "a.txt",
        5,
        "Normal",
        "Standard",
    )
    assert entry.last_modified > 0
    assert entry.owner is not None
    v2 = filled.list_objects_v2(prefix="a")
    assert v2.object_list[0].owner is None
    with_owner = filled.list_objects_v2(prefix="a", fetch_owner=True)
    assert with_owner.object_list[0].owner is not None


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_delimiter_groups_common_prefixes(filled: oss2.Bucket, version: str) -> None:
    lister = filled.list_objects if version == "v1" else filled.list_objects_v2
    top = lister(delimiter="/")
    assert [o.key for o in top.object_list] == ["a.txt", "zz"]
    assert top.prefix_list == ["b/", "c d/", "z/"]
    sub = lister(prefix="b/", delimiter="/")
    assert [o.key for o in sub.object_list] == ["b/1.ts", "b/2.ts"]
    assert sub.prefix_list == ["b/sub/"]


@pytest.mark.parametrize("page", [1, 2, 3])
def test_paging_v1_and_v2_with_delimiter(filled: oss2.Bucket, page: int) -> None:
    seen_v1: list[str] = []
    marker = ""
    while True:
        result = filled.list_objects(delimiter="/", marker=marker, max_keys=page)
        seen_v1 += [o.key for o in result.object_list] + result.prefix_list
        assert len(result.object_list) + len(result.prefix_list) <= page
        if not result.is_truncated:
            break
        marker = result.next_marker
    seen_v2: list[str] = []
    token = ""
    while True:
        result2 = filled.list_objects_v2(delimiter="/", continuation_token=token, max_keys=page)
        seen_v2 += [o.key for o in result2.object_list] + result2.prefix_list
        if not result2.is_truncated:
            break
        token = result2.next_continuation_token
    expected = ["a.txt", "b/", "c d/", "z/", "zz"]
    assert sorted(seen_v1) == sorted(seen_v2) == expected


def test_iterators_page_through_many_keys(bucket: oss2.Bucket) -> None:
    keys = [f"cam/{i:04d}.ts" for i in range(250)]
    for key in keys:
        bucket.put_object(key, b"")
    assert [o.key for o in oss2.ObjectIterator(bucket, prefix="cam/", max_keys=37)] == keys
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, prefix="cam/", max_keys=1000)] == keys


def test_marker_and_start_after(filled: oss2.Bucket) -> None:
    after = filled.list_objects(marker="b/2.ts")
    assert [o.key for o in after.object_list][:2] == ["b/sub/3.ts", "c d/e+f.txt"]
    v2 = filled.list_objects_v2(start_after="z/")
    assert [o.key for o in v2.object_list] == ["z/ü.txt", "z/视频.ts", "zz"]


def test_prefix_that_matches_nothing(filled: oss2.Bucket) -> None:
    result = filled.list_objects(prefix="nothing/")
    assert (result.object_list, result.prefix_list, result.is_truncated) == ([], [], False)


def test_url_encoding_in_raw_listing(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("sp ace/ü+.txt", b"1")
    raw = raw_request(
        oss, "GET", f"/{oss.bucket}/?encoding-type=url&delimiter=%2F&prefix=sp%20ace%2F"
    )
    assert raw.status == 200
    assert b"<EncodingType>url</EncodingType>" in raw.body
    assert b"<Key>sp%20ace%2F%C3%BC%2B.txt</Key>" in raw.body
    assert b"<Prefix>sp%20ace%2F</Prefix>" in raw.body
    assert b"<LastModified>" in raw.body
    assert b".000Z</LastModified>" in raw.body
    plain = raw_request(oss, "GET", f"/{oss.bucket}/")
    assert "<Key>sp ace/ü+.txt</Key>".encode() in plain.body


@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("max-keys=1001", "max-keys"),
        ("max-keys=0", "max-keys"),
        ("max-keys=ten", "max-keys"),
        ("encoding-type=base64", "encoding-type"),
        ("list-type=2&continuation-token=not-a-token", "continuation-token"),
        ("list-type=2&fetch-owner=maybe", "fetch-owner"),
    ],
)
def test_bad_listing_arguments(oss: OssEnv, query: str, argument: str) -> None:
    response = raw_request(
        oss, "GET", f"/{oss.bucket}/?{query}", resource=f"/{oss.bucket}/" + _token_resource(query)
    )
    assert response.status == 400
    assert b"<Code>InvalidArgument</Code>" in response.body
    assert f"<ArgumentName>{argument}</ArgumentName>".encode() in response.body


def _token_resource(query: str) -> str:
    return "?continuation-token=not-a-token" if "continuation-token" in query else ""


def test_bad_continuation_token_through_oss2(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.InvalidArgument) as info:
        bucket.list_objects_v2(continuation_token="forged")
    assert info.value.name == "continuation-token"


def test_listing_a_missing_bucket(oss: OssEnv) -> None:
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        oss.bucket_client(bucket="no-such-bucket-here").list_objects()
