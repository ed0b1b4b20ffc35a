"""Object operations through the real oss2 client: put, get, head, meta, delete, copy, batch delete."""

from __future__ import annotations

import base64
import hashlib
import re

import oss2
import pytest
import requests

from simulator.oss.crc import crc64
from tests.simulator.oss._server import OssEnv

KEYS = [
    "plain.bin",
    "dir/sub/file.txt",
    "with space and+plus.txt",
    "ünïcødé/视频/カメラ.mp4",
    "a//double//slash",
    "dots/../../etc/passwd",
    "trailing/",
    "%2F-literal-percent%41",
    "q?x#y&z=1;a,b@c$d!e'f(g)h*i~j",
    "emoji 🎥/clip.ts",
    "tab\tand\nnewline",
    "x" * 1023,
]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k[:30])
def test_keys_round_trip_through_put_get_list(any_bucket: oss2.Bucket, key: str) -> None:
    data = key.encode("utf-8") * 3
    result = any_bucket.put_object(key, data)
    assert result.etag == hashlib.md5(data, usedforsecurity=False).hexdigest().upper()
    assert result.crc == crc64(data)
    assert any_bucket.get_object(key).read() == data
    assert [o.key for o in oss2.ObjectIterator(any_bucket)] == [key]
    assert any_bucket.object_exists(key)


def test_put_object_headers_and_defaults(bucket: oss2.Bucket) -> None:
    result = bucket.put_object("noext", b"abc")
    assert result.status == 200
    assert re.fullmatch(r"[0-9A-F]{24}", result.request_id)
    head = bucket.head_object("noext")
    assert head.content_type == "application/octet-stream"
    assert head.object_type == "Normal"
    assert head.content_length == 3
    assert head.etag == hashlib.md5(b"abc", usedforsecurity=False).hexdigest().upper()
    assert head.server_crc == crc64(b"abc")
    assert head.headers["x-oss-storage-class"] == "Standard"
    assert head.headers["accept-ranges"] == "bytes"
    assert re.fullmatch(
        r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT", head.headers["last-modified"]
    )
    assert "x-oss-next-append-position" not in head.headers


def test_user_metadata_and_stored_headers(bucket: oss2.Bucket) -> None:
    bucket.put_object(
        "photo.jpg",
        b"jpeg",
        headers={
            "x-oss-meta-Owner": "me",
            "x-oss-meta-camera": "cam-0001",
            "Content-Type": "image/jpeg",
            "Cache-Control": "no-cache",
            "Content-Disposition": "attachment",
        },
    )
    head = bucket.head_object("photo.jpg")
    assert head.headers["x-oss-meta-owner"] == "me"
    assert head.headers["x-oss-meta-camera"] == "cam-0001"
    assert head.content_type == "image/jpeg"
    assert head.headers["cache-control"] == "no-cache"
    got = bucket.get_object("photo.jpg")
    assert got.headers["content-disposition"] == "attachment"
    assert got.headers["x-oss-meta-owner"] == "me"
    # oss2 guesses Content-Type from the key's extension when none is given.
    bucket.put_object("notes.txt", b"hi")
    assert bucket.head_object("notes.txt").content_type == "text/plain"


def test_overwrite_replaces_content_and_metadata(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"first", headers={"x-oss-meta-v": "1"})
    bucket.put_object("k", b"second!")
    head = bucket.head_object("k")
    assert bucket.get_object("k").read() == b"second!"
    assert "x-oss-meta-v" not in head.headers
    assert head.content_length == 7


def test_forbid_overwrite(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"1")
    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.put_object("k", b"2", headers={"x-oss-forbid-overwrite": "true"})
    assert (info.value.status, info.value.code) == (409, "FileAlreadyExists")
    assert bucket.get_object("k").read() == b"1"


def test_chunked_upload_from_generator(bucket: oss2.Bucket) -> None:
    chunks = [b"a" * 1000, b"b" * 70_000, b"", b"c" * 5]

    def gen():  # type: ignore[no-untyped-def]
        yield from chunks

    result = bucket.put_object("chunked.bin", gen())
    data = b"".join(chunks)
    assert result.crc == crc64(data)
    assert bucket.get_object("chunked.bin").read() == data
    # An empty body with CRC checking on is also sent chunked.
    bucket.put_object("empty", b"")
    assert bucket.get_object("empty").read() == b""


def test_large_object_streams_and_crc_checks(bucket: oss2.Bucket, tmp_path: object) -> None:
    data = bytes(range(256)) * 12_000  # ~3 MiB: several streamed chunks
    bucket.put_object("big.bin", data)
    stream = bucket.get_object("big.bin")
    assert stream.read() == data
    assert stream.server_crc == crc64(data)
    assert (
        bucket.get_object("big.bin", byte_range=(1_000_000, 2_500_000)).read()
        == data[1_000_000:2_500_001]
    )


