"""Signature version 2 (``OSS2``) through the real oss2: header authorization and presigned
URLs, with the root key and with STS tokens; V1 and V4 keep working beside it."""

from __future__ import annotations

import os

import oss2
import pytest
import requests
from oss2.models import PartInfo

from tests.simulator.oss._server import OssEnv


def _policy(actions: list[str], resources: list[str]) -> dict[str, object]:
    return {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}],
    }


def test_v2_header_signatures_cover_every_operation_shape(oss: OssEnv) -> None:
    bucket = oss.bucket_client(oss2.AuthV2(oss.handle.access_key_id, oss.handle.access_key_secret))
    key = "v2/dir/ü b+c~.ts"
    bucket.put_object(key, b"hello", headers={"Content-Type": "video/MP2T", "x-oss-meta-a": "1"})
    assert bucket.get_object(key, byte_range=(1, 3)).read() == b"ell"
    first = bucket.append_object("v2/app", 0, b"ab")
    bucket.append_object("v2/app", first.next_position, b"cd")
    assert bucket.get_object("v2/app").read() == b"abcd"
    keys = [o.key for o in oss2.ObjectIterator(bucket, prefix="v2/", max_keys=1)]
    assert keys == ["v2/app", key]
    upload_id = bucket.init_multipart_upload("v2/mp").upload_id
    etag = bucket.upload_part("v2/mp", upload_id, 1, b"part").etag
    bucket.complete_multipart_upload("v2/mp", upload_id, [PartInfo(1, etag)])
    assert bucket.get_object("v2/mp").read() == b"part"
    assert [
        b.name
        for b in oss2.BucketIterator(
            oss.service(oss2.AuthV2(oss.handle.access_key_id, oss.handle.access_key_secret))
        )
    ]


def test_v2_wrong_secret_reports_the_string_to_sign(oss: OssEnv) -> None:
    bucket = oss.bucket_client(oss2.AuthV2(oss.handle.access_key_id, "wrong-secret"))
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as exc:
        bucket.get_object("k")
    assert f"%2F{oss.bucket}%2Fk" in exc.value.details["StringToSign"]


def test_v2_with_sts_token_in_headers_and_presigned_urls(oss: OssEnv) -> None:
    creds = oss.assume_role(
        policies=[_policy(["oss:PutObject", "oss:GetObject"], [f"acs:oss:*:*:{oss.bucket}/*"])]
    )
    auth = oss2.StsAuth(
        creds.access_key_id,
        creds.access_key_secret,
        creds.security_token,
        auth_version=oss2.AUTH_VERSION_2,
    )
    client = oss.bucket_client(auth)
    body = os.urandom(1000)
    client.put_object("sts/v2.bin", body)
    assert client.get_object("sts/v2.bin").read() == body
    with pytest.raises(oss2.exceptions.AccessDenied):
        client.delete_object("sts/v2.bin")
    put_url = client.sign_url("PUT", "sts/url.bin", 60)
    assert "x-oss-signature-version=OSS2" in put_url
    assert requests.put(put_url, data=b"data", timeout=10).status_code == 200
    get_url = client.sign_url("GET", "sts/url.bin", 60)
    assert requests.get(get_url, timeout=10).content == b"data"
    tampered = get_url.replace("url.bin", "other.bin")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_v2_presigned_urls_expire(fresh_oss: OssEnv) -> None:
    auth = oss2.AuthV2(fresh_oss.handle.access_key_id, fresh_oss.handle.access_key_secret)
    client = fresh_oss.bucket_client(auth)
    client.put_object("k", b"1")
    url = client.sign_url("GET", "k", 30)
    assert requests.get(url, timeout=10).status_code == 200
    fresh_oss.handle.advance_clock(31)
    response = requests.get(url, timeout=10)
    assert response.status_code == 403
    assert "<Message>Request has expired.</Message>" in response.text


def test_v1_v2_and_v4_side_by_side(oss: OssEnv) -> None:
    key_id, secret = oss.handle.access_key_id, oss.handle.access_key_secret
    for auth in (
        oss2.Auth(key_id, secret),
        oss2.AuthV2(key_id, secret),
        oss2.AuthV4(key_id, secret),
    ):
        client = oss.bucket_client(auth)
        client.put_object("side", type(auth).__name__.encode())
        assert client.get_object("side").read() == type(auth).__name__.encode()
