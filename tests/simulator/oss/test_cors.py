"""Bucket CORS: the rules through oss2, the unsigned preflight and the headers of answers."""

from __future__ import annotations

from pathlib import Path

import oss2
import pytest
from oss2.models import BucketCors, CorsRule

from simulator.oss import DurableStore, OssModel
from simulator.oss.cors import CorsConfiguration
from simulator.oss.cors import CorsRule as Rule
from tests.simulator.oss._raw import raw_request
from tests.simulator.oss._server import OssEnv

CONSOLE = "http://console.example:8080"


def _player_rule(bucket: oss2.Bucket, **extra: object) -> None:
    rule = CorsRule(
        allowed_origins=[CONSOLE],
        allowed_methods=["GET", "HEAD"],
        allowed_headers=["Range"],
        expose_headers=["Content-Length", "Content-Range", "ETag"],
        max_age_seconds=600,
    )
    bucket.put_bucket_cors(BucketCors([rule], **extra))  # type: ignore[arg-type]


def _preflight(
    env: OssEnv, origin: str, method: str = "GET", headers: str | None = None, key: str = "seg"
) -> tuple[int, dict[str, str], bytes]:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    r = raw_request(env, "OPTIONS", f"/{env.bucket}/{key}", headers=sent, sign=False)
    return r.status, r.headers, r.body


def test_oss2_put_get_delete_bucket_cors(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket.get_bucket_cors()
    _player_rule(bucket, response_vary=True)
    got = bucket.get_bucket_cors()
    assert len(got.rules) == 1
    rule = got.rules[0]
    assert rule.allowed_origins == [CONSOLE]
    assert rule.allowed_methods == ["GET", "HEAD"]
    assert rule.allowed_headers == ["range"]
    assert rule.expose_headers == ["Content-Length", "Content-Range", "ETag"]
    assert rule.max_age_seconds == 600
    assert got.response_vary is True
    assert bucket.delete_bucket_cors().status == 204
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket.get_bucket_cors()


def test_preflight_matching_rule_is_allowed_without_a_signature(
    oss: OssEnv, bucket: oss2.Bucket
) -> None:
    _player_rule(bucket)
    status, headers, _ = _preflight(oss, CONSOLE, "GET", "Range")
    assert status == 200
    assert headers["access-control-allow-origin"] == CONSOLE
    assert headers["access-control-allow-methods"] == "GET, HEAD"
    assert headers["access-control-allow-headers"] == "range"
    assert headers["access-control-expose-headers"] == "Content-Length, Content-Range, ETag"
    assert headers["access-control-max-age"] == "600"


@pytest.mark.parametrize(
    ("origin", "method", "request_headers"),
    [
        ("http://evil.example", "GET", "Range"),  # origin not allowed
        (CONSOLE, "PUT", None),  # method not allowed
        (CONSOLE, "GET", "Range, X-Oss-Meta-A"),  # a header not allowed
    ],
)
def test_preflight_no_rule_matches_is_403_access_forbidden(
    oss: OssEnv, bucket: oss2.Bucket, origin: str, method: str, request_headers: str | None
) -> None:
    _player_rule(bucket)
    status, headers, body = _preflight(oss, origin, method, request_headers)
    assert status == 403
    assert b"<Code>AccessForbidden</Code>" in body
    assert b"CORSResponse:" in body
    assert "access-control-allow-origin" not in headers


def test_preflight_without_cors_rules_or_origin(oss: OssEnv) -> None:
    status, _, body = _preflight(oss, CONSOLE)
    assert status == 403
    assert b"CORS is not enabled for this bucket" in body
    r = raw_request(oss, "OPTIONS", f"/{oss.bucket}/seg", sign=False)
    assert r.status == 400
    assert b"Origin" in r.body


def test_wildcard_origin_and_header(oss: OssEnv, bucket: oss2.Bucket) -> None:
    rules = [
        CorsRule(allowed_origins=["http://*.example.com"], allowed_methods=["PUT"]),
        CorsRule(allowed_origins=["*"], allowed_methods=["GET"], allowed_headers=["x-oss-*"]),
    ]
    bucket.put_bucket_cors(BucketCors(rules))
    status, headers, _ = _preflight(oss, "http://a.b.example.com", "PUT")
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://a.b.example.com"
    assert headers["access-control-allow-methods"] == "PUT"
    assert _preflight(oss, "http://example.org", "PUT")[0] == 403
    status, headers, _ = _preflight(oss, "http://anything.test", "GET", "x-oss-meta-a")
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert _preflight(oss, "http://anything.test", "GET", "authorization")[0] == 403


def test_signed_and_presigned_answers_carry_the_headers_when_origin_matches(
    oss: OssEnv, bucket: oss2.Bucket
) -> None:
    _player_rule(bucket, response_vary=True)
    bucket.put_object("seg", b"0123456789")
    r = raw_request(oss, "GET", f"/{oss.bucket}/seg", headers={"Origin": CONSOLE})
    assert r.status == 200
    assert r.body == b"0123456789"
    assert r.headers["access-control-allow-origin"] == CONSOLE
    assert r.headers["access-control-allow-methods"] == "GET, HEAD"
    assert r.headers["access-control-expose-headers"] == "Content-Length, Content-Range, ETag"
    assert r.headers["vary"] == "Origin"
    # A presigned ranged read, as the live player does it.
    url = bucket.sign_url("GET", "seg", 60)
    target = url.split(oss.endpoint.split("//", 1)[1], 1)[1]
    r = raw_request(
        oss, "GET", target, headers={"Origin": CONSOLE, "Range": "bytes=2-4"}, sign=False
    )
    assert r.status == 206
    assert r.body == b"234"
    assert r.headers["access-control-allow-origin"] == CONSOLE
    # An error about the bucket is readable by the allowed origin too.
    r = raw_request(oss, "GET", f"/{oss.bucket}/missing", headers={"Origin": CONSOLE})
    assert r.status == 404
    assert r.headers["access-control-allow-origin"] == CONSOLE


def test_answers_to_other_origins_or_methods_have_no_allow_origin(
    oss: OssEnv, bucket: oss2.Bucket
) -> None:
    _player_rule(bucket)
    bucket.put_object("seg", b"data")
    other = raw_request(oss, "GET", f"/{oss.bucket}/seg", headers={"Origin": "http://evil.example"})
    assert other.status == 200
    assert "access-control-allow-origin" not in other.headers
    assert "vary" not in other.headers
    put = raw_request(oss, "PUT", f"/{oss.bucket}/new", headers={"Origin": CONSOLE}, body=b"x")
    assert put.status == 200
    assert "access-control-allow-origin" not in put.headers
    plain = raw_request(oss, "GET", f"/{oss.bucket}/seg")
    assert "access-control-allow-origin" not in plain.headers


def _rules_xml(count: int, rule: str = "") -> bytes:
    one = (
        rule
        or "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
    )
    return f"<CORSConfiguration>{one * count}</CORSConfiguration>".encode()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_rules_xml(11), "MalformedXML"),
        (_rules_xml(0), "MalformedXML"),
        (_rules_xml(1, "<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>"), "MalformedXML"),
        (
            _rules_xml(
                1,
                "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>",
            ),
            "InvalidArgument",
        ),
        (
            _rules_xml(
                1,
                "<CORSRule><AllowedOrigin>http://*.*.com</AllowedOrigin>"
                "<AllowedMethod>GET</AllowedMethod></CORSRule>",
            ),
            "InvalidArgument",
        ),
        (
            _rules_xml(
                1,
                "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
                "<ExposeHeader>x-*</ExposeHeader></CORSRule>",
            ),
            "InvalidArgument",
        ),
        (
            _rules_xml(
                1,
                "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
                "<MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule>",
            ),
            "InvalidArgument",
        ),
        (b'<!DOCTYPE x [<!ENTITY a "a">]><CORSConfiguration/>', "MalformedXML"),
    ],
)
def test_bad_cors_documents(oss: OssEnv, body: bytes, code: str) -> None:
    r = raw_request(oss, "PUT", f"/{oss.bucket}/?cors", body=body)
    assert r.status == 400
    assert f"<Code>{code}</Code>".encode() in r.body


