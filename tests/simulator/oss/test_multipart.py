"""Multipart uploads through the real, unmodified oss2: resumable uploads, iterators, abort,
OSS's rules, RAM actions, faults and durable mode (in-process and spawned emulators)."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path

import oss2
import pytest
import requests
from oss2.models import PartInfo

from simulator.oss.crc import crc64
from tests.simulator.oss._raw import raw_request, sign_v1
from tests.simulator.oss._server import MODES, OssEnv, start_emulator

KB = 1024
MB = 1024 * KB


def _file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    return path, data


def _resumable(
    bucket: oss2.Bucket, key: str, path: Path, store_dir: Path
) -> oss2.models.PutObjectResult:
    return oss2.resumable_upload(
        bucket,
        key,
        str(path),
        store=oss2.ResumableStore(root=str(store_dir)),
        multipart_threshold=5 * MB,
        part_size=5 * MB,
        num_threads=2,
    )


def test_resumable_upload_of_25_mb_in_5_mb_parts(
    oss: OssEnv, bucket: oss2.Bucket, tmp_path: Path
) -> None:
    path, data = _file(tmp_path, 25 * MB)
    result = _resumable(bucket, "big/video.mp4", path, tmp_path / "store")
    # oss2 has checked the combined CRC-64 against its own already; check it again here.
    assert result.crc == crc64(data)
    head = bucket.head_object("big/video.mp4")
    assert head.object_type == "Multipart"
    assert head.content_length == 25 * MB
    assert head.etag.endswith("-5")
    assert bucket.get_object("big/video.mp4").read() == data
    # Nothing of the upload is left behind.
    assert list(oss2.MultipartUploadIterator(bucket)) == []


def test_resumable_upload_survives_faults_by_resuming(
    oss: OssEnv, bucket: oss2.Bucket, tmp_path: Path
) -> None:
    path, data = _file(tmp_path, 12 * MB)
    oss.handle.set_faults(
        {
            "seed": 7,
            "rules": [{"operations": ["UploadPart"], "error_rate": 0.3, "lost_response_rate": 0.2}],
        }
    )
    failures = 0
    try:
        for _ in range(30):
            try:
                result = _resumable(bucket, "faulty.bin", path, tmp_path / "store")
                break
            except (oss2.exceptions.OssError, oss2.exceptions.RequestError):
                failures += 1
        else:
            pytest.fail("resumable_upload never completed")
        stats = oss.handle.stats()
    finally:
        oss.handle.clear_faults()
    assert result.crc == crc64(data)
    assert bucket.get_object("faulty.bin").read() == data
    injected = stats["faults"]["UploadPart"]
    assert injected.get("error", 0) + injected.get("lost_response", 0) > 0, stats
    assert failures > 0
    assert list(oss2.MultipartUploadIterator(bucket, prefix="faulty")) == []


def _upload_parts(
    bucket: oss2.Bucket, key: str, sizes: list[int]
) -> tuple[str, list[PartInfo], bytes]:
    upload_id = bucket.init_multipart_upload(key).upload_id
    parts: list[PartInfo] = []
    data = b""
    for number, size in enumerate(sizes, 1):
        chunk = os.urandom(size)
        result = bucket.upload_part(key, upload_id, number, chunk)
        parts.append(PartInfo(number, result.etag, size=size, part_crc=result.crc))
        data += chunk
    return upload_id, parts, data


def test_iterators_walk_uploads_and_parts_page_by_page(bucket: oss2.Bucket) -> None:
    ids = {}
    for key in ("a/1", "a/2", "b/1", "b/1"):
        ids.setdefault(key, []).append(bucket.init_multipart_upload(key).upload_id)
    listed = [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(bucket, max_uploads=1)]
    assert sorted(listed) == sorted((k, i) for k, v in ids.items() for i in v)
    assert len(listed) == 4
    by_prefix = oss2.MultipartUploadIterator(bucket, delimiter="/", max_uploads=1)
    assert [u.key for u in by_prefix] == ["a/", "b/"]
    upload_id = ids["a/1"][0]
    for number in (3, 1, 2):
        bucket.upload_part("a/1", upload_id, number, bytes([number]) * 10)
    parts = list(oss2.PartIterator(bucket, "a/1", upload_id, max_parts=1))
    assert [(p.part_number, p.size) for p in parts] == [(1, 10), (2, 10), (3, 10)]
    for key, upload_ids in ids.items():
        for one in upload_ids:
            bucket.abort_multipart_upload(key, one)
    assert list(oss2.MultipartUploadIterator(bucket)) == []


def test_abort_drops_the_upload(bucket: oss2.Bucket) -> None:
    upload_id, parts, _ = _upload_parts(bucket, "aborted", [100 * KB])
    bucket.abort_multipart_upload("aborted", upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("aborted", upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.complete_multipart_upload("aborted", upload_id, parts)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.abort_multipart_upload("aborted", upload_id)
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("aborted")


def test_complete_checks_order_etags_and_part_sizes(oss: OssEnv, bucket: oss2.Bucket) -> None:
    upload_id, parts, data = _upload_parts(bucket, "rules", [100 * KB, 100 * KB - 1, 10])
    # oss2 sorts the list itself: a descending one only travels raw.
    descending = "".join(
        f"<Part><PartNumber>{p.part_number}</PartNumber><ETag>{p.etag}</ETag></Part>"
        for p in (parts[1], parts[0])
    )
    order = raw_request(
        oss,
        "POST",
        f"/{oss.bucket}/rules?uploadId={upload_id}",
        resource=f"/{oss.bucket}/rules?uploadId={upload_id}",
        body=f"<CompleteMultipartUpload>{descending}</CompleteMultipartUpload>".encode(),
    )
    assert order.status == 400
    assert b"<Code>InvalidPartOrder</Code>" in order.body
    wrong = [PartInfo(1, "0" * 32), parts[1]]
    with pytest.raises(oss2.exceptions.ServerError) as etag:
        bucket.complete_multipart_upload("rules", upload_id, wrong)
    assert (etag.value.status, etag.value.code) == (400, "InvalidPart")
    with pytest.raises(oss2.exceptions.ServerError) as small:
        bucket.complete_multipart_upload("rules", upload_id, parts)
    assert (small.value.status, small.value.code) == (400, "EntityTooSmall")
    # Parts 1 and 3 (the small one last) are a valid object.
    result = bucket.complete_multipart_upload("rules", upload_id, [parts[0], parts[2]])
    expected = data[: 100 * KB] + data[-10:]
    assert result.crc == crc64(expected)
    assert bucket.get_object("rules").read() == expected


@pytest.mark.parametrize("number", ["0", "10001", "x"])
def test_part_numbers_outside_1_to_10000_are_invalid(bucket: oss2.Bucket, number: str) -> None:
    upload_id = bucket.init_multipart_upload("numbers").upload_id
    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.upload_part("numbers", upload_id, number, b"x")  # type: ignore[arg-type]
    assert bucket.upload_part("numbers", upload_id, 10000, b"x").status == 200


def test_complete_all_uses_every_uploaded_part(bucket: oss2.Bucket) -> None:
    upload_id, _, data = _upload_parts(bucket, "all", [100 * KB, 100 * KB, 5])
    result = bucket.complete_multipart_upload(
        "all", upload_id, None, headers={"x-oss-complete-all": "yes"}
    )
    assert result.crc == crc64(data)
    assert bucket.get_object("all").read() == data


def test_upload_part_copy_takes_a_range_of_an_object(bucket: oss2.Bucket) -> None:
    source = os.urandom(300 * KB)
    bucket.put_object("source", source)
    upload_id = bucket.init_multipart_upload("copied").upload_id
    first = bucket.upload_part_copy(
        bucket.bucket_name, "source", (0, 200 * KB - 1), "copied", upload_id, 1
    )
    second = bucket.upload_part_copy(
        bucket.bucket_name, "source", (200 * KB, 300 * KB - 1), "copied", upload_id, 2
    )
    parts = [PartInfo(1, first.etag), PartInfo(2, second.etag)]
    bucket.complete_multipart_upload("copied", upload_id, parts)
    assert bucket.get_object("copied").read() == source


def test_unknown_upload_id_is_no_such_upload(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part("k", "0" * 32, 1, b"x")


def test_ram_actions_of_multipart(oss: OssEnv, bucket: oss2.Bucket) -> None:
    resource = f"acs:oss:*:*:{oss.bucket}/*"
    put_only = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": ["oss:PutObject"], "Resource": [resource]}],
    }
    creds = oss.assume_role(policies=[put_only])
    camera = oss.bucket_client(oss.sts_auth(creds))
    upload_id = camera.init_multipart_upload("cam/seg").upload_id
    etag = camera.upload_part("cam/seg", upload_id, 1, b"abc").etag
    with pytest.raises(oss2.exceptions.AccessDenied):
        camera.list_parts("cam/seg", upload_id)
    with pytest.raises(oss2.exceptions.AccessDenied):
        camera.abort_multipart_upload("cam/seg", upload_id)
    camera.complete_multipart_upload("cam/seg", upload_id, [PartInfo(1, etag)])
    assert bucket.get_object("cam/seg").read() == b"abc"


@pytest.mark.parametrize("mode", MODES)
def test_uploads_in_progress_survive_a_restart(tmp_path: Path, mode: str) -> None:
    with start_emulator(mode, data_dir=tmp_path, fsync=True) as handle:
        env = OssEnv.from_handle(handle)
        name = env.bucket
        bucket = env.bucket_client()
        upload_id, parts, data = _upload_parts(bucket, "durable/seg", [100 * KB, 7])
        aborted = bucket.init_multipart_upload("durable/gone").upload_id
        bucket.abort_multipart_upload("durable/gone", aborted)
    with start_emulator(mode, data_dir=tmp_path) as handle:
        bucket = OssEnv.from_handle(handle, bucket=name).bucket_client()
        assert [u.upload_id for u in oss2.MultipartUploadIterator(bucket)] == [upload_id]
        listed = list(oss2.PartIterator(bucket, "durable/seg", upload_id))
        assert [(p.part_number, p.etag) for p in listed] == [(p.part_number, p.etag) for p in parts]
        result = bucket.complete_multipart_upload("durable/seg", upload_id, parts)
        assert result.crc == crc64(data)
    with start_emulator(mode, data_dir=tmp_path) as handle:
        bucket = OssEnv.from_handle(handle, bucket=name).bucket_client()
        assert bucket.get_object("durable/seg").read() == data
        assert list(oss2.MultipartUploadIterator(bucket)) == []


def test_a_part_with_a_wrong_content_md5_is_refused_and_not_stored(bucket: oss2.Bucket) -> None:
    upload_id = bucket.init_multipart_upload("md5").upload_id
    good = bucket.upload_part("md5", upload_id, 1, b"first")
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.upload_part(
            "md5", upload_id, 1, b"second", headers={"Content-MD5": oss2.utils.content_md5(b"x")}
        )
    right = oss2.utils.content_md5(b"third")
    assert bucket.upload_part("md5", upload_id, 2, b"third", headers={"Content-MD5": right})
    parts = list(oss2.PartIterator(bucket, "md5", upload_id))
    assert (parts[0].part_number, parts[0].etag) == (1, good.etag)


def test_get_uploads_on_a_virtual_host_bucket_lists_uploads(
    oss: OssEnv, bucket: oss2.Bucket
) -> None:
    upload_id = bucket.init_multipart_upload("vh/seg").upload_id
    headers = {
        "Date": formatdate(usegmt=True),
        "Host": f"{oss.bucket}.oss-cn-hangzhou.aliyuncs.com",
    }
    signature = sign_v1(oss.handle.access_key_secret, "GET", f"/{oss.bucket}/?uploads", headers)
    headers["Authorization"] = f"OSS {oss.handle.access_key_id}:{signature}"
    response = requests.get(f"{oss.endpoint}/?uploads", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert "<ListMultipartUploadsResult>" in response.text
    assert f"<UploadId>{upload_id}</UploadId>" in response.text
    assert "<Key>vh/seg</Key>" in response.text
