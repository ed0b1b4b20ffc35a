"""Ingest: what the console accepts from MQTT, checked against the real registry."""

from __future__ import annotations

import json

import pytest

from cloud.console.errors import RejectedMessageError
from schemas import DeviceKeys, new_device_secret
from tests.cloud.console.camera import TestCamera, wire
from tests.cloud.console.conftest import Stack


def reject_reason(stack: Stack, topic: str, payload: bytes) -> str:
    with pytest.raises(RejectedMessageError) as caught:
        stack.console.parts.ingestor.handle(topic, payload)
    return caught.value.reason


def test_signed_event_is_stored_once(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    event = cam.segment("videos/cam-1/a.mp4", 10, 123, 1000, 2000)
    assert stack.ingest(event) == "stored"
    assert stack.ingest(event) == "duplicate"
    counts = stack.console.parts.ingestor.counts()
    assert counts == {"stored": 1, "duplicate": 1}


def test_a_new_event_reusing_a_seq_is_stored(stack: Stack) -> None:
    # The camera's spool was wiped: it counts from 0 again, with new event ids and objects.
    cam = stack.camera("cam-1")
    first = cam.segment("videos/cam-1/a.mp4", 10, 123, 1000, 2000, seq=0)
    again = cam.segment("videos/cam-1/b.mp4", 20, 456, 90_000, 95_000, seq=0)
    assert stack.ingest(first) == "stored"
    assert stack.ingest(again) == "stored"
    assert stack.ingest(again) == "duplicate"  # deduplicated on its event id
    camera = stack.ledger.camera("cam-1")
    assert camera is not None
    assert (camera.recordings, camera.seq_collisions) == (2, 1)


def test_start_after_end_is_rejected(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    backwards = cam.segment("videos/cam-1/a.mp4", 10, 123, 2000, 1000)
    assert reject_reason(stack, cam.events_topic(), wire(backwards)) == "malformed"
    assert stack.ledger.recording(backwards.event_id) is None


def test_forged_and_tampered_events_are_rejected(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    forged_keys = DeviceKeys.from_secret(new_device_secret())
    forged = cam.segment("videos/cam-1/a.mp4", 10, 1, 0, 1, keys=forged_keys)
    topic = cam.events_topic()
    assert reject_reason(stack, topic, wire(forged)) == "bad_signature"
    genuine = json.loads(wire(cam.segment("videos/cam-1/b.mp4", 10, 1, 0, 1)))
    genuine["bytes"] = 11  # any change breaks the signature
    assert reject_reason(stack, topic, json.dumps(genuine).encode()) == "bad_signature"
    assert stack.ledger.camera("cam-1") is not None
    assert stack.ledger.camera("cam-1").recordings == 0  # type: ignore[union-attr]


def test_events_must_match_topic_device_and_prefix(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    stack.camera("cam-2")
    event = cam.segment("videos/cam-1/a.mp4", 10, 1, 0, 1)
    assert reject_reason(stack, "ossmedia/v1/cam-2/events", wire(event)) == "topic_mismatch"
    outside = cam.segment("videos/cam-2/stolen.mp4", 10, 1, 0, 1)
    assert reject_reason(stack, cam.events_topic(), wire(outside)) == "bad_key"


def test_unknown_revoked_and_rotated_devices(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    stranger = TestCamera(
        "cam-9", DeviceKeys.from_secret(new_device_secret()), stack.bucket, "videos/cam-9/"
    )
    event = stranger.segment("videos/cam-9/a.mp4", 1, 1, 0, 1)
    assert reject_reason(stack, stranger.events_topic(), wire(event)) == "unknown_device"

    old_keys = cam.keys
    _, secret = stack.registry.rotate("cam-1")
    stale = cam.segment("videos/cam-1/a.mp4", 1, 1, 0, 1, keys=old_keys)
    assert reject_reason(stack, cam.events_topic(), wire(stale)) == "bad_signature"
    cam.keys = DeviceKeys.from_secret(secret)
    assert stack.ingest(cam.segment("videos/cam-1/a.mp4", 1, 1, 0, 1)) == "stored"

    stack.registry.revoke("cam-1")
    late = cam.segment("videos/cam-1/b.mp4", 1, 1, 0, 1)
    assert reject_reason(stack, cam.events_topic(), wire(late)) == "revoked"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("ossmedia/v1/cam-1/events", b"{not json", "malformed"),
        ("ossmedia/v1/cam-1/events", b'{"kind": "segment.opened"}', "malformed"),
        ("ossmedia/v1/cam-1/events", b"x" * 100_000, "malformed"),
        ("ossmedia/v1/cam-1/status", b"[]", "malformed"),
        ("ossmedia/v1/cam-1/creds/req", b"{}", "bad_topic"),
        ("ossmedia/v1/+/events", b"{}", "bad_topic"),
        ("other/v1/cam-1/events", b"{}", "bad_topic"),
        ("ossmedia/v1/../events", b"{}", "bad_topic"),
    ],
)
def test_malformed_messages_are_rejected(
    stack: Stack, topic: str, payload: bytes, reason: str
) -> None:
    stack.camera("cam-1")
    assert reject_reason(stack, topic, payload) == reason


def test_status_and_last_will(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    assert stack.ingest(cam.status(1000, spool_bytes=5)) == "stored"
    assert stack.ingest(cam.status(900, spool_bytes=6)) == "stale"
    assert stack.ledger.camera("cam-1").online  # type: ignore[union-attr]
    will = {
        "v": 1, "kind": "status", "device_id": "cam-1", "ts_ms": 500, "state": "offline",
        "spool_bytes": 0, "oldest_unsent_age_ms": None, "last_upload_ms": None,
        "cred_expires_at_ms": None, "clock_offset_ms": 0, "uploaded_bytes": 0,
        "dropped_bytes": 0, "sig": None,
    }  # fmt: skip
    assert (
        stack.console.parts.ingestor.handle(cam.status_topic(), json.dumps(will).encode()).value
        == "offline"
    )
    camera = stack.ledger.camera("cam-1")
    assert camera is not None
    assert not camera.online
    assert camera.status is not None
    assert camera.status.spool_bytes == 5  # the will changes only the online state
    # An unsigned "online" is not a last will: refused.
    will["state"] = "online"
    assert reject_reason(stack, cam.status_topic(), json.dumps(will).encode()) == "malformed"
