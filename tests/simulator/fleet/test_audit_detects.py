"""The read-back audit must fail when stored objects are tampered with."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import oss2
import pytest

from simulator.fleet.chaos import AppliedStep
from simulator.fleet.group import CameraResult, CameraSpec, GroupSpec, run_group
from simulator.fleet.report import FleetReport, build_report
from simulator.fleet.runner import FleetSettings, camera_settings
from simulator.fleet.services import LocalServices, local_services
from simulator.fleet.verify import verify_cameras


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalServices, CameraResult]]:
    """One camera that recorded 3 s through the whole system."""
    workdir = tmp_path_factory.mktemp("fleet-audit")
    with local_services(workdir) as services:
        settings = FleetSettings(cameras=1, duration_s=3, chunk_bytes=4096, rollover_s=1.0)
        data = camera_settings(settings, services, "cam-audit", workdir / "spool")
        spec = GroupSpec(
            cameras=(CameraSpec(json.dumps(data)),),
            seed=3,
            bitrate_bps=128_000,
            chunk_bytes=4096,
            duration_s=3,
            drain_s=20,
        )
        result = run_group(spec, lambda _: None, threading.Event())
        yield services, result.cameras[0]


def _report(camera: CameraResult, services: LocalServices) -> FleetReport:
    audits = verify_cameras([camera], services.bucket())
    report = FleetReport("steady", 3, 1, 3.0, 128_000, 1)
    return build_report(report, [camera], audits, [AppliedStep("x", 0, None, {})], {})


def _keys(services: LocalServices) -> list[str]:
    bucket = services.bucket()
    return sorted(o.key for o in oss2.ObjectIteratorV2(bucket, prefix="videos/cam-audit/"))


def test_untouched_objects_pass(recorded: tuple[LocalServices, CameraResult]) -> None:
    services, camera = recorded
    report = _report(camera, services)
    assert report.ok, report.summary()
    assert report.produced_bytes == report.stored_bytes > 40_000
    assert report.objects >= 2  # rollover every second: several objects, joined in key order


def _replace(services: LocalServices, key: str, data: bytes) -> bytes:
    bucket = services.bucket()
    original = bytes(bucket.get_object(key).read())
    bucket.put_object(key, data)
    return original


def _findings(report: FleetReport) -> list[dict[str, object]]:
    (camera,) = report.camera_audits
    findings: list[dict[str, object]] = camera["findings"]
    return findings


def test_flipped_byte_is_one_corrupted_byte_named_by_object_and_offset(
    recorded: tuple[LocalServices, CameraResult],
) -> None:
    services, camera = recorded
    key = _keys(services)[0]
    original = _replace(services, key, b"")
    try:
        tampered = bytearray(original)
        middle = len(tampered) // 2
        tampered[middle] ^= 0x01
        services.bucket().put_object(key, bytes(tampered))
        report = _report(camera, services)
        assert not report.ok
        assert (report.corrupted_bytes, report.lost_bytes, report.duplicated_bytes) == (1, 0, 0)
        assert report.ok_bytes == report.produced_bytes - 1
        assert report.unclean_cameras == ["cam-audit"]
        assert [(f["kind"], f["key"], f["offset"], f["bytes"]) for f in _findings(report)] == [
            ("corrupted", key, middle, 1)
        ]
        # The camera reported the object's CRC-64 when it closed it: the object is named.
        assert report.object_problems == [
            {"key": key, "reason": "reported CRC64 differs from stored bytes"}
        ]
        assert "FAILED (integrity), exit status 1" in report.summary()
    finally:
        services.bucket().put_object(key, original)


def test_cut_tail_is_lost_bytes_not_corruption(
    recorded: tuple[LocalServices, CameraResult],
) -> None:
    services, camera = recorded
    key = _keys(services)[0]
    original = _replace(services, key, b"")
    try:
        services.bucket().put_object(key, original[:-100])
        report = _report(camera, services)
        assert (report.lost_bytes, report.corrupted_bytes, report.duplicated_bytes) == (100, 0, 0)
        assert report.ok_bytes == report.produced_bytes - 100
        assert [(f["kind"], f["key"], f["offset"], f["bytes"]) for f in _findings(report)] == [
            ("lost", key, len(original) - 100, 100)
        ]
        assert report.object_problems == [
            {"key": key, "reason": f"reported {len(original)} bytes, stored {len(original) - 100}"}
        ]
    finally:
        services.bucket().put_object(key, original)


def test_garbage_object_sorting_first_is_only_its_own_bytes(
    recorded: tuple[LocalServices, CameraResult],
) -> None:
    services, camera = recorded
    garbage = "videos/cam-audit/00000000T000000Z-garbage.bin"
    services.bucket().put_object(garbage, b"\x00" * 5000)
    try:
        report = _report(camera, services)
        assert (report.corrupted_bytes, report.lost_bytes, report.duplicated_bytes) == (
            5000,
            0,
            0,
        )
        assert report.ok_bytes == report.produced_bytes
        assert [(f["kind"], f["key"], f["offset"]) for f in _findings(report)] == [
            ("corrupted", garbage, 0)
        ]
    finally:
        services.bucket().delete_object(garbage)


def test_missing_chunk_is_loss(recorded: tuple[LocalServices, CameraResult]) -> None:
    services, camera = recorded
    key = _keys(services)[0]
    first = camera.chunks[0]
    original = _replace(services, key, b"")
    try:
        services.bucket().put_object(key, original[first.size :])  # drop the first chunk
        report = _report(camera, services)
        assert not report.ok
        assert (report.lost_bytes, report.corrupted_bytes) == (first.size, 0)
        assert [(f["kind"], f["key"], f["offset"]) for f in _findings(report)] == [("lost", key, 0)]
    finally:
        services.bucket().put_object(key, original)


def test_repeated_chunk_is_duplication(recorded: tuple[LocalServices, CameraResult]) -> None:
    services, camera = recorded
    key = _keys(services)[0]
    first = camera.chunks[0]
    original = _replace(services, key, b"")
    try:
        services.bucket().put_object(key, original[: first.size] + original)
        report = _report(camera, services)
        assert not report.ok
        assert (report.duplicated_bytes, report.lost_bytes, report.corrupted_bytes) == (
            first.size,
            0,
            0,
        )
        assert [(f["kind"], f["key"], f["offset"]) for f in _findings(report)] == [
            ("duplicated", key, first.size)
        ]
    finally:
        services.bucket().put_object(key, original)


def test_deleted_object_is_loss_and_named(recorded: tuple[LocalServices, CameraResult]) -> None:
    services, camera = recorded
    key = _keys(services)[-1]
    original = _replace(services, key, b"")
    try:
        services.bucket().delete_object(key)
        report = _report(camera, services)
        assert not report.ok
        assert (report.lost_bytes, report.corrupted_bytes) == (len(original), 0)
        assert {"key": key, "reason": "reported closed but not stored"} in report.object_problems
    finally:
        services.bucket().put_object(key, original)
