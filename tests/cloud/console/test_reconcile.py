"""Reconciler: HEADs each recording's object in the real emulator and judges it."""

from __future__ import annotations

import threading

import oss2

from cloud.console.ledger import Verification
from cloud.console.reconcile import ReconcileLoop
from tests.cloud.console.conftest import Stack, StackFactory


def state(stack: Stack, recording_id: str) -> tuple[str, str]:
    found = stack.ledger.recording(recording_id)
    assert found is not None
    return found.verification.value, found.reason


def test_matching_object_is_verified(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    event = cam.record("ok.mp4", b"fine" * 100, 0, 1000)
    stack.ingest(event)
    report = stack.console.parts.reconciler.run_once()
    assert (report.checked, report.verified, report.flagged, report.errors) == (1, 1, 0, 0)
    assert state(stack, event.event_id) == ("verified", "")


def test_tampered_object_is_flagged_not_verified(stack: Stack, root_bucket: oss2.Bucket) -> None:
    cam = stack.camera("cam-1")
    original = b"A" * 4096
    event = cam.record("tampered.mp4", original, 0, 1000)
    stack.ingest(event)
    # Same length, one byte changed: only the CRC-64 can tell.
    root_bucket.put_object(event.key, b"B" + original[1:])
    report = stack.console.parts.reconciler.run_once()
    assert report.flagged == 1
    assert state(stack, event.event_id) == ("flagged", "crc64")


def test_truncated_missing_and_extended_objects_are_flagged(
    stack: Stack, root_bucket: oss2.Bucket
) -> None:
    cam = stack.camera("cam-1")
    short = cam.record("short.mp4", b"x" * 100, 0, 1)
    longer = cam.record("long.mp4", b"y" * 100, 1, 2)
    missing = cam.record("missing.mp4", b"z" * 100, 2, 3)
    for event in (short, longer, missing):
        stack.ingest(event)
    root_bucket.put_object(short.key, b"x" * 50)
    root_bucket.put_object(longer.key, b"y" * 150)
    root_bucket.delete_object(missing.key)
    stack.console.parts.reconciler.run_once()
    assert state(stack, short.event_id) == ("flagged", "length")
    assert state(stack, longer.event_id) == ("flagged", "length")
    assert state(stack, missing.event_id) == ("flagged", "missing")
    observed = stack.ledger.recording(short.event_id)
    assert observed is not None
    assert observed.observed_size == 50


def test_verified_recordings_are_checked_again_later(
    stack_factory: StackFactory, root_bucket: oss2.Bucket
) -> None:
    stack = stack_factory(reconcile={"recheck_after_s": 3600, "enabled": False})
    cam = stack.camera("cam-1")
    event = cam.record("later.mp4", b"q" * 300, 0, 1)
    stack.ingest(event)
    reconciler = stack.console.parts.reconciler
    reconciler.run_once()
    assert state(stack, event.event_id)[0] == "verified"
    root_bucket.put_object(event.key, b"r" * 300)
    assert reconciler.run_once().checked == 0  # not due yet
    stack.clock.advance(3601)
    reconciler.run_once()
    assert state(stack, event.event_id) == ("flagged", "crc64")


def test_by_default_a_recording_deleted_outside_the_console_is_flagged_within_an_hour(
    stack_factory: StackFactory, root_bucket: oss2.Bucket
) -> None:
    stack = stack_factory(reconcile={"enabled": False})  # the default recheck_after_s
    cam = stack.camera("cam-1")
    event = cam.record("hour.mp4", b"h" * 100, 0, 1)
    stack.ingest(event)
    reconciler = stack.console.parts.reconciler
    reconciler.run_once()
    assert state(stack, event.event_id)[0] == "verified"
    root_bucket.delete_object(event.key)
    stack.clock.advance(3601)
    reconciler.run_once()
    assert state(stack, event.event_id) == ("flagged", "missing")


def test_unreachable_oss_leaves_state_unchanged(stack_factory: StackFactory) -> None:
    stack = stack_factory(oss={"endpoint": "http://127.0.0.1:9", "connect_timeout_s": 1})
    cam = stack.camera("cam-1")
    event = cam.record("x.mp4", b"abc", 0, 1)
    stack.ingest(event)
    report = stack.console.parts.reconciler.run_once()
    assert (report.checked, report.errors) == (1, 1)
    assert state(stack, event.event_id) == ("pending", "")


def test_deleted_recordings_are_not_checked(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    event = cam.record("gone.mp4", b"abc", 0, 1)
    stack.ingest(event)
    stack.console.parts.service.delete_recording(event.event_id, actor="test")
    assert stack.console.parts.reconciler.run_once().checked == 0
    assert state(stack, event.event_id)[0] == Verification.DELETED.value


def test_background_loop_runs_passes_until_stopped(stack: Stack) -> None:
    cam = stack.camera("cam-1")
    event = cam.record("loop.mp4", b"abc", 0, 1)
    stack.ingest(event)
    passes = 0
    second_pass = threading.Event()

    def before_pass() -> None:
        nonlocal passes
        passes += 1
        if passes == 2:  # the first pass has finished
            second_pass.set()

    loop = ReconcileLoop(stack.console.parts.reconciler, interval_s=0.01, before_pass=before_pass)
    loop.start()
    try:
        assert second_pass.wait(10)
    finally:
        loop.stop()
    assert state(stack, event.event_id)[0] == "verified"
