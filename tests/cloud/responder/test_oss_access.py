"""Credentials from the responder, used through the real oss2 against the emulator.

The role behind them allows every OSS action on every bucket, so each denial below comes from
the session policy the responder attached.
"""

from __future__ import annotations

import oss2
import pytest

from tests.cloud.protocol_client import Keys, ProtocolClient, make_request, open_sealed
from tests.cloud.responder.harness import Live


def _bucket_for(
    live: Live, client: ProtocolClient, device_id: str, access: str = "append"
) -> tuple[oss2.Bucket, str]:
    keys = Keys.from_secret(live.provision(device_id))
    payload = open_sealed(
        keys, client.ask(device_id, make_request(keys, device_id, access=access)).doc
    )
    creds, grant = payload["credentials"], payload["grant"]
    auth = oss2.StsAuth(creds["access_key_id"], creds["access_key_secret"], creds["security_token"])
    return oss2.Bucket(auth, grant["endpoint"], grant["bucket"]), grant["prefix"]


def test_append_under_own_prefix_only(live: Live, client: ProtocolClient) -> None:
    bucket, prefix = _bucket_for(live, client, "cam-oss1")
    _bucket_for(live, client, "cam-oss2")
    key = f"{prefix}2025/11/29/clip.mp4"
    first = bucket.append_object(key, 0, b"a" * 1000)
    second = bucket.append_object(key, first.next_position, b"b" * 500)
    assert second.next_position == 1500
    # HEAD for position recovery is allowed with append access.
    assert bucket.head_object(key).content_length == 1500

    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.append_object("videos/cam-oss2/stolen.mp4", 0, b"x")
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.append_object("videos/cam-oss10/near-miss.mp4", 0, b"x")
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.append_object("other/cam-oss1/outside.mp4", 0, b"x")
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.delete_object(key)
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.list_objects(prefix=prefix)
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.list_objects_v2(prefix=prefix)
    assert bucket.get_object(key).read() == b"a" * 1000 + b"b" * 500


def test_read_access_cannot_write(live: Live, client: ProtocolClient) -> None:
    writer, prefix = _bucket_for(live, client, "cam-oss3")
    writer.put_object(f"{prefix}seg.ts", b"video")
    keys = Keys.from_secret(live.registry.rotate("cam-oss3")[1])
    payload = open_sealed(
        keys, client.ask("cam-oss3", make_request(keys, "cam-oss3", access="read")).doc
    )
    creds = payload["credentials"]
    reader = oss2.Bucket(
        oss2.StsAuth(creds["access_key_id"], creds["access_key_secret"], creds["security_token"]),
        payload["grant"]["endpoint"],
        payload["grant"]["bucket"],
    )
    assert reader.get_object(f"{prefix}seg.ts").read() == b"video"
    with pytest.raises(oss2.exceptions.AccessDenied):
        reader.put_object(f"{prefix}new.ts", b"x")
    with pytest.raises(oss2.exceptions.AccessDenied):
        reader.append_object(f"{prefix}new2.ts", 0, b"x")
