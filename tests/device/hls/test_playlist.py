from __future__ import annotations

import pytest

from device.hls.playlist import KeyTag, PlaylistEntry, PlaylistWindow, render_media_playlist


def _entry(seq: int, duration: float = 2.0, key: KeyTag | None = None) -> PlaylistEntry:
    return PlaylistEntry(sequence=seq, uri=f"s/{seq:06d}.ts", duration_s=duration, key=key)


def test_live_window_slides_and_media_sequence_advances() -> None:
    window = PlaylistWindow(mode="live", list_size=3)
    for seq in range(5):
        window.add(_entry(seq))
    text = window.render()
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MEDIA-SEQUENCE:2",
        "#EXTINF:2.000,",
        "s/000002.ts",
        "#EXTINF:2.000,",
        "s/000003.ts",
        "#EXTINF:2.000,",
        "s/000004.ts",
    ]
    assert "ENDLIST" not in text
    assert "PLAYLIST-TYPE" not in text


def test_vod_lists_everything_and_ends() -> None:
    window = PlaylistWindow(mode="vod", list_size=3)
    for seq in range(5):
        window.add(_entry(seq, 2.0 + seq / 10))
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in window.render()
    assert "ENDLIST" not in window.render()
    window.end()
    lines = window.render().splitlines()
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-MEDIA-SEQUENCE:0" in lines
    assert [line for line in lines if line.endswith(".ts")] == [f"s/{i:06d}.ts" for i in range(5)]
    assert "#EXTINF:2.400," in lines
    assert "#EXT-X-TARGETDURATION:3" in lines


def test_target_duration_is_ceiling_of_rounded_extinf_and_never_shrinks() -> None:
    window = PlaylistWindow(mode="live", list_size=2)
    window.add(_entry(0, 2.0004))  # EXTINF 2.000 -> target 2
    assert "#EXT-X-TARGETDURATION:2" in window.render()
    window.add(_entry(1, 4.2))
    for seq in range(2, 6):
        window.add(_entry(seq, 2.0))
    assert "#EXT-X-TARGETDURATION:5" in window.render()  # 4.2 slid out, target kept
    assert "#EXT-X-TARGETDURATION:3" in render_media_playlist(
        [_entry(7, 3.0004)], mode="live", ended=False
    )
    assert "#EXT-X-TARGETDURATION:4" in render_media_playlist(
        [_entry(7, 3.0006)], mode="live", ended=False
    )


def test_extinf_has_three_decimals() -> None:
    text = render_media_playlist([_entry(0, 1.23456)], mode="vod", ended=True)
    assert "#EXTINF:1.235," in text.splitlines()


def test_key_tags_with_explicit_iv_precede_every_segment() -> None:
    entries = [_entry(s, key=KeyTag("/api/keys/cam/k1", iv=s.to_bytes(16, "big"))) for s in (4, 5)]
    lines = render_media_playlist(entries, mode="live", ended=False).splitlines()
    assert lines[4:] == [
        '#EXT-X-KEY:METHOD=AES-128,URI="/api/keys/cam/k1",IV=0x00000000000000000000000000000004',
        "#EXTINF:2.000,",
        "s/000004.ts",
        '#EXT-X-KEY:METHOD=AES-128,URI="/api/keys/cam/k1",IV=0x00000000000000000000000000000005',
        "#EXTINF:2.000,",
        "s/000005.ts",
    ]


def test_implicit_iv_key_tag_only_when_key_changes() -> None:
    k1, k2 = KeyTag("k/1"), KeyTag("k/2")
    entries = [_entry(0, key=k1), _entry(1, key=k1), _entry(2, key=k2), _entry(3)]
    lines = render_media_playlist(entries, mode="vod", ended=True).splitlines()
    keys = [line for line in lines if line.startswith("#EXT-X-KEY")]
    assert keys == [
        '#EXT-X-KEY:METHOD=AES-128,URI="k/1"',
        '#EXT-X-KEY:METHOD=AES-128,URI="k/2"',
        "#EXT-X-KEY:METHOD=NONE",
    ]


def test_gaps_and_bad_uris_are_refused() -> None:
    with pytest.raises(ValueError, match="consecutive"):
        render_media_playlist([_entry(0), _entry(2)], mode="live", ended=False)
    window = PlaylistWindow(mode="live", list_size=3)
    window.add(_entry(0))
    with pytest.raises(ValueError, match="does not follow"):
        window.add(_entry(2))
    bad = PlaylistEntry(sequence=0, uri="a\n#EXT-X-ENDLIST", duration_s=1)
    with pytest.raises(ValueError, match="line breaks"):
        render_media_playlist([bad], mode="live", ended=False)
    with pytest.raises(ValueError, match="quotes"):
        KeyTag('x",URI="y').render()


def test_empty_playlist() -> None:
    text = render_media_playlist([], mode="live", ended=False)
    assert "#EXT-X-MEDIA-SEQUENCE:0" in text
    assert "#EXT-X-TARGETDURATION:1" in text
