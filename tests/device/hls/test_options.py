from __future__ import annotations

import pytest
from pydantic import ValidationError

from device.hls.options import EncryptionOptions, HlsOptions, segment_uri


def test_default_names_are_under_the_prefix_and_per_session() -> None:
    options = HlsOptions(prefix="videos/cam-0001/", stream="front")
    assert options.playlist_key("S1") == "videos/cam-0001/front/S1.m3u8"
    assert options.segment_key("S1", 12) == "videos/cam-0001/front/S1/000012.ts"
    assert segment_uri(options.playlist_key("S1"), options.segment_key("S1", 12)) == (
        "S1/000012.ts"
    )


def test_fixed_live_playlist_name() -> None:
    options = HlsOptions(prefix="p/", playlist_name="{stream}/live.m3u8", mode="live")
    key = options.playlist_key("S")
    assert key == "p/hls/live.m3u8"
    assert segment_uri(key, options.segment_key("S", 0)) == "S/000000.ts"


def test_uri_climbs_when_the_playlist_is_deeper() -> None:
    assert segment_uri("p/a/b/x.m3u8", "p/c/1.ts") == "../../c/1.ts"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prefix": "videos/cam"},
        {"prefix": "/videos/cam/"},
        {"prefix": "videos/../other/"},
        {"prefix": "p/", "segment_name": "{stream}/x.ts"},
        {"prefix": "p/", "segment_name": "../{seq}.ts"},
        {"prefix": "p/", "segment_name": "{stream}/{oops}/{seq}.ts"},
        {"prefix": "p/", "playlist_name": "{stream}.txt"},
        {"prefix": "p/", "stream": "a/b"},
        {"prefix": "p/", "session": ".."},
        {"prefix": "p/", "audio_sample_rate": 44000},
        {"prefix": "p/", "target_duration_s": 0},
        {"prefix": "p/", "list_size": 0},
        {"prefix": "p/", "unknown": 1},
    ],
)
def test_invalid_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HlsOptions(**kwargs)  # type: ignore[arg-type]


def test_options_are_frozen() -> None:
    options = HlsOptions(prefix="p/")
    with pytest.raises(ValidationError):
        options.list_size = 3


def test_encryption_options() -> None:
    enc = EncryptionOptions(device_id="cam-0001")
    assert enc.key_uri("abc") == "/api/keys/cam-0001/abc"
    custom = EncryptionOptions(
        device_id="cam-0001", key_uri_template="https://console.example/k/{key_id}"
    )
    assert custom.key_uri("abc") == "https://console.example/k/abc"
    for template in ("/api/keys/{device_id}", '/k/{key_id}"', "/k/{key_id}/{x}"):
        with pytest.raises(ValidationError):
            EncryptionOptions(device_id="cam-0001", key_uri_template=template)
    with pytest.raises(ValidationError):
        EncryptionOptions(device_id="cam/../x")
