"""Bucket operations through oss2: create, delete, info, location, list, lifecycle and its sweeper."""

from __future__ import annotations

import datetime

import oss2
import pytest
from oss2.models import BucketLifecycle, LifecycleExpiration, LifecycleRule

from tests.simulator.oss._raw import raw_request
from tests.simulator.oss._server import OssEnv, unique_bucket


def test_create_list_info_delete(oss: OssEnv) -> None:
    name = unique_bucket("new")
    client = oss.bucket_client(bucket=name)
    assert client.create_bucket().status == 200
    names = [b.name for b in oss2.BucketIterator(oss.service())]
    assert name in names
    listed = next(b for b in oss.service().list_buckets(prefix=name).buckets)
    assert listed.location == f"oss-{oss.region}"
    info = client.get_bucket_info()
    assert info.name == name
    assert info.owner.id == oss.account_id
    assert info.storage_class == "Standard"
    assert info.acl.grant == "private"
    assert client.get_bucket_location().location == f"oss-{oss.region}"
    assert client.delete_bucket().status == 204
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        client.get_bucket_info()
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        client.delete_bucket()


def test_create_with_configuration_and_acl(oss: OssEnv) -> None:
    name = unique_bucket("cfg")
    client = oss.bucket_client(bucket=name)
    client.create_bucket(
        oss2.BUCKET_ACL_PRIVATE, oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA)
    )
    assert client.get_bucket_info().storage_class == "IA"
    client.delete_bucket()


