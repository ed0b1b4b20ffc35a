"""Signatures, credentials, time checks and RAM authorisation, through oss2 and raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate

import oss2
import pytest
import requests

from tests.simulator.oss._raw import raw_request, sign_v1
from tests.simulator.oss._server import OssEnv

OTHER_ACCOUNT = "2000000000000002"


def _policy(
    actions: list[str], resources: list[str], condition: dict[str, object] | None = None
) -> dict[str, object]:
    statement: dict[str, object] = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return {"Version": "1", "Statement": [statement]}


def test_wrong_secret_v1_reports_string_to_sign(oss: OssEnv) -> None:
    client = oss.bucket_client(oss2.Auth(oss.handle.access_key_id, "wrong-secret"))
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as info:
        client.put_object("dir/k k", b"1", headers={"x-oss-meta-A": "b"})
    details = info.value.details
    assert details["StringToSign"].startswith("PUT\n\n\n")
    assert details["StringToSign"].endswith(f"\nx-oss-meta-a:b\n/{oss.bucket}/dir/k k")
    assert details["OSSAccessKeyId"] == oss.handle.access_key_id
    assert (
        bytes.fromhex(details["StringToSignBytes"].replace(" ", ""))
        == details["StringToSign"].encode()
    )
    assert "wrong-secret" not in str(details)


def test_wrong_secret_v4_reports_canonical_request(oss: OssEnv) -> None:
    client = oss.bucket_client(oss2.AuthV4(oss.handle.access_key_id, "wrong-secret"))
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as info:
        client.get_object("dir/k")
    details = info.value.details
    assert details["StringToSign"].startswith("OSS4-HMAC-SHA256\n")
    assert f"/{oss.region}/oss/aliyun_v4_request\n" in details["StringToSign"]
    assert details["CanonicalRequest"].startswith(f"GET\n/{oss.bucket}/dir/k\n")


def test_unknown_access_key(oss: OssEnv) -> None:
    for auth in (oss2.Auth("LTAInobody", "x"), oss2.AuthV4("LTAInobody", "x")):
        with pytest.raises(oss2.exceptions.ServerError) as info:
            oss.bucket_client(auth).get_object("k")
        assert (info.value.status, info.value.code) == (403, "InvalidAccessKeyId")


def test_v4_with_the_wrong_region(oss: OssEnv) -> None:
    client = oss2.Bucket(oss.auth("v4"), oss.endpoint, oss.bucket, region="cn-shanghai")
    with pytest.raises(oss2.exceptions.InvalidArgument) as info:
        client.get_object("k")
    assert info.value.name == "Credential"


def test_anonymous_requests_are_denied(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("public?", b"1")
    for method in ("GET", "PUT", "DELETE"):
        response = requests.request(method, f"{oss.endpoint}/{oss.bucket}/public%3F", timeout=10)
        assert response.status_code == 403
        assert "<Code>AccessDenied</Code>" in response.text
    head = requests.head(f"{oss.endpoint}/{oss.bucket}/public%3F", timeout=10)
    assert head.status_code == 403
    assert b"<Code>AccessDenied</Code>" in base64.b64decode(head.headers["x-oss-err"])
    assert requests.get(oss.endpoint + "/", timeout=10).status_code == 403


def test_malformed_authorization_headers(oss: OssEnv) -> None:
    for value in ("OSS", "OSS nocolon", "Bearer abc", "OSS4-HMAC-SHA256 Signature=abc"):
        response = raw_request(
            oss,
            "GET",
            f"/{oss.bucket}/k",
            sign=False,
            headers={"Authorization": value, "Date": formatdate(usegmt=True)},
        )
        assert response.status == 400, value
        assert b"<Code>InvalidArgument</Code>" in response.body


def test_date_missing_or_bad(oss: OssEnv) -> None:
    for date in ("", "yesterday", "Sat, 5 Dec 2015 11:10:29 GMT", "Sat, 45 Dec 2015 11:10:29 GMT"):
        response = raw_request(oss, "GET", f"/{oss.bucket}/k", date=date)
        assert response.status == 403, date
        assert b"<Code>AccessDenied</Code>" in response.body


def test_request_time_too_skewed_with_date_header(oss: OssEnv) -> None:
    import time

    for offset in (-16 * 60, 16 * 60):
        response = raw_request(
            oss, "GET", f"/{oss.bucket}/k", date=formatdate(time.time() + offset, usegmt=True)
        )
        assert response.status == 403
        assert b"<Code>RequestTimeTooSkewed</Code>" in response.body
        assert b"<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>" in response.body
    fine = raw_request(
        oss, "GET", f"/{oss.bucket}/k", date=formatdate(time.time() - 14 * 60, usegmt=True)
    )
    assert fine.status == 404


def test_request_time_too_skewed_v1_and_v4(fresh_oss: OssEnv) -> None:
    clocked = fresh_oss
    clocked.handle.advance_clock(901)
    for version in ("v1", "v4"):
        with pytest.raises(oss2.exceptions.ServerError) as info:
            clocked.bucket_client(clocked.auth(version)).get_object("k")
        assert (info.value.status, info.value.code) == (403, "RequestTimeTooSkewed")
        assert info.value.details["ServerTime"].endswith(".000Z")


def test_expired_and_foreign_security_tokens(fresh_oss: OssEnv) -> None:
    clocked = fresh_oss
    # Mint while the server clock runs behind, so that once the token has expired the
    # client's real-time signatures are still within the 15 minute skew window.
    clocked.handle.advance_clock(-500)
    policy = _policy(["oss:*"], [f"acs:oss:*:*:{clocked.bucket}/*"])
    first = clocked.assume_role(policies=[policy])
    second = clocked.assume_role(policies=[policy], session_name="cam-0002")
    mixed = oss2.StsAuth(first.access_key_id, first.access_key_secret, second.security_token)
    with pytest.raises(oss2.exceptions.ServerError) as info:
        clocked.bucket_client(mixed).put_object("k", b"1")
    assert info.value.code == "AccessKeyIdAndSecurityTokenNotMatch"
    garbage = oss2.StsAuth(first.access_key_id, first.access_key_secret, "not-a-token")
    with pytest.raises(oss2.exceptions.ServerError) as bad:
        clocked.bucket_client(garbage).put_object("k", b"1")
    assert bad.value.code == "InvalidSecurityToken"
    ok = clocked.bucket_client(clocked.sts_auth(first, "v4"))
    assert ok.put_object("k", b"1").status == 200
    clocked.handle.advance_clock(950)
    for version in ("v1", "v4"):
        with pytest.raises(oss2.exceptions.ServerError) as expired:
            clocked.bucket_client(clocked.sts_auth(first, version)).put_object("k", b"2")
        assert (expired.value.status, expired.value.code) == (403, "SecurityTokenExpired")


def test_presigned_urls_expire(fresh_oss: OssEnv) -> None:
    clocked = fresh_oss
    clocked.bucket_client().put_object("k", b"1")
    urls = [clocked.bucket_client(clocked.auth(v)).sign_url("GET", "k", 30) for v in ("v1", "v4")]
    for url in urls:
        assert requests.get(url, timeout=10).status_code == 200
    clocked.handle.advance_clock(31)
    for url in urls:
        response = requests.get(url, timeout=10)
        assert response.status_code == 403
        assert "<Message>Request has expired.</Message>" in response.text
        assert "<ServerTime>" in response.text


def test_presigned_url_with_sts_token_v1_and_v4(oss: OssEnv) -> None:
    creds = oss.assume_role(
        policies=[_policy(["oss:PutObject", "oss:GetObject"], [f"acs:oss:*:*:{oss.bucket}/*"])]
    )
    for version in ("v1", "v4"):
        client = oss.bucket_client(oss.sts_auth(creds, version))
        put_url = client.sign_url("PUT", f"up/{version}.bin", 60)
        assert requests.put(put_url, data=b"data", timeout=10).status_code == 200
        get_url = client.sign_url("GET", f"up/{version}.bin", 60)
        assert requests.get(get_url, timeout=10).content == b"data"
        tampered = get_url.replace(f"up/{version}.bin", "up/other.bin").replace("up%2F", "up%2Fx")
        assert requests.get(tampered, timeout=10).status_code == 403


def test_presign_parameter_errors(oss: OssEnv) -> None:
    partial = requests.get(
        f"{oss.endpoint}/{oss.bucket}/k?OSSAccessKeyId=x&Expires=99999999999", timeout=10
    )
    assert partial.status_code == 403
    assert "requires the Signature, Expires and OSSAccessKeyId" in partial.text
    not_a_date = requests.get(
        f"{oss.endpoint}/{oss.bucket}/k?OSSAccessKeyId=x&Expires=soon&Signature=s", timeout=10
    )
    assert not_a_date.status_code == 403
    url = oss.bucket_client().sign_url("GET", "k", 60)
    both = raw_request(oss, "GET", url[len(oss.endpoint) :])
    assert both.status == 403


def test_other_accounts_cannot_touch_the_bucket(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("mine", b"1")
    oss.handle.add_access_key("LTAIotheraccount0001", "other-secret", account_id=OTHER_ACCOUNT)
    stranger = oss.bucket_client(oss2.Auth("LTAIotheraccount0001", "other-secret"))
    with pytest.raises(oss2.exceptions.AccessDenied):
        stranger.get_object("mine")
    with pytest.raises(oss2.exceptions.AccessDenied):
        stranger.put_object("theirs", b"1")
    with pytest.raises(oss2.exceptions.AccessDenied):
        stranger.list_objects()
    with pytest.raises(oss2.exceptions.AccessDenied):
        stranger.delete_bucket()
    assert oss.bucket not in [b.name for b in oss2.BucketIterator(oss.service(stranger.auth))]


def test_session_policy_narrows_the_role(oss: OssEnv) -> None:
    role_policy = _policy(
        ["oss:PutObject", "oss:GetObject", "oss:DeleteObject"], [f"acs:oss:*:*:{oss.bucket}/*"]
    )
    session = _policy(["oss:PutObject"], [f"acs:oss:*:*:{oss.bucket}/videos/cam-0001/*"])
    creds = oss.assume_role(policies=[role_policy], session_policy=session)
    client = oss.bucket_client(oss.sts_auth(creds))
    assert client.append_object("videos/cam-0001/a.ts", 0, b"1").next_position == 1
    for attempt in (
        lambda: client.put_object("videos/cam-0002/a.ts", b"1"),
        lambda: client.get_object("videos/cam-0001/a.ts"),
        lambda: client.delete_object("videos/cam-0001/a.ts"),
        lambda: client.list_objects(),
        lambda: client.batch_delete_objects(["videos/cam-0001/a.ts"]),
    ):
        with pytest.raises(oss2.exceptions.AccessDenied):
            attempt()


def test_list_condition_on_prefix_and_delimiter(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("hangzhou/a", b"1")
    policy = _policy(
        ["oss:ListObjects"],
        [f"acs:oss:*:*:{oss.bucket}"],
        {"StringLike": {"oss:Prefix": ["hangzhou/*"], "oss:Delimiter": "/"}},
    )
    oss.handle.add_access_key("LTAIlistuser000001", "list-secret", user="lister", policies=[policy])
    lister = oss.bucket_client(oss2.AuthV4("LTAIlistuser000001", "list-secret"))
    assert [o.key for o in lister.list_objects(prefix="hangzhou/", delimiter="/").object_list] == [
        "hangzhou/a"
    ]
    with pytest.raises(oss2.exceptions.AccessDenied):
        lister.list_objects(prefix="beijing/", delimiter="/")
    with pytest.raises(oss2.exceptions.AccessDenied):
        lister.list_objects_v2(prefix="hangzhou/")
    with pytest.raises(oss2.exceptions.AccessDenied):
        lister.get_object("hangzhou/a")


def test_source_ip_condition(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"1")
    local = _policy(
        ["oss:GetObject"],
        [f"acs:oss:*:*:{oss.bucket}/*"],
        {"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}},
    )
    remote = _policy(
        ["oss:GetObject"],
        [f"acs:oss:*:*:{oss.bucket}/*"],
        {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
    )
    oss.handle.add_access_key("LTAIlocaluser00001", "s1", user="local", policies=[local])
    oss.handle.add_access_key("LTAIremoteuser0001", "s2", user="remote", policies=[remote])
    assert oss.bucket_client(oss2.Auth("LTAIlocaluser00001", "s1")).get_object("k").read() == b"1"
    with pytest.raises(oss2.exceptions.AccessDenied):
        oss.bucket_client(oss2.Auth("LTAIremoteuser0001", "s2")).get_object("k")


def test_virtual_host_addressing(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("vh/key one.txt", b"virtual")
    date = formatdate(usegmt=True)
    headers = {"Date": date, "Host": f"{oss.bucket}.oss-cn-hangzhou.aliyuncs.com"}
    signature = sign_v1(
        oss.handle.access_key_secret, "GET", f"/{oss.bucket}/vh/key one.txt", headers
    )
    headers["Authorization"] = f"OSS {oss.handle.access_key_id}:{signature}"
    response = requests.get(f"{oss.endpoint}/vh/key%20one.txt", headers=headers, timeout=10)
    assert (response.status_code, response.content) == (200, b"virtual")
    listing_sig = sign_v1(
        oss.handle.access_key_secret, "GET", f"/{oss.bucket}/", headers | {"Authorization": ""}
    )
    headers["Authorization"] = f"OSS {oss.handle.access_key_id}:{listing_sig}"
    listing = requests.get(f"{oss.endpoint}/?prefix=vh/", headers=headers, timeout=10)
    assert "<Key>vh/key one.txt</Key>" in listing.text


def test_independent_v1_signature_matches(oss: OssEnv) -> None:
    # The emulator accepts a signature computed without oss2, from the documented algorithm.
    secret = oss.handle.access_key_secret.encode()
    date = formatdate(usegmt=True)
    text = f"PUT\n\ntext/plain\n{date}\nx-oss-meta-owner:me\n/{oss.bucket}/logs/app 1.log"
    signature = base64.b64encode(hmac.new(secret, text.encode(), hashlib.sha1).digest()).decode()
    response = requests.put(
        f"{oss.endpoint}/{oss.bucket}/logs%2Fapp%201.log",
        data=b"line",
        headers={
            "Date": date,
            "Content-Type": "text/plain",
            "x-oss-meta-Owner": "me",
            "Authorization": f"OSS {oss.handle.access_key_id}:{signature}",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_v4_presign_with_additional_signed_headers(oss: OssEnv, bucket: oss2.Bucket) -> None:
    bucket.put_object("ranged", b"0123456789")
    client = oss.bucket_client(oss.auth("v4"))
    url = client.sign_url(
        "GET",
        "ranged",
        60,
        headers={"Range": "bytes=2-4", "x-oss-meta-note": "n"},
        additional_headers={"range"},
    )
    assert "x-oss-additional-headers=range" in url
    ok = requests.get(url, headers={"Range": "bytes=2-4", "x-oss-meta-note": "n"}, timeout=10)
    assert (ok.status_code, ok.content) == (206, b"234")
    changed = requests.get(url, headers={"Range": "bytes=0-4", "x-oss-meta-note": "n"}, timeout=10)
    assert changed.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in changed.text
    unsigned = requests.get(url, headers={"Range": "bytes=2-4"}, timeout=10)
    assert unsigned.status_code == 403
