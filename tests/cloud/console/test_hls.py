"""HLS recordings: playlist rewriting, the playlist endpoint, the player page."""

from __future__ import annotations

import re

import httpx
import oss2
import pytest

from cloud.console.hls import PlaylistError, rewrite_playlist
from tests.cloud.console.conftest import Operator, Stack

KID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
KID2 = "ab" * 16
PLAYLIST_KEY = "videos/cam-1/front/S1.m3u8"

# What device.hls writes for an encrypted VOD recording (explicit IVs, a key rotation).
CAMERA_PLAYLIST = f"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-KEY:METHOD=AES-128,URI="/api/keys/cam-1/{KID}",IV=0x00000000000000000000000000000000
#EXTINF:1.000,
S1/000000.ts
#EXT-X-KEY:METHOD=AES-128,URI="https://console.example/api/keys/cam-1/{KID2}",IV=0x00000000000000000000000000000001
#EXTINF:1.000,
S1/000001.ts
#EXT-X-ENDLIST
"""


def _presign(key: str) -> str:
    return f"https://oss.example/{key}?x-oss-signature=s"


def _rewrite(text: str) -> str:
    return rewrite_playlist(
        text,
        playlist_key=PLAYLIST_KEY,
        device_id="cam-1",
        device_prefix="videos/cam-1/",
        presign=_presign,
    )


def test_segments_are_presigned_and_keys_point_at_the_console() -> None:
    lines = _rewrite(CAMERA_PLAYLIST).splitlines()
    assert lines[0] == "#EXTM3U"
    assert "https://oss.example/videos/cam-1/front/S1/000000.ts?x-oss-signature=s" in lines
    assert "https://oss.example/videos/cam-1/front/S1/000001.ts?x-oss-signature=s" in lines
    keys = [line for line in lines if line.startswith("#EXT-X-KEY")]
    assert keys == [
        f'#EXT-X-KEY:METHOD=AES-128,URI="/api/keys/cam-1/{KID}",IV=0x{0:032X}',
        f'#EXT-X-KEY:METHOD=AES-128,URI="/api/keys/cam-1/{KID2}",IV=0x{1:032X}',
    ]
    assert "#EXT-X-ENDLIST" in lines
    assert "#EXTINF:1.000," in lines


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("S1/000001.ts", "https://evil.example/x.ts"), "outside"),
        (("S1/000001.ts", "../../cam-2/front/S1/000001.ts"), "outside"),
        (("S1/000001.ts", "../../../../etc/passwd"), "outside"),
        (("S1/000001.ts", "/videos/cam-1/front/S1/000001.ts"), "outside"),
        (("S1/000001.ts", "S1//000001.ts"), "outside"),
        (("S1/000001.ts", "S1/000001.ts?x=1"), "outside"),
        (("S1/000001.ts", "S1\\000001.ts"), "outside"),
        ((f"/api/keys/cam-1/{KID}", f"/api/keys/cam-2/{KID}"), "key URI"),
        ((f"/api/keys/cam-1/{KID}", "/api/keys/cam-1/secret"), "key URI"),
        ((f"/api/keys/cam-1/{KID}", f"/api/keys/cam-1/{KID.upper()}"), "key URI"),
        (('METHOD=AES-128,URI="/', 'METHOD=SAMPLE-AES,URI="/'), "AES-128"),
        (("IV=0x00000000000000000000000000000000", "IV=0x00"), "IV"),
        (("#EXTM3U", "#EXTM3X"), "EXTM3U"),
        (("#EXT-X-ENDLIST", '#EXT-X-MAP:URI="init.mp4"'), "unsupported"),
        (("#EXT-X-ENDLIST", "#EXT-X-STREAM-INF:BANDWIDTH=1\nother.m3u8"), "unsupported"),
        # URI-bearing tags a console must never pass through (low-latency parts, preload
        # hints, renditions, I-frame streams, session data, content steering ...).
        (("#EXT-X-ENDLIST", '#EXT-X-PART:DURATION=1,URI="/api/devices"'), "unsupported"),
        (("#EXT-X-ENDLIST", '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="/api/devices"'), "unsupported"),
        (("#EXT-X-ENDLIST", '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="/api/x"'), "unsupported"),
        (("#EXT-X-ENDLIST", '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="/x"'), "unsupported"),
        (("#EXT-X-ENDLIST", '#EXT-X-RENDITION-REPORT:URI="/api/devices"'), "unsupported"),
        (("#EXT-X-ENDLIST", '#EXT-X-SESSION-DATA:DATA-ID="x",URI="/x"'), "unsupported"),
        (("#EXT-X-ENDLIST", '#EXT-X-CONTENT-STEERING:SERVER-URI="/x"'), "unsupported"),
        (("#EXT-X-ENDLIST", '#EXT-X-DATERANGE:ID="x",X-URI="/api/devices"'), "unsupported"),
        (("#EXT-X-ENDLIST", "#EXT-X-SOMETHING-NEW:/api/devices"), "unsupported"),
    ],
)
def test_hostile_playlists_are_refused(change: tuple[str, str], reason: str) -> None:
    old, new = change
    hostile = CAMERA_PLAYLIST.replace(old, new, 1)
    assert hostile != CAMERA_PLAYLIST
    with pytest.raises(PlaylistError) as info:
        _rewrite(hostile)
    assert reason in info.value.reason
    assert "oss.example" not in str(info.value)


def test_passed_tags_are_copied_and_comments_dropped() -> None:
    extra = CAMERA_PLAYLIST.replace(
        "#EXT-X-ENDLIST",
        "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n"
        "# a comment naming /api/devices\n#EXTINF:1.000,\nS1/000002.ts\n#EXT-X-ENDLIST",
    )
    lines = _rewrite(extra).splitlines()
    assert "#EXT-X-DISCONTINUITY" in lines
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z" in lines
    assert not any("comment" in line for line in lines)


def test_a_segment_may_climb_within_the_prefix() -> None:
    text = CAMERA_PLAYLIST.replace("S1/000001.ts", "../front/S1/000001.ts")
    assert "videos/cam-1/front/S1/000001.ts?" in _rewrite(text)


# -- the endpoint and the page, against the emulator -------------------------------------


def _hls_recording(stack: Stack, text: str = CAMERA_PLAYLIST) -> tuple[str, dict[str, bytes]]:
    cam = stack.camera("cam-1")
    segments = {f"front/S1/{n:06d}.ts": bytes([n]) * 1880 for n in range(2)}
    for name, data in segments.items():
        cam.upload(name, data)
    event = cam.record("front/S1.m3u8", text.encode(), 1_000, 3_000)
    assert stack.ingest(event) == "stored"
    return event.event_id, segments


def test_the_playlist_endpoint_serves_a_playable_copy(stack: Stack, operator: Operator) -> None:
    recording_id, segments = _hls_recording(stack)
    reply = operator.http.get(f"/api/recordings/{recording_id}/playlist.m3u8")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert reply.headers["cache-control"] == "no-store"
    uris = [line for line in reply.text.splitlines() if not line.startswith("#")]
    assert len(uris) == 2
    for uri, (name, data) in zip(uris, segments.items(), strict=True):
        assert uri.startswith(stack.emulator.oss_endpoint)
        assert f"videos/cam-1/{name}" in uri
        fetched = httpx.get(uri, timeout=10)  # no session: the signature is the permission
        assert fetched.status_code == 200
        assert fetched.content == data
        assert fetched.headers["content-type"] == "video/mp2t"
    assert f'URI="/api/keys/cam-1/{KID2}"' in reply.text


def test_the_playlist_endpoint_refuses(
    stack: Stack, operator: Operator, anon: httpx.Client, root_bucket: oss2.Bucket
) -> None:
    recording_id, _ = _hls_recording(stack)
    assert anon.get(f"/api/recordings/{recording_id}/playlist.m3u8").status_code == 401

    cam = stack.camera("cam-2")
    mp4 = cam.record("a.mp4", b"x" * 10, 0, 1000)
    stack.ingest(mp4)
    reply = operator.http.get(f"/api/recordings/{mp4.event_id}/playlist.m3u8")
    assert reply.status_code == 404
    assert operator.http.get("/api/recordings/NOTHEX/playlist.m3u8").status_code == 400

    hostile = cam.record("evil.m3u8", b"#EXTM3U\n#EXTINF:1,\nhttps://evil.example/x.ts\n", 0, 1)
    stack.ingest(hostile)
    reply = operator.http.get(f"/api/recordings/{hostile.event_id}/playlist.m3u8")
    assert reply.status_code == 502
    assert reply.json()["error"] == "bad_playlist"
    assert "evil.example" not in reply.text

    root_bucket.delete_object(hostile.key)
    reply = operator.http.get(f"/api/recordings/{hostile.event_id}/playlist.m3u8")
    assert reply.status_code == 502
    assert reply.json()["error"] == "storage_unavailable"


def test_the_player_page_uses_hls_js_under_a_strict_policy(
    stack: Stack, operator: Operator
) -> None:
    recording_id, _ = _hls_recording(stack)
    page = operator.http.get(f"/recordings/{recording_id}")
    assert page.status_code == 200
    assert f'data-hls-src="/api/recordings/{recording_id}/playlist.m3u8"' in page.text
    assert '<script src="/static/vendor/hls.light.min.js" defer></script>' in page.text
    assert re.search(r'<video id="player"[^>]* src=', page.text) is None
    csp = page.headers["content-security-policy"]
    assert "media-src blob:" in csp
    assert f"connect-src 'self' {stack.emulator.oss_endpoint}" in csp
    assert "script-src 'self';" in csp
    assert "worker-src" not in csp  # hls.js runs without a worker
    for path in ("/static/vendor/hls.light.min.js", "/static/hls-player.js"):
        assert operator.http.get(path).status_code == 200