def test_bucket_already_exists_and_not_empty(oss: OssEnv, bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.create_bucket()
    assert (info.value.status, info.value.code) == (409, "BucketAlreadyExists")
    bucket.put_object("k", b"1")
    with pytest.raises(oss2.exceptions.BucketNotEmpty):
        bucket.delete_bucket()
    bucket.delete_object("k")
    bucket.delete_bucket()


@pytest.mark.parametrize("name", ["ab", "UPPER", "-lead", "trail-", "under_score", "a" * 64])
def test_invalid_bucket_names_are_refused_by_the_server(oss: OssEnv, name: str) -> None:
    # oss2 refuses these client-side, so they go over raw HTTP.
    response = raw_request(oss, "PUT", f"/{name}/", resource=f"/{name}/")
    assert response.status == 400
    assert b"<Code>InvalidBucketName</Code>" in response.body


def test_list_buckets_pages_and_shows_only_own_account(oss: OssEnv) -> None:
    prefix = unique_bucket("pg")
    for i in range(3):
        oss.bucket_client(bucket=f"{prefix}-{i}").create_bucket()
    other = unique_bucket("foreign")
    oss.handle.create_bucket(other, account_id="2000000000000002")
    page = oss.service().list_buckets(prefix=prefix, max_keys=2)
    assert [b.name for b in page.buckets] == [f"{prefix}-0", f"{prefix}-1"]
    assert page.is_truncated
    rest = oss.service().list_buckets(prefix=prefix, marker=page.next_marker, max_keys=2)
    assert [b.name for b in rest.buckets] == [f"{prefix}-2"]
    assert not rest.is_truncated
    assert other not in [b.name for b in oss2.BucketIterator(oss.service())]


def test_lifecycle_round_trip(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as missing:
        bucket.get_bucket_lifecycle()
    assert (missing.value.status, missing.value.code) == (404, "NoSuchLifecycle")
    rules = BucketLifecycle(
        [
            LifecycleRule(
                "videos",
                "videos/",
                status=LifecycleRule.ENABLED,
                expiration=LifecycleExpiration(days=7),
            ),
            LifecycleRule(
                "old",
                "old/",
                status=LifecycleRule.DISABLED,
                expiration=LifecycleExpiration(created_before_date=datetime.date(2020, 1, 1)),
            ),
        ]
    )
    bucket.put_bucket_lifecycle(rules)
    got = bucket.get_bucket_lifecycle().rules
    assert [(r.id, r.prefix, r.status) for r in got] == [
        ("videos", "videos/", "Enabled"),
        ("old", "old/", "Disabled"),
    ]
    assert got[0].expiration.days == 7
    assert got[1].expiration.created_before_date == datetime.date(2020, 1, 1)
    assert bucket.delete_bucket_lifecycle().status == 204
    with pytest.raises(oss2.exceptions.ServerError):
        bucket.get_bucket_lifecycle()


def test_lifecycle_sweeper_expires_by_prefix_and_age(fresh_oss: OssEnv) -> None:
    bucket = fresh_oss.bucket_client()
    rules = [
        LifecycleRule(
            "v", "videos/", status=LifecycleRule.ENABLED, expiration=LifecycleExpiration(days=2)
        )
    ]
    bucket.put_bucket_lifecycle(BucketLifecycle(rules))
    bucket.put_object("videos/old.ts", b"1")
    bucket.append_object("videos/live.ts", 0, b"1")
    bucket.put_object("keep/other.ts", b"1")
    admin = fresh_oss.handle.admin
    # Moving the emulator clock runs the sweeper; moving it back lets oss2 (real time) list.
    admin.call("POST", "/clock", {"offset_s": 86400})
    admin.call("POST", "/clock", {"offset_s": 0})
    assert len(list(oss2.ObjectIterator(bucket))) == 3
    admin.call("POST", "/clock", {"offset_s": 2 * 86400 + 5})
    admin.call("POST", "/clock", {"offset_s": 0})
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["keep/other.ts"]
    assert admin.call("POST", "/lifecycle/sweep") == {"expired": 0}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<LifecycleConfiguration><Rule><ID>x", "MalformedXML"),
        (b"<Other/>", "MalformedXML"),
        (b"<LifecycleConfiguration/>", "MalformedXML"),
        (
            b"<LifecycleConfiguration><Rule><ID>a</ID><Prefix/><Status>On</Status>"
            b"<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
            "MalformedXML",
        ),
        (
            b"<LifecycleConfiguration><Rule><ID>a</ID><Prefix/><Status>Enabled</Status>"
            b"<Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>",
            "InvalidArgument",
        ),
        (
            b"<LifecycleConfiguration><Rule><ID>a</ID><Prefix/><Status>Enabled</Status>"
            b"<Transition><Days>1</Days><StorageClass>IA</StorageClass></Transition></Rule></LifecycleConfiguration>",
            "NotImplemented",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><LifecycleConfiguration/>',
            "MalformedXML",
        ),
    ],
)
def test_bad_lifecycle_documents(oss: OssEnv, body: bytes, code: str) -> None:
    response = raw_request(oss, "PUT", f"/{oss.bucket}/?lifecycle", body=body)
    assert f"<Code>{code}</Code>".encode() in response.body
    assert response.status == (501 if code == "NotImplemented" else 400)


def test_block_public_access_round_trip(fresh_oss: OssEnv) -> None:
    bucket = fresh_oss.bucket_client()
    assert bucket.get_bucket_public_access_block().block_public_access is False
    bucket.put_bucket_public_access_block(True)
    assert bucket.get_bucket_public_access_block().block_public_access is True
    bucket.delete_bucket_public_access_block()
    assert bucket.get_bucket_public_access_block().block_public_access is False


@pytest.mark.parametrize(
    "body",
    [
        b"<PublicAccessBlockConfiguration/>",
        b"<PublicAccessBlockConfiguration><BlockPublicAccess>yes</BlockPublicAccess>"
        b"</PublicAccessBlockConfiguration>",
        b"<LifecycleConfiguration/>",
    ],
)
def test_bad_public_access_block_documents(oss: OssEnv, body: bytes) -> None:
    response = raw_request(oss, "PUT", f"/{oss.bucket}/?publicAccessBlock", body=body)
    assert b"<Code>MalformedXML</Code>" in response.body
    assert response.status == 400
