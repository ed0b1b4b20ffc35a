"""Object ACLs: PutObjectAcl / GetObjectAcl, ``x-oss-object-acl`` on uploads, anonymous reads
of public objects, and Block Public Access, with the real oss2 client and plain HTTP."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import oss2
import pytest

from simulator.oss import DurableStore, ObjectFields, OssModel
from tests.simulator.oss._raw import raw_request
from tests.simulator.oss._server import OssEnv

HEADER = "x-oss-object-acl"


def _anonymous(oss: OssEnv, method: str, key: str) -> tuple[int, bytes]:
    """A plain HTTP request with no signature at all."""
    parts = urlsplit(oss.endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request(method, f"/{oss.bucket}/{key}")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _error(call: object) -> oss2.exceptions.OssError:
    with pytest.raises(oss2.exceptions.OssError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_put_and_get_object_acl_round_trip(any_bucket: oss2.Bucket) -> None:
    bucket = any_bucket
    bucket.put_object("k", b"v")
    assert bucket.get_object_acl("k").acl == oss2.OBJECT_ACL_DEFAULT
    for acl in ("private", "public-read", "public-read-write", "default"):
        bucket.put_object_acl("k", acl)
        assert bucket.get_object_acl("k").acl == acl
    assert bucket.get_object("k").read() == b"v"


def test_get_object_acl_answers_the_access_control_policy(bucket: oss2.Bucket, oss: OssEnv) -> None:
    bucket.put_object("k", b"v", headers={HEADER: "private"})
    response = raw_request(oss, "GET", f"/{oss.bucket}/k?acl")
    assert response.status == 200
    body = response.body
    assert b"<AccessControlPolicy><Owner><ID>" + oss.account_id.encode() in body
    assert b"<AccessControlList><Grant>private</Grant></AccessControlList>" in body


def test_bad_acl_values_are_refused_as_oss_does(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"v")
    bad = _error(lambda: bucket.put_object_acl("k", "public"))
    assert (bad.status, bad.code, bad.ec) == (400, "InvalidArgument", "0017-00000104")
    empty = _error(lambda: bucket.put_object_acl("k", ""))
    assert (empty.status, empty.code, empty.ec) == (400, "InvalidArgument", "0017-00000105")
    on_put = _error(lambda: bucket.put_object("j", b"v", headers={HEADER: "everyone"}))
    assert (on_put.status, on_put.code) == (400, "InvalidArgument")
    assert _error(lambda: bucket.get_object("j")).status == 404
    missing = _error(lambda: bucket.put_object_acl("nothing-here", "private"))
    assert (missing.status, missing.code) == (404, "NoSuchKey")


def test_upload_headers_set_the_acl(bucket: oss2.Bucket) -> None:
    bucket.put_object("put", b"p", headers={HEADER: "public-read"})
    bucket.append_object("app", 0, b"a", headers={HEADER: "public-read-write"})
    bucket.append_object("app", 1, b"b")
    bucket.copy_object(bucket.bucket_name, "put", "copy", headers={HEADER: "private"})
    bucket.copy_object(bucket.bucket_name, "put", "plain-copy")
    upload = bucket.init_multipart_upload("multi", headers={HEADER: "public-read"}).upload_id
    part = bucket.upload_part("multi", upload, 1, b"m")
    bucket.complete_multipart_upload("multi", upload, [oss2.models.PartInfo(1, part.etag)])
    assert bucket.get_object_acl("put").acl == "public-read"
    assert bucket.get_object_acl("app").acl == "public-read-write"
    assert bucket.get_object_acl("copy").acl == "private"
    # A copy does not inherit the source's ACL.
    assert bucket.get_object_acl("plain-copy").acl == "default"
    assert bucket.get_object_acl("multi").acl == "public-read"


def test_anonymous_reads_follow_the_effective_acl(bucket: oss2.Bucket, oss: OssEnv) -> None:
    bucket.put_object("public", b"seen", headers={HEADER: "public-read"})
    bucket.put_object("private", b"hidden", headers={HEADER: "private"})
    bucket.put_object("default", b"hidden")  # follows the bucket: private
    status, body = _anonymous(oss, "GET", "public")
    assert (status, body) == (200, b"seen")
    assert _anonymous(oss, "HEAD", "public")[0] == 200
    for key in ("private", "default", "absent"):
        status, body = _anonymous(oss, "GET", key)
        assert status == 403
        assert b"<Code>AccessDenied</Code>" in body
        assert _anonymous(oss, "HEAD", key)[0] == 403
    bucket.put_object_acl("public", "default")
    assert _anonymous(oss, "GET", "public")[0] == 403
    # Public read is not public write, nor any other operation.
    bucket.put_object_acl("public", "public-read")
    anonymous = oss.bucket_client(oss2.AnonymousAuth())
    assert _error(lambda: anonymous.put_object("public", b"x")).status == 403
    assert _error(lambda: anonymous.get_object_acl("public")).status == 403
    assert bucket.get_object("public").read() == b"seen"


def test_block_public_access_refuses_public_acls(bucket: oss2.Bucket, oss: OssEnv) -> None:
    bucket.put_object("was-public", b"v", headers={HEADER: "public-read"})
    bucket.put_bucket_public_access_block(True)
    for call in (
        lambda: bucket.put_object_acl("was-public", "public-read"),
        lambda: bucket.put_object("new", b"v", headers={HEADER: "public-read-write"}),
        lambda: bucket.append_object("app", 0, b"v", headers={HEADER: "public-read"}),
        lambda: bucket.copy_object(
            bucket.bucket_name, "was-public", "c", headers={HEADER: "public-read"}
        ),
    ):
        refused = _error(call)
        assert (refused.status, refused.code) == (403, "AccessDenied")
        assert "public access block" in refused.message
    # Private ACLs are still fine, and the public ACL already set is kept but not honoured.
    bucket.put_object("new", b"v", headers={HEADER: "private"})
    assert bucket.get_object_acl("was-public").acl == "public-read"
    assert _anonymous(oss, "GET", "was-public")[0] == 403
    bucket.delete_bucket_public_access_block()
    assert _anonymous(oss, "GET", "was-public") == (200, b"v")


def test_the_acl_survives_a_durable_restart(tmp_path: Path) -> None:
    model = OssModel(DurableStore(tmp_path / "data"), max_append_object_size=1 << 20)
    model.ensure_bucket("b-1", owner="1", region="cn-hangzhou", now=0)
    model.put_object("b-1", "k", b"v", ObjectFields(acl="public-read"), now=0)
    model.append_object("b-1", "a", 0, b"v", ObjectFields(acl="private"), now=0)
    model.set_acl("b-1", "a", "public-read-write")
    model.store.close()
    reopened = OssModel(DurableStore(tmp_path / "data"), max_append_object_size=1 << 20)
    assert reopened.head_object("b-1", "k").acl == "public-read"
    assert reopened.head_object("b-1", "a").acl == "public-read-write"
