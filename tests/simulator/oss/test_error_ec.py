"""Error-code details (``x-oss-ec`` and ``<EC>``), as real OSS sends them and oss2 reads them."""

from __future__ import annotations

import oss2
import pytest

from tests.simulator.oss._raw import raw_request
from tests.simulator.oss._server import OssEnv
from tests.simulator.oss._wire import WireConnection, signed_head


def test_no_such_key_carries_its_ec_in_header_and_body_on_a_kept_connection(
    oss: OssEnv,
) -> None:
    conn = WireConnection(oss.endpoint)
    try:
        for _ in range(2):
            target = f"/{oss.bucket}/missing"
            conn.send(
                signed_head(
                    conn.host,
                    "GET",
                    target,
                    target,
                    oss.handle.access_key_id,
                    oss.handle.access_key_secret,
                )
            )
            response = conn.read_response()
            assert response.status == 404
            assert response.headers["x-oss-ec"] == "0026-00000001"
            assert b"<EC>0026-00000001</EC>" in response.body
            assert b"troubleshoot?q=0026-00000001</RecommendDoc>" in response.body
    finally:
        conn.close()


def test_oss2_exposes_the_ec(oss: OssEnv, bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.NoSuchKey) as missing:
        bucket.get_object("missing")
    assert missing.value.ec == "0026-00000001"
    with pytest.raises(oss2.exceptions.NoSuchKey) as head:
        bucket.head_object("missing")
    # HEAD has no body: the document, EC included, travels in x-oss-err.
    assert head.value.ec == "0026-00000001"
    wrong = oss.bucket_client(oss2.Auth(oss.handle.access_key_id, "wrong"))
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as signature:
        wrong.get_object("k")
    assert signature.value.ec == "0002-00000040"
    with pytest.raises(oss2.exceptions.NoSuchUpload) as upload:
        bucket.upload_part("k", "0" * 32, 1, b"x")
    assert upload.value.ec == "0042-00000104"
    upload_id = bucket.init_multipart_upload("k").upload_id
    with pytest.raises(oss2.exceptions.InvalidArgument) as number:
        bucket.upload_part("k", upload_id, 10001, b"x")
    assert (number.value.ec, number.value.name) == ("0017-00000220", "PartNumber")


def test_append_position_errors_and_policy_denials_have_their_ec(oss: OssEnv) -> None:
    missing = raw_request(oss, "POST", f"/{oss.bucket}/a?append", body=b"x")
    assert (missing.status, missing.headers["x-oss-ec"]) == (400, "0016-00000501")
    bad = raw_request(oss, "POST", f"/{oss.bucket}/a?append&position=x", body=b"x")
    assert (bad.status, bad.headers["x-oss-ec"]) == (400, "0016-00000502")
    creds = oss.assume_role(
        policies=[
            {
                "Version": "1",
                "Statement": [
                    {"Effect": "Allow", "Action": ["oss:GetObject"], "Resource": ["acs:oss:*:*:*"]}
                ],
            }
        ]
    )
    reader = oss.bucket_client(oss.sts_auth(creds))
    with pytest.raises(oss2.exceptions.AccessDenied) as denied:
        reader.put_object("k", b"x")
    assert denied.value.ec == "0003-00000201"