def test_get_object_to_file_verifies_crc(
    bucket: oss2.Bucket, tmp_path: pytest.TempPathFactory
) -> None:
    bucket.put_object("f.bin", b"0123456789" * 100)
    target = f"{tmp_path}/out.bin"
    bucket.get_object_to_file("f.bin", target)
    with open(target, "rb") as fh:
        assert fh.read() == b"0123456789" * 100


@pytest.mark.parametrize(
    ("byte_range", "status", "expected"),
    [
        ((0, 9), 206, b"0123456789"),
        ((5, None), 206, b"56789" * 1 + b"0123456789" * 9),
        ((None, 3), 206, b"789"),
        ((0, 99), 206, b"0123456789" * 10),
        ((0, 100), 200, b"0123456789" * 10),  # end past the object: OSS ignores the range
        ((100, 120), 200, b"0123456789" * 10),  # start past the object: ignored too
        ((None, 500), 200, b"0123456789" * 10),  # suffix longer than the object: ignored
    ],
)
def test_ranges_oss_behaviour(
    bucket: oss2.Bucket, byte_range: tuple[int | None, int | None], status: int, expected: bytes
) -> None:
    bucket.put_object("r", b"0123456789" * 10)
    result = bucket.get_object("r", byte_range=byte_range)
    assert result.status == status
    assert result.read() == expected
    if status == 206:
        first = 100 - len(expected) if byte_range[0] is None else byte_range[0]
        assert result.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/100"
    assert result.server_crc == crc64(b"0123456789" * 10)


def test_ranges_standard_behaviour(bucket: oss2.Bucket) -> None:
    bucket.put_object("r", b"0123456789")
    standard = {"x-oss-range-behavior": "standard"}
    clamped = bucket.get_object("r", byte_range=(5, 100), headers=standard)
    assert (clamped.status, clamped.read()) == (206, b"56789")
    assert clamped.headers["content-range"] == "bytes 5-9/10"
    whole = bucket.get_object("r", byte_range=(None, 50), headers=standard)
    assert (whole.status, whole.read()) == (206, b"0123456789")
    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.get_object("r", byte_range=(10, 20), headers=standard)
    assert (info.value.status, info.value.code) == (416, "InvalidRange")


def test_response_header_overrides(bucket: oss2.Bucket) -> None:
    bucket.put_object("doc", b"text", headers={"Content-Type": "text/plain"})
    params = {
        "response-content-type": "application/json",
        "response-content-disposition": 'attachment; filename="a b.json"',
        "response-cache-control": "max-age=60",
        "response-expires": "Thu, 01 Dec 2033 16:00:00 GMT",
        "response-content-language": "zh-CN",
        "response-content-encoding": "identity",
    }
    result = bucket.get_object("doc", params=params)
    assert result.read() == b"text"
    assert result.headers["content-type"] == "application/json"
    assert result.headers["content-disposition"] == 'attachment; filename="a b.json"'
    assert result.headers["cache-control"] == "max-age=60"
    assert result.headers["expires"] == "Thu, 01 Dec 2033 16:00:00 GMT"
    assert result.headers["content-language"] == "zh-CN"


def test_get_object_meta(any_bucket: oss2.Bucket) -> None:
    any_bucket.put_object("m", b"12345")
    meta = any_bucket.get_object_meta("m")
    assert meta.content_length == 5
    assert meta.etag == hashlib.md5(b"12345", usedforsecurity=False).hexdigest().upper()
    assert meta.last_modified > 0
    with pytest.raises(oss2.exceptions.NoSuchKey):
        any_bucket.get_object_meta("missing")


def test_head_errors_travel_in_x_oss_err(bucket: oss2.Bucket, oss: OssEnv) -> None:
    with pytest.raises(oss2.exceptions.NoSuchKey) as info:
        bucket.head_object("missing/key")
    assert info.value.details["Key"] == "missing/key"
    assert re.fullmatch(r"[0-9A-F]{24}", info.value.request_id)
    ghost = oss.bucket_client(bucket="no-such-bucket-here")
    with pytest.raises(oss2.exceptions.NoSuchBucket) as bucket_info:
        ghost.head_object("k")
    assert bucket_info.value.details["BucketName"] == "no-such-bucket-here"
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        ghost.object_exists("k")
    assert not bucket.object_exists("missing")


def test_get_missing_object_has_xml_error(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.NoSuchKey) as info:
        bucket.get_object("nope")
    assert info.value.status == 404
    assert info.value.message == "The specified key does not exist."
    assert info.value.details["Key"] == "nope"


def test_delete_object_is_idempotent(bucket: oss2.Bucket, oss: OssEnv) -> None:
    bucket.put_object("d", b"1")
    assert bucket.delete_object("d").status == 204
    assert bucket.delete_object("d").status == 204
    assert not bucket.object_exists("d")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        oss.bucket_client(bucket="no-such-bucket-here").delete_object("d")


def test_batch_delete(any_bucket: oss2.Bucket) -> None:
    keys = ["a", "dir/b c", "ü+/x", "never-existed"]
    for key in keys[:3]:
        any_bucket.put_object(key, b"1")
    result = any_bucket.batch_delete_objects(keys)
    assert result.deleted_keys == keys
    assert list(oss2.ObjectIterator(any_bucket)) == []


