from __future__ import annotations

import device.hls


def test_public_surface_is_pinned() -> None:
    assert sorted(device.hls.__all__) == sorted(
        [
            "PLAYLIST_CONTENT_TYPE",
            "SEGMENT_CONTENT_TYPE",
            "ContentKey",
            "EncryptionOptions",
            "HlsBackpressureError",
            "HlsError",
            "HlsInputError",
            "HlsOptions",
            "HlsStateError",
            "HlsStats",
            "HlsStream",
            "InMemoryKeyDelivery",
            "KeyDelivery",
            "KeyDeliveryError",
            "KeyTag",
            "MemorySink",
            "OssBucketSink",
            "PlaylistEntry",
            "PlaylistWindow",
            "SegmentSink",
            "Segmenter",
            "SpoolSink",
            "TsSegment",
            "decrypt_segment",
            "encrypt_segment",
            "iv_for_sequence",
            "render_media_playlist",
        ]
    )
    for name in device.hls.__all__:
        assert hasattr(device.hls, name)


def test_errors_hang_under_the_device_root() -> None:
    from device.errors import DeviceError

    for name in ("HlsError", "HlsInputError", "HlsStateError", "HlsBackpressureError"):
        assert issubclass(getattr(device.hls, name), DeviceError)
    assert issubclass(device.hls.KeyDeliveryError, device.hls.HlsError)


def test_device_hls_needs_no_media_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys, device.hls\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('av', 'numpy', 'cloud', 'simulator')]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