def test_ten_rules_are_accepted(oss: OssEnv, bucket: oss2.Bucket) -> None:
    r = raw_request(oss, "PUT", f"/{oss.bucket}/?cors", body=_rules_xml(10))
    assert r.status == 200
    assert len(bucket.get_bucket_cors().rules) == 10


def _role(oss: OssEnv, actions: list[str]) -> oss2.Bucket:
    policy = {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": [f"acs:oss:*:*:{oss.bucket}"]}
        ],
    }
    return oss.bucket_client(oss.sts_auth(oss.assume_role(policies=[policy])))


def test_sts_caller_needs_the_cors_actions(oss: OssEnv) -> None:
    denied = _role(oss, ["oss:GetObject", "oss:DeleteBucketCors"])
    with pytest.raises(oss2.exceptions.AccessDenied):
        denied.put_bucket_cors(
            BucketCors([CorsRule(allowed_origins=["*"], allowed_methods=["GET"])])
        )
    allowed = _role(oss, ["oss:PutBucketCors", "oss:GetBucketCors"])
    allowed.put_bucket_cors(BucketCors([CorsRule(allowed_origins=["*"], allowed_methods=["GET"])]))
    assert allowed.get_bucket_cors().rules[0].allowed_origins == ["*"]
    with pytest.raises(oss2.exceptions.AccessDenied):
        allowed.delete_bucket_cors()


def test_rules_survive_a_durable_restart(tmp_path: Path) -> None:
    config = CorsConfiguration(
        (Rule(("http://a",), ("GET", "HEAD"), ("range",), ("ETag",), 60),), response_vary=True
    )
    model = OssModel(DurableStore(tmp_path, fsync=False), max_append_object_size=1 << 20)
    model.ensure_bucket("media", owner="1", region="cn-hangzhou", now=0)
    model.put_cors("media", config)
    model.store.close()
    reopened = OssModel(DurableStore(tmp_path, fsync=False), max_append_object_size=1 << 20)
    assert reopened.get_bucket("media").cors == config
    reopened.put_cors("media", None)
    reopened.store.close()
    again = OssModel(DurableStore(tmp_path, fsync=False), max_append_object_size=1 << 20)
    assert again.get_bucket("media").cors is None
