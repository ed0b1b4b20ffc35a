"""HLS content keys: ingest of ``hls.key``, sealing at rest, and ``GET /api/keys/...``."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from cloud.console.content_keys import ContentKeyError, ContentKeys, KeySealer
from cloud.console.errors import RejectedMessageError
from cloud.console.ledger import Ledger
from cloud.registry import MasterKey, new_master_key
from schemas import DeviceKeys, b64url_encode, hls_key_canonical, new_device_secret, sign
from tests.cloud.console.camera import wire
from tests.cloud.console.conftest import Operator, Stack

KID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def reject_reason(stack: Stack, topic: str, payload: bytes) -> str:
    with pytest.raises(RejectedMessageError) as caught:
        stack.console.parts.ingestor.handle(topic, payload)
    return caught.value.reason


# -- ingest -------------------------------------------------------------------------------


def test_a_delivered_key_is_kept_once_and_served(stack: Stack, operator: Operator) -> None:
    cam = stack.camera("cam-1")
    key = os.urandom(16)
    event = cam.content_key(KID, key, created_ms=1_764_380_000_000)
    assert stack.ingest(event) == "stored"
    assert stack.ingest(event) == "duplicate"  # QoS 1 redelivery
    # A camera re-sending the key (a new seal, same key) is a duplicate too.
    assert stack.ingest(cam.content_key(KID, key)) == "duplicate"
    reply = operator.http.get(f"/api/keys/cam-1/{KID}")
    assert reply.status_code == 200
    assert reply.content == key
    assert reply.headers["content-type"] == "application/octet-stream"
    assert reply.headers["cache-control"] == "no-store"


def test_a_known_key_id_never_changes_its_key(stack: Stack, operator: Operator) -> None:
    cam = stack.camera("cam-1")
    key = os.urandom(16)
    assert stack.ingest(cam.content_key(KID, key)) == "stored"
    other = cam.content_key(KID, bytes(16))
    assert reject_reason(stack, cam.events_topic(), wire(other)) == "key_conflict"
    assert operator.http.get(f"/api/keys/cam-1/{KID}").content == key


def test_forged_moved_and_misrouted_keys_are_refused(stack: Stack, operator: Operator) -> None:
    cam = stack.camera("cam-1")
    other_cam = stack.camera("cam-2")
    topic = cam.events_topic()
    forged = cam.content_key(KID, os.urandom(16), keys=DeviceKeys.from_secret(new_device_secret()))
    assert reject_reason(stack, topic, wire(forged)) == "bad_signature"

    genuine = json.loads(wire(cam.content_key(KID, os.urandom(16))))
    genuine["created_ms"] += 1
    assert reject_reason(stack, topic, json.dumps(genuine).encode()) == "bad_signature"

    # Sealed for another key id, then signed correctly: the seal still says no.
    moved = cam.content_key("ab" * 16, os.urandom(16))
    resigned = cam.content_key(KID, bytes(16)).model_copy(update={"sealed": moved.sealed})
    resigned = resigned.model_copy(
        update={"sig": sign(cam.keys.sign_key, hls_key_canonical(resigned))}
    )
    assert reject_reason(stack, topic, wire(resigned)) == "bad_seal"

    # cam-2's event on cam-1's topic, and an unknown device.
    assert reject_reason(stack, topic, wire(other_cam.content_key(KID, bytes(16)))) == (
        "topic_mismatch"
    )
    unknown = cam.content_key(KID, bytes(16)).model_copy(update={"device_id": "cam-9"})
    assert reject_reason(stack, "ossmedia/v1/cam-9/events", wire(unknown)) == "unknown_device"

    stack.registry.revoke("cam-2")
    revoked = other_cam.content_key(KID, bytes(16))
    assert reject_reason(stack, other_cam.events_topic(), wire(revoked)) == "revoked"

    for device in ("cam-1", "cam-2", "cam-9"):
        assert operator.http.get(f"/api/keys/{device}/{KID}").status_code == 404


def test_keys_are_sealed_at_rest_under_the_master_key(stack: Stack, master_key: str) -> None:
    cam = stack.camera("cam-1")
    key = os.urandom(16)
    stack.ingest(cam.content_key(KID, key))
    sealed = stack.ledger.content_key("cam-1", KID)
    assert sealed is not None
    assert key not in sealed
    assert len(sealed) == 12 + 16 + 16
    # The console's sealer is the one derived from the registry master key.
    assert (
        KeySealer.from_master_key(MasterKey.from_text(master_key)).open("cam-1", KID, sealed) == key
    )
    with pytest.raises(ContentKeyError):
        KeySealer.from_master_key(MasterKey.from_text(new_master_key())).open("cam-1", KID, sealed)


def test_a_sealed_row_moved_to_another_id_does_not_open() -> None:
    ledger = Ledger(":memory:")
    keys = ContentKeys(ledger, KeySealer(bytes(range(32))))
    key = os.urandom(16)
    assert keys.put("cam-1", KID, key, created_ms=0, now_ms=0)
    assert not keys.put("cam-1", KID, key, created_ms=0, now_ms=1)
    sealed = ledger.content_key("cam-1", KID)
    assert sealed is not None
    ledger.add_content_key("cam-2", KID, sealed, created_ms=0, now_ms=0)
    ledger.add_content_key("cam-1", "ab" * 16, sealed, created_ms=0, now_ms=0)
    for device, key_id in (("cam-2", KID), ("cam-1", "ab" * 16)):
        with pytest.raises(ContentKeyError) as info:
            keys.get(device, key_id)
        assert key.hex() not in str(info.value)
        assert b64url_encode(key) not in str(info.value)
    assert "hidden" in repr(KeySealer(bytes(32)))
    ledger.close()


# -- the endpoint -------------------------------------------------------------------------


def test_the_key_endpoint_needs_a_session(stack: Stack, anon: httpx.Client) -> None:
    cam = stack.camera("cam-1")
    stack.ingest(cam.content_key(KID, os.urandom(16)))
    reply = anon.get(f"/api/keys/cam-1/{KID}")
    assert reply.status_code == 401
    assert reply.json()["error"] == "login_required"
    assert len(reply.content) != 16


@pytest.mark.parametrize(
    "path",
    [
        f"/api/keys/cam-1/{KID.upper()}",
        f"/api/keys/cam-1/{KID[:-1]}",
        f"/api/keys/cam-1/{KID}0",
        f"/api/keys/-cam/{KID}",
        f"/api/keys/c%C3%A4m-1/{KID}",
        f"/api/keys/{'c' * 33}/{KID}",
    ],
)
def test_hostile_ids_are_refused(shared_operator: Operator, path: str) -> None:
    reply = shared_operator.http.get(path)
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_input"


def test_a_path_traversal_finds_no_route(shared_operator: Operator) -> None:
    # %2F is decoded before routing, so the path has too many segments for the key route.
    reply = shared_operator.http.get("/api/keys/cam-1/..%2F..%2Fregistry.db")
    assert reply.status_code == 404
    assert reply.json()["error"] == "not_found"


def test_unknown_key_is_404(shared_operator: Operator) -> None:
    reply = shared_operator.http.get(f"/api/keys/cam-1/{KID}")
    assert reply.status_code == 404
    assert reply.json()["error"] == "not_found"
