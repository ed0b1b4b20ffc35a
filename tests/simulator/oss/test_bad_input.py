"""Hostile and broken requests: each gets the OSS error real OSS sends, and the server keeps serving."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
from collections.abc import Iterator
from email.utils import formatdate
from urllib.parse import urlsplit

import oss2
import pytest
import requests

from simulator.oss import MemoryStore, ObjectRecord
from simulator.oss.storage import ObjectReader
from tests.simulator.oss._raw import raw_request, sign_v1
from tests.simulator.oss._server import OssEnv, running_oss


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


def _signed_head(
    env: OssEnv, method: str, target: str, resource: str, extra: dict[str, str]
) -> bytes:
    headers = {"Date": formatdate(usegmt=True), **extra}
    headers["Authorization"] = (
        f"OSS {env.handle.access_key_id}:{sign_v1(env.handle.access_key_secret, method, resource, headers)}"
    )
    lines = [f"{method} {target} HTTP/1.1", f"Host: {urlsplit(env.endpoint).netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _connect(env: OssEnv) -> socket.socket:
    parts = urlsplit(env.endpoint)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<Delete><Object><Key>a</Key></Object>", "MalformedXML"),
        (b"not xml at all", "MalformedXML"),
        (b"<Remove><Object><Key>a</Key></Object></Remove>", "MalformedXML"),
        (b"<Delete><Quiet>perhaps</Quiet><Object><Key>a</Key></Object></Delete>", "MalformedXML"),
        (b"<Delete></Delete>", "MalformedXML"),
        (b"<Delete><Object></Object></Delete>", "MalformedXML"),
        (b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>", "MalformedXML"),
        (
            b'<!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>',
            "MalformedXML",
        ),
        (b"<Delete><Object><Key>/abs</Key></Object></Delete>", "InvalidObjectName"),
    ],
)
def test_malformed_batch_delete_bodies(oss: OssEnv, body: bytes, code: str) -> None:
    response = raw_request(
        oss, "POST", f"/{oss.bucket}/?delete", headers={"Content-MD5": _md5(body)}, body=body
    )
    assert response.status == 400
    assert f"<Code>{code}</Code>".encode() in response.body


def test_batch_delete_needs_a_matching_content_md5(oss: OssEnv) -> None:
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    missing = raw_request(oss, "POST", f"/{oss.bucket}/?delete", body=body)
    assert (missing.status, b"<Code>InvalidDigest</Code>" in missing.body) == (400, True)
    wrong = raw_request(
        oss, "POST", f"/{oss.bucket}/?delete", headers={"Content-MD5": _md5(b"x")}, body=body
    )
    assert (wrong.status, b"<Code>InvalidDigest</Code>" in wrong.body) == (400, True)


@pytest.mark.parametrize(
    "md5", ["not base64!", base64.b64encode(b"short").decode(), _md5(b"other")]
)
def test_put_with_bad_content_md5_stores_nothing(
    oss: OssEnv, bucket: oss2.Bucket, md5: str
) -> None:
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.put_object("k", b"payload", headers={"Content-MD5": md5})
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.append_object("a", 0, b"payload", headers={"Content-MD5": md5})
    assert not bucket.object_exists("k")
    assert not bucket.object_exists("a")
    assert (
        bucket.put_object("k", b"payload", headers={"Content-MD5": _md5(b"payload")}).status == 200
    )


def test_missing_content_length_on_upload(oss: OssEnv) -> None:
    response = raw_request(oss, "PUT", f"/{oss.bucket}/k")
    assert response.status == 411
    assert b"<Code>MissingContentLength</Code>" in response.body


def test_body_shorter_than_content_length_commits_nothing(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.append_object("torn", 0, b"base")
    for method, target, resource in (
        ("PUT", f"/{oss.bucket}/short", f"/{oss.bucket}/short"),
        ("POST", f"/{oss.bucket}/torn?append&position=4", f"/{oss.bucket}/torn?append&position=4"),
    ):
        with _connect(oss) as sock:
            sock.sendall(
                _signed_head(oss, method, target, resource, {"Content-Length": "100"}) + b"x" * 50
            )
            sock.shutdown(socket.SHUT_WR)
            assert b"200 OK" not in _read_all(sock)
    assert not bucket.object_exists("short")
    assert bucket.get_object("torn").read() == b"base"
    assert bucket.append_object("torn", 4, b"more").next_position == 8


def test_declared_body_over_the_limit_is_refused_before_reading(oss: OssEnv) -> None:
    head = _signed_head(
        oss,
        "PUT",
        f"/{oss.bucket}/huge",
        f"/{oss.bucket}/huge",
        {"Content-Length": str(6 * 1024**3)},
    )
    with _connect(oss) as sock:
        sock.sendall(head)
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"<Code>EntityTooLarge</Code>" in reply
    assert b"<ProposedSize>6442450944</ProposedSize>" in reply


@pytest.fixture
def small_limits() -> Iterator[OssEnv]:
    with running_oss(oss_settings={"max_object_size": 1000, "max_xml_body": 200}) as env:
        yield env


def test_chunked_body_over_the_limit(small_limits: OssEnv) -> None:
    bucket = small_limits.bucket_client()

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"z" * 400

    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.put_object("big", chunks())
    assert (info.value.status, info.value.code) == (400, "EntityTooLarge")
    assert not bucket.object_exists("big")
    assert bucket.put_object("ok", b"z" * 1000).status == 200
    body = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 20 + b"</Delete>"
    response = raw_request(
        small_limits,
        "POST",
        f"/{small_limits.bucket}/?delete",
        headers={"Content-MD5": _md5(body)},
        body=body,
    )
    assert (response.status, b"<Code>EntityTooLarge</Code>" in response.body) == (400, True)


@pytest.mark.parametrize(
    ("target", "resource"),
    [
        ("/{b}/%2Fleading-slash", "/{b}//leading-slash"),
        ("/{b}//double-slash", "/{b}//double-slash"),
        ("/{b}/%5Cbackslash", "/{b}/\\backslash"),
        ("/{b}/bad%FFutf8", None),
        ("/{b}/" + "k" * 1024, "/{b}/" + "k" * 1024),
        ("/{b}/" + "%E8%A7%86" * 342, "/{b}/" + "视" * 342),
    ],
)
def test_hostile_keys_are_invalid_object_names(
    oss: OssEnv, target: str, resource: str | None
) -> None:
    response = raw_request(
        oss,
        "PUT",
        target.format(b=oss.bucket),
        resource=(resource or "/x").format(b=oss.bucket),
        body=b"1",
    )
    assert response.status == 400
    assert b"<Code>InvalidObjectName</Code>" in response.body


def test_longest_legal_key(bucket: oss2.Bucket) -> None:
    key = "视" * 341  # 1023 bytes
    assert bucket.put_object(key, b"1").status == 200
    assert bucket.get_object(key).read() == b"1"


def test_bad_query_encoding(oss: OssEnv) -> None:
    response = raw_request(oss, "GET", f"/{oss.bucket}/?prefix=%FF", resource=f"/{oss.bucket}/")
    assert response.status == 400
    assert b"<Code>InvalidArgument</Code>" in response.body


@pytest.mark.parametrize("sub", ["versioning", "restore", "x-oss-process=image/resize"])
def test_unimplemented_sub_resources_answer_501(oss: OssEnv, sub: str) -> None:
    name = sub.split("=")[0]
    value = sub.split("=")[1] if "=" in sub else ""
    resource = f"/{oss.bucket}/k?{name}" + (f"={value}" if value else "")
    response = raw_request(oss, "GET", f"/{oss.bucket}/k?{sub}", resource=resource)
    assert response.status == 501
    assert b"<Code>NotImplemented</Code>" in response.body


def test_unknown_plain_parameters_are_ignored(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"v")
    assert bucket.get_object("k", params={"foo": "bar", "x": ""}).read() == b"v"


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("PATCH", "/{b}/k"),
        ("POST", "/{b}/k"),
        ("HEAD", "/{b}/"),
        ("DELETE", "/"),
        ("PUT", "/{b}/k?objectMeta"),
    ],
)
def test_methods_that_do_not_apply(oss: OssEnv, method: str, target: str) -> None:
    resolved = target.format(b=oss.bucket)
    response = raw_request(
        oss, method, resolved, body=b"" if method in ("PUT", "POST", "PATCH") else None
    )
    assert response.status == 405
    if method == "HEAD":
        assert b"<Code>MethodNotAllowed</Code>" in base64.b64decode(response.headers["x-oss-err"])
    else:
        assert b"<Code>MethodNotAllowed</Code>" in response.body


def test_two_operation_sub_resources_conflict(oss: OssEnv) -> None:
    response = raw_request(oss, "POST", f"/{oss.bucket}/?delete&lifecycle", body=b"<Delete/>")
    assert response.status == 400


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        ("bytes=99999999999999999999999999-", 200, b"0123456789"),
        ("bytes=" + "9" * 5000 + "-", 200, b"0123456789"),
        ("bytes=abc", 200, b"0123456789"),
        ("bytes=5-1", 200, b"0123456789"),
        ("bytes=-0", 200, b"0123456789"),
        ("bytes=--5", 200, b"0123456789"),
        ("items=0-3", 200, b"0123456789"),
        ("bytes=0-0,5-6", 206, b"0"),
        ("bytes= 2 - 3 ", 206, b"23"),
    ],
)
def test_absurd_ranges(bucket: oss2.Bucket, header: str, status: int, body: bytes) -> None:
    bucket.put_object("r", b"0123456789")
    result = bucket.get_object("r", headers={"Range": header})
    assert (result.status, result.read()) == (status, body)


class _FailingReader:
    """Serves the first read, then fails like a disk going bad mid-download."""

    def __init__(self, inner: ObjectReader) -> None:
        self._inner = inner
        self._reads = 0

    def read(self, offset: int, length: int) -> bytes:
        self._reads += 1
        if self._reads > 1:
            raise OSError(5, "Input/output error")
        return self._inner.read(offset, length)

    def close(self) -> None:
        self._inner.close()


class FlakyStore(MemoryStore):
    """A memory store that fails like a broken disk: appends to ``boom*``, reads of ``brittle*``."""

    def append_object(self, bucket: str, record: ObjectRecord, offset: int, data: bytes) -> None:
        if record.key.startswith("boom"):
            raise OSError(5, "Input/output error")
        super().append_object(bucket, record, offset, data)

    def open_object(self, bucket: str, record: ObjectRecord) -> ObjectReader:
        reader = super().open_object(bucket, record)
        return _FailingReader(reader) if record.key.startswith("brittle") else reader


def test_internal_errors_become_500_and_the_server_keeps_going() -> None:
    with running_oss(store=FlakyStore()) as env:
        bucket = env.bucket_client()
        with pytest.raises(oss2.exceptions.ServerError) as info:
            bucket.append_object("boom.ts", 0, b"x")
        assert (info.value.status, info.value.code) == (500, "InternalError")
        assert not bucket.object_exists("boom.ts")
        assert bucket.append_object("fine.ts", 0, b"x").next_position == 1
        assert env.app is not None
        assert env.app.stats.count("AppendObject", "InternalError") == 1
        bucket.put_object("brittle.bin", b"b" * (3 * 1024 * 1024))
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            bucket.get_object("brittle.bin").read()
        assert env.app.stats.count("GetObject", "SendFailed") == 1
        assert bucket.get_object("fine.ts").read() == b"x"


def test_logs_never_show_secrets_or_tokens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="simulator")
    with running_oss(store=FlakyStore()) as env:
        policy = {
            "Version": "1",
            "Statement": [{"Effect": "Allow", "Action": ["oss:*"], "Resource": ["*"]}],
        }
        creds = env.assume_role(policies=[policy])
        bucket = env.bucket_client(env.sts_auth(creds))
        with pytest.raises(oss2.exceptions.ServerError):
            bucket.append_object("boom", 0, b"x")
        wrong = oss2.StsAuth(creds.access_key_id, "not-the-secret", creds.security_token)
        with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
            env.bucket_client(wrong).put_object("k", b"1")
        url = env.bucket_client(env.sts_auth(creds)).sign_url("GET", "k", 60)
        requests.get(url.replace("Signature=", "Signature=x"), timeout=10)
    assert "InternalError" in caplog.text or "failed" in caplog.text
    for secret in (creds.access_key_secret, creds.security_token, env.handle.access_key_secret):
        assert secret not in caplog.text