def test_batch_delete_quiet_mode(oss: OssEnv, bucket: oss2.Bucket) -> None:
    from tests.simulator.oss._raw import raw_request

    bucket.put_object("q1", b"1")
    body = b"<Delete><Quiet>true</Quiet><Object><Key>q1</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    response = raw_request(
        oss, "POST", f"/{oss.bucket}/?delete", headers={"Content-MD5": md5}, body=body
    )
    assert response.status == 200
    assert b"<Deleted>" not in response.body
    assert not bucket.object_exists("q1")


def test_copy_object(any_bucket: oss2.Bucket, oss: OssEnv) -> None:
    any_bucket.put_object(
        "src/ä b.txt", b"payload", headers={"x-oss-meta-a": "1", "Content-Type": "text/x-a"}
    )
    result = any_bucket.copy_object(oss.bucket, "src/ä b.txt", "dst/copy.txt")
    assert result.etag == hashlib.md5(b"payload", usedforsecurity=False).hexdigest().upper()
    head = any_bucket.head_object("dst/copy.txt")
    assert head.headers["x-oss-meta-a"] == "1"
    assert head.content_type == "text/x-a"
    assert any_bucket.get_object("dst/copy.txt").read() == b"payload"
    any_bucket.copy_object(
        oss.bucket,
        "src/ä b.txt",
        "dst/replaced.txt",
        headers={
            "x-oss-metadata-directive": "REPLACE",
            "x-oss-meta-b": "2",
            "Content-Type": "text/x-b",
        },
    )
    replaced = any_bucket.head_object("dst/replaced.txt")
    assert "x-oss-meta-a" not in replaced.headers
    assert replaced.headers["x-oss-meta-b"] == "2"
    assert replaced.content_type == "text/x-b"
    # Overwriting the source later does not change the copy.
    any_bucket.put_object("src/ä b.txt", b"changed")
    assert any_bucket.get_object("dst/copy.txt").read() == b"payload"


def test_copy_errors(bucket: oss2.Bucket, oss: OssEnv) -> None:
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.copy_object(oss.bucket, "missing", "dst")
    bucket.append_object("app", 0, b"abc")
    with pytest.raises(oss2.exceptions.InvalidArgument) as info:
        bucket.copy_object(oss.bucket, "app", "dst")
    assert info.value.name == "x-oss-copy-source"
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        bucket.copy_object("no-such-bucket-here", "k", "dst")
    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.copy_object(oss.bucket, "app", "dst", headers={"x-oss-metadata-directive": "MOVE"})


def test_presigned_get_and_put_v1_and_v4(oss: OssEnv) -> None:
    for version in ("v1", "v4"):
        client = oss.bucket_client(oss.auth(version))
        key = f"{version}/presigned file+.bin"
        put_url = client.sign_url(
            "PUT", key, 60, headers={"Content-Type": "application/octet-stream"}
        )
        put = requests.put(
            put_url,
            data=b"via-url",
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert put.status_code == 200, put.text
        get_url = client.sign_url("GET", key, 60)
        got = requests.get(get_url, timeout=10)
        assert (got.status_code, got.content) == (200, b"via-url")
        assert client.get_object_with_url(get_url).read() == b"via-url"
        # The signed Content-Type is part of the signature.
        wrong = requests.put(put_url, data=b"x", headers={"Content-Type": "text/plain"}, timeout=10)
        assert wrong.status_code == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in wrong.text


def test_conditional_get_and_head(bucket: oss2.Bucket) -> None:
    bucket.put_object("c", b"cond")
    head = bucket.head_object("c")
    etag, modified = head.headers["etag"], head.headers["last-modified"]
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", headers={"If-None-Match": etag})
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.head_object("c", headers={"If-Modified-Since": modified})
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.get_object("c", headers={"If-Match": '"0123"'})
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.head_object("c", headers={"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert bucket.get_object("c", headers={"If-Match": etag}).read() == b"cond"
    assert bucket.get_object("c", headers={"If-None-Match": '"other"'}).read() == b"cond"
    assert (
        bucket.get_object(
            "c", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
        ).read()
        == b"cond"
    )
    assert bucket.get_object("c", headers={"If-Modified-Since": "garbage"}).read() == b"cond"


def test_presigned_urls_with_literal_slashes_and_oss2_url_helpers(oss: OssEnv) -> None:
    for version in ("v1", "v4"):
        client = oss.bucket_client(oss.auth(version))
        key = f"{version}/dir/sub file.bin"
        put_url = client.sign_url("PUT", key, 60, slash_safe=True)
        assert f"{version}/dir/sub" in put_url
        assert client.put_object_with_url(put_url, b"slashes").status == 200
        get_url = client.sign_url("GET", key, 60, slash_safe=True)
        assert client.get_object_with_url(get_url).read() == b"slashes"
        head = requests.head(client.sign_url("HEAD", key, 60), timeout=10)
        assert (head.status_code, head.headers["content-length"]) == (200, "7")
