"""What the OSS C SDK (libcurl) sends, at the byte level: one-segment encoded paths, chunked
bodies that also carry Content-Length, and the framings that must stay refused."""

from __future__ import annotations

import oss2
import pytest

from tests.simulator.oss._server import OssEnv
from tests.simulator.oss._wire import CSdkClient, WireConnection, chunked, signed_head


def _head(
    oss: OssEnv,
    conn: WireConnection,
    method: str,
    target: str,
    resource: str,
    extra: dict[str, str] | None = None,
) -> bytes:
    handle = oss.handle
    return signed_head(
        conn.host, method, target, resource, handle.access_key_id, handle.access_key_secret, extra
    )


def test_one_segment_encoded_path_names_bucket_and_key(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("videos/cam-c/seg-1.ts", b"x" * 10)
    conn = WireConnection(oss.endpoint)
    try:
        target = f"/{oss.bucket}%2Fvideos%2Fcam-c%2Fseg-1.ts"
        resource = f"/{oss.bucket}/videos/cam-c/seg-1.ts"
        conn.send(_head(oss, conn, "HEAD", target, resource))
        first = conn.read_response(head=True)
        assert first.status == 200
        assert first.headers["content-length"] == "10"
        assert first.headers.get("connection", "") != "close"
        # The connection stays usable: a second request on it is answered.
        conn.send(_head(oss, conn, "GET", target, resource))
        second = conn.read_response()
        assert (second.status, second.body) == (200, b"x" * 10)
    finally:
        conn.close()


def test_one_segment_path_of_a_missing_bucket_is_no_such_bucket(oss: OssEnv) -> None:
    conn = WireConnection(oss.endpoint)
    try:
        target = "/no-such-bucket-x%2Fk.ts"
        conn.send(_head(oss, conn, "GET", target, "/no-such-bucket-x/k.ts"))
        response = conn.read_response()
        assert response.status == 404
        assert b"<Code>NoSuchBucket</Code>" in response.body
    finally:
        conn.close()


def test_chunked_with_content_length_is_read_chunked_then_closed(
    oss: OssEnv, bucket: oss2.Bucket
) -> None:
    body = b"0123456789" * 3000
    conn = WireConnection(oss.endpoint)
    try:
        target = f"/{oss.bucket}%2Fcam%2Fa.ts?append&position=0"
        # A Content-Length that disagrees with the chunked body: the chunks win.
        extra = {"Transfer-Encoding": "chunked", "Content-Length": "5"}
        conn.send(
            _head(oss, conn, "POST", target, f"/{oss.bucket}/cam/a.ts?append&position=0", extra)
            + chunked(body)
        )
        response = conn.read_response()
        assert response.status == 200, response.body
        assert response.headers["x-oss-next-append-position"] == str(len(body))
        assert response.headers["connection"] == "close"
        assert conn.is_closed_by_peer()
    finally:
        conn.close()
    # The client's next request, on a new connection, is answered normally.
    assert bucket.get_object("cam/a.ts").read() == body


def test_c_sdk_request_shapes_against_the_emulator(oss: OssEnv) -> None:
    client = CSdkClient(oss.endpoint, oss.handle.access_key_id, oss.handle.access_key_secret)
    try:
        key = "videos/cam-c/seg 1+ü.ts"
        assert client.head_object(oss.bucket, key).status == 404
        position = 0
        for part in (b"a" * 70_000, b"b" * 1, b"c" * 200_000):
            response = client.append_object(oss.bucket, key, position, part)
            assert response.status == 200, response.body
            position = int(response.headers["x-oss-next-append-position"])
        assert position == 270_001
        head = client.head_object(oss.bucket, key)
        assert head.status == 200
        assert head.headers["x-oss-object-type"] == "Appendable"
        assert head.headers["content-length"] == "270001"
        got = client.get_object(oss.bucket, key)
        assert got.body == b"a" * 70_000 + b"b" + b"c" * 200_000
        # HEAD keeps the connection; each upload closes it: 1 + 3 uploads reopen.
        assert client.connections == 4
    finally:
        client.close()


def _refused(oss: OssEnv, raw: bytes) -> tuple[int, bytes, bool]:
    conn = WireConnection(oss.endpoint)
    try:
        conn.send(raw)
        response = conn.read_response()
        return response.status, response.body, conn.is_closed_by_peer()
    finally:
        conn.close()


def _smuggled(oss: OssEnv) -> bytes:
    # A complete second request hidden where a lax parser would see a body boundary.
    return f"GET /{oss.bucket}/smuggled HTTP/1.1\r\nHost: x\r\n\r\n".encode()


@pytest.mark.parametrize(
    "framing",
    [
        "bare-lf",
        "obs-fold",
        "duplicate-length",
        "conflicting-length",
        "repeated-chunked",
        "chunked-not-last",
    ],
)
def test_ambiguous_framing_is_refused_and_closed(oss: OssEnv, framing: str) -> None:
    smuggled = _smuggled(oss)
    host = oss.endpoint.removeprefix("http://")
    raw = {
        "bare-lf": f"PUT /{oss.bucket}/k HTTP/1.1\nHost: {host}\nContent-Length: 0\n\n".encode(),
        "obs-fold": (
            f"PUT /{oss.bucket}/k HTTP/1.1\r\nHost: {host}\r\nX-Oss-Meta-A: 1\r\n"
            f" folded\r\nContent-Length: 0\r\n\r\n"
        ).encode(),
        "duplicate-length": (
            f"PUT /{oss.bucket}/k HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode(),
        "conflicting-length": (
            f"PUT /{oss.bucket}/k HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
            f"Content-Length: {len(smuggled)}\r\n\r\n"
        ).encode(),
        "repeated-chunked": (
            f"PUT /{oss.bucket}/k HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ).encode(),
        "chunked-not-last": (
            f"PUT /{oss.bucket}/k HTTP/1.1\r\nHost: {host}\r\n"
            "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
        ).encode(),
    }[framing]
    status, _, closed = _refused(oss, raw + smuggled)
    assert status == 400
    assert closed


@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "identity"])
def test_unknown_transfer_coding_is_not_implemented_and_closed(oss: OssEnv, coding: str) -> None:
    host = oss.endpoint.removeprefix("http://")
    raw = (
        f"PUT /{oss.bucket}/k HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: {coding}\r\n"
        f"Content-Length: 5\r\n\r\n0\r\n\r\n"
    ).encode() + _smuggled(oss)
    status, body, closed = _refused(oss, raw)
    assert status == 501
    assert b"<Code>NotImplemented</Code>" in body
    assert b"<Header>Transfer-Encoding</Header>" in body
    # Only one response: the smuggled request was never read as one.
    assert closed


def test_plain_content_length_keeps_the_connection(oss: OssEnv, bucket: oss2.Bucket) -> None:
    conn = WireConnection(oss.endpoint)
    try:
        for index in range(2):
            target = f"/{oss.bucket}/plain-{index}"
            head = _head(oss, conn, "PUT", target, target, {"Content-Length": "3"})
            conn.send(head + b"abc")
            response = conn.read_response()
            assert response.status == 200
            assert response.headers.get("connection", "") != "close"
    finally:
        conn.close()
    assert bucket.get_object("plain-1").read() == b"abc"


def test_keys_with_control_characters_are_stored_and_listed_url_encoded(
    oss: OssEnv, bucket: oss2.Bucket
) -> None:
    conn = WireConnection(oss.endpoint)
    try:
        key = "specified-char-\x01\x07"
        target = f"/{oss.bucket}/specified-char-%01%07"
        put = _head(oss, conn, "PUT", target, f"/{oss.bucket}/{key}", {"Content-Length": "2"})
        conn.send(put + b"ok")
        assert conn.read_response().status == 200
        # Same connection: the listing names the key percent-encoded.
        listing = f"/{oss.bucket}/?encoding-type=url&prefix=specified"
        conn.send(_head(oss, conn, "GET", listing, f"/{oss.bucket}/"))
        response = conn.read_response()
        assert response.status == 200
        assert b"<EncodingType>url</EncodingType>" in response.body
        assert b"<Key>specified-char-%01%07</Key>" in response.body
    finally:
        conn.close()
    # And through oss2, which always lists with encoding-type=url.
    assert [o.key for o in oss2.ObjectIterator(bucket, prefix="specified")] == [key]
    assert bucket.get_object(key).read() == b"ok"
    bucket.put_object("nul\x00and\x1f", b"x")
    assert bucket.head_object("nul\x00and\x1f").content_length == 1
