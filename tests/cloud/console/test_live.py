"""Recordings in progress: ``segment.opened`` ingest, the fragment index over ranged reads of
a growing object in the real emulator, the live playlist, pages and API, and a restart."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import re
import struct
from pathlib import Path

import av
import httpx
import oss2
import pytest

from cloud.console import Console, Ledger, OssObjectStore, RegistryDevices
from cloud.console.errors import RejectedMessageError
from cloud.console.live import IndexState, scan
from cloud.console.storage import ExpiryRule, ObjectInfo
from cloud.registry import Registry
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.console.camera import TestCamera, wire
from tests.cloud.console.conftest import Stack, TestClock, console_settings, login
from tests.cloud.console.media import fragmented_mp4

FPS = 10
SECONDS = 6


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level boxes as (type, offset, end), read independently of the console's parser."""
    out, position = [], 0
    while position < len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        out.append((kind, position, position + size))
        position += size
    return out


@pytest.fixture(scope="module")
def movie() -> bytes:
    return fragmented_mp4(seconds=SECONDS, fps=FPS)


def _fragment_ends(data: bytes) -> list[int]:
    return [end for kind, _, end in _boxes(data) if kind == b"mdat"]


def _init_end(data: bytes) -> int:
    return next(end for kind, _, end in _boxes(data) if kind == b"moov")


class CountingStore:
    """The console's real OSS store, noting every ranged read (a seam, not a fake)."""

    def __init__(self, inner: OssObjectStore) -> None:
        self.inner = inner
        self.ranges: list[tuple[str, int, int]] = []

    def head(self, key: str) -> ObjectInfo | None:
        return self.inner.head(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def presign_get(
        self, key: str, ttl_s: int, *, download_name: str | None = None,
        content_type: str = "video/mp4",
    ) -> str:  # fmt: skip
        return self.inner.presign_get(
            key, ttl_s, download_name=download_name, content_type=content_type
        )

    def get(self, key: str, max_bytes: int) -> bytes | None:
        return self.inner.get(key, max_bytes)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        self.ranges.append((key, offset, length))
        return self.inner.get_range(key, offset, length)

    def replace_expiry_rules(self, id_prefix: str, rules: list[ExpiryRule]) -> None:
        self.inner.replace_expiry_rules(id_prefix, rules)

    def expiry_rules(self) -> list[ExpiryRule]:
        return self.inner.expiry_rules()

    def bytes_read(self) -> int:
        return sum(length for _, _, length in self.ranges)


# -- the index, as a pure function over a reader ----------------------------------------


def test_scan_offers_only_complete_fragments_and_reads_each_byte_at_most_once(
    movie: bytes,
) -> None:
    reads: list[tuple[int, int]] = []

    def read(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return movie[offset : offset + length]

    ends = _fragment_ends(movie)
    assert len(ends) == SECONDS  # one fragment per key frame, one key frame per second
    state = IndexState()
    scans = 0
    for size in range(0, len(movie) + 1, 997):  # appends that cut boxes anywhere
        scan(state, size, read)
        scans += 1
        assert all(f.offset + f.size <= size for f in state.fragments)
        assert [f.offset + f.size for f in state.fragments] == [e for e in ends if e <= size]
    scan(state, len(movie), read)
    assert state.init_size == _init_end(movie)
    assert [f.offset + f.size for f in state.fragments] == ends
    assert state.duration_s == pytest.approx(SECONDS)
    incremental = sum(n for _, n in reads)
    reads.clear()
    scan(IndexState(), len(movie), read)
    once = sum(n for _, n in reads)
    # Growing scans read what one scan of the whole object reads, plus at most one box
    # header again per scan that stopped inside a box: nothing is downloaded twice.
    assert incremental <= once + 16 * scans
    assert once < len(movie) // 2  # media data is skipped, not read


# -- through the console -----------------------------------------------------------------


def _append(bucket: oss2.Bucket, key: str, position: int, data: bytes) -> int:
    result = bucket.append_object(key, position, data)
    return int(result.next_position)


def _live(http: httpx.Client, device_id: str) -> dict[str, object] | None:
    reply = http.get(f"/api/cameras/{device_id}/live")
    assert reply.status_code == 200, reply.text
    found: dict[str, object] | None = reply.json()["in_progress"]
    return found


def _fragments(playlist: str) -> list[tuple[int, int]]:
    return [(int(n), int(at)) for n, at in re.findall(r"#EXT-X-BYTERANGE:(\d+)@(\d+)", playlist)]


def _decode(data: bytes) -> list[float]:
    with av.open(io.BytesIO(data), format="mp4") as container:
        stream = container.streams.video[0]
        return [float(f.time) for f in container.decode(stream) if f.time is not None]


def test_a_recording_in_progress_shows_grows_and_plays_without_its_torn_fragment(
    stack: Stack, movie: bytes
) -> None:
    cam = stack.camera("cam-live")
    key = cam.prefix + "20260101T000000Z-000001.mp4"
    start_ms = int(stack.clock.now * 1000)
    ends = _fragment_ends(movie)
    position = _append(stack.bucket, key, 0, movie[: ends[1]])  # init + two fragments
    assert stack.ingest(cam.opened(key, start_ms, seq=1)) == "stored"

    with httpx.Client(base_url=stack.url, timeout=10) as http:
        login(http)
        live = _live(http, "cam-live")
        assert live is not None
        assert (live["object_key"], live["start_ms"], live["bytes"]) == (key, start_ms, ends[1])
        page = http.get("/cameras/cam-live").text
        assert "Recording now" in page
        assert f'data-live="{live["live_id"]}"' in page
        assert f"/live/{live['live_id']}" in http.get("/").text
        timeline = http.get("/api/cameras/cam-live/timeline").json()
        assert any(r["recording_id"] == live["live_id"] for r in timeline["recordings"])

        playlist = http.get(str(live["playlist"])).text
        assert "#EXT-X-ENDLIST" not in playlist  # it grows: players keep reloading
        assert f'BYTERANGE="{_init_end(movie)}@0"' in playlist
        assert _fragments(playlist) == [(ends[0] - _init_end(movie), _init_end(movie)),
                                        (ends[1] - ends[0], ends[0])]  # fmt: skip

        # A camera dies mid-fragment: the torn fragment is not offered.
        torn = ends[1] + (ends[2] - ends[1]) // 2
        position = _append(stack.bucket, key, position, movie[ends[1] : torn])
        stack.clock.advance(2)
        assert len(_fragments(http.get(str(live["playlist"])).text)) == 2
        assert _live(http, "cam-live")["bytes"] == torn  # type: ignore[index]
        # Once the rest is stored, it is.
        position = _append(stack.bucket, key, position, movie[torn:])
        stack.clock.advance(2)
        playlist = http.get(str(live["playlist"])).text
        ranges = _fragments(playlist)
        assert len(ranges) == SECONDS

        # What the playlist names decodes to every frame, with continuous timestamps.
        url = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist).group(1)  # type: ignore[union-attr]
        body = httpx.get(url, headers={"Range": f"bytes=0-{_init_end(movie) - 1}"}).content
        for size, offset in ranges:
            part = httpx.get(url, headers={"Range": f"bytes={offset}-{offset + size - 1}"})
            assert part.status_code == 206
            body += part.content
        times = _decode(body)
        assert len(times) == SECONDS * FPS
        assert all(abs(b - a - 1 / FPS) < 1e-6 for a, b in itertools.pairwise(times))

        # Closed: no longer in progress; the playlist ends.
        data = stack.bucket.get_object(key).read()
        closed = cam.segment(key, len(data), int(stack.bucket.head_object(key).server_crc),
                             start_ms, start_ms + SECONDS * 1000, seq=1)  # fmt: skip
        stack.ingest(closed)
        assert _live(http, "cam-live") is None
        assert "#EXT-X-ENDLIST" in http.get(str(live["playlist"])).text


def test_opened_events_are_checked_and_idempotent(stack: Stack) -> None:
    cam = stack.camera("cam-open")
    key = cam.prefix + "a.mp4"
    event = cam.opened(key, 1_000, seq=7)
    assert stack.ingest(event) == "stored"
    assert stack.ingest(event) == "duplicate"
    assert stack.ingest(cam.opened(key, 1_000, seq=7)) == "duplicate"  # same object, new id
    forged = cam.opened(key, 1_000, seq=8).model_copy(update={"start_ms": 5})
    with pytest.raises(RejectedMessageError) as info:
        stack.ingest(forged)
    assert info.value.reason == "bad_signature"
    with pytest.raises(RejectedMessageError) as info:
        stack.ingest(cam.opened("videos/cam-other/a.mp4", 1_000, seq=9))
    assert info.value.reason == "bad_key"
    # A close that arrives first wins: a late open does not bring the recording back.
    stack.ingest(cam.segment(cam.prefix + "b.mp4", 1, 0, 2_000, 3_000, seq=10))
    assert stack.ingest(cam.opened(cam.prefix + "b.mp4", 2_000, seq=10)) == "stored"
    assert stack.console.parts.service.in_progress("cam-open") is None


def test_the_fragment_index_survives_a_restart_without_reading_the_object_again(
    tmp_path: Path,
    console_emulator: EmulatorHandle,
    registry: Registry,
    master_key: str,
    root_bucket: oss2.Bucket,
    movie: bytes,
) -> None:
    settings = console_settings(
        console_emulator,
        ledger={"path": str(tmp_path / "ledger.db")},
        registry={"master_key": master_key},
    )
    cam = TestCamera.provision(registry, "cam-restart", root_bucket)
    key = cam.prefix + "restart.mp4"
    ends = _fragment_ends(movie)
    position = _append(root_bucket, key, 0, movie[: ends[2]])
    opened = cam.opened(key, 1_000_000, seq=1)

    def start() -> tuple[Console, CountingStore]:
        store = CountingStore(OssObjectStore(settings.oss))
        clock = TestClock()
        clock.advance(2 * len(starts))  # a restart takes a while: the last look is stale
        starts.append(clock)
        console = Console(
            settings,
            devices=RegistryDevices(registry),
            ledger=Ledger(str(tmp_path / "ledger.db")),
            store=store,
            clock=clock,
        )
        console.start()
        return console, store

    starts: list[TestClock] = []

    first, store = start()
    try:
        first.parts.ingestor.handle(cam.events_topic(), wire(opened))
        assert len(_fragments(first.parts.service.live.playlist(opened.event_id))) == 3
        read_before = store.bytes_read()
        assert read_before > 0
    finally:
        first.stop()
        first.parts.ledger.close()
    _append(root_bucket, key, position, movie[ends[2] :])
    second, store = start()
    try:
        playlist = second.parts.service.live.playlist(opened.event_id)
        assert len(_fragments(playlist)) == SECONDS
        assert all(offset >= ends[2] for _, offset, _ in store.ranges)  # only what is new
    finally:
        second.stop()
        second.parts.ledger.close()


# -- clips -----------------------------------------------------------------------------------


def _two_objects(stack: Stack, movie: bytes, device_id: str) -> tuple[TestCamera, int, list[str]]:
    """A camera whose stream was rolled over after three fragments: the second object goes
    on with the stream's fragments and has no init segment of its own."""
    cam = stack.camera(device_id)
    ends = _fragment_ends(movie)
    start_ms = int(stack.clock.now * 1000) // 1000 * 1000 - 60_000
    keys = []
    for n, (begin, end) in enumerate([(0, ends[2]), (ends[2], len(movie))], start=1):
        key = cam.prefix + f"20260101T00000{n}Z-00000{n}.mp4"
        _append(stack.bucket, key, 0, movie[begin:end])
        crc = int(stack.bucket.head_object(key).server_crc)
        t0 = start_ms + (n - 1) * 3000
        stack.ingest(cam.segment(key, end - begin, crc, t0, t0 + 3000, seq=n))
        keys.append(key)
    return cam, start_ms, keys


def _export(
    http: httpx.Client, csrf: str, device_id: str, from_ms: int, to_ms: int
) -> httpx.Response:
    return http.post(
        f"/api/cameras/{device_id}/clips",
        json={"from_ms": from_ms, "to_ms": to_ms},
        headers={"X-CSRF-Token": csrf},
    )


def test_a_clip_across_an_object_boundary_decodes_and_is_reproducible(
    stack: Stack, movie: bytes
) -> None:
    _, start_ms, _ = _two_objects(stack, movie, "cam-clip")
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        csrf = login(http)
        reply = _export(http, csrf, "cam-clip", start_ms + 1500, start_ms + 4500)
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "video/mp4"
        assert int(reply.headers["content-length"]) == len(reply.content)
        assert reply.headers["x-content-sha256"] == hashlib.sha256(reply.content).hexdigest()
        times = _decode(reply.content)
        # Fragments 1-2 of the first object and 3-4 of the second: cut at key frames.
        assert len(times) == 4 * FPS
        assert times[0] == pytest.approx(1.0)
        assert all(abs(b - a - 1 / FPS) < 1e-6 for a, b in itertools.pairwise(times))
        again = _export(http, csrf, "cam-clip", start_ms + 1500, start_ms + 4500)
        assert again.content == reply.content

        whole = _export(http, csrf, "cam-clip", start_ms, start_ms + 6000)
        # The stored bytes as they are, up to the last fragment (a trailing index box that
        # is no fragment stays out).
        assert whole.content == movie[: _fragment_ends(movie)[-1]]
        assert len(_decode(whole.content)) == SECONDS * FPS

        page = http.get("/cameras/cam-clip").text
        assert 'id="clip-form"' in page
        day = dt.datetime.fromtimestamp(start_ms / 1000, tz=dt.UTC)
        form = http.post(
            "/cameras/cam-clip/clips",
            data={"csrf_token": csrf, "day": f"{day:%Y-%m-%d}",
                  "from": f"{day:%H:%M:%S}", "to": f"{day + dt.timedelta(seconds=6):%H:%M:%S}"},
        )  # fmt: skip
        assert form.status_code == 200, form.text[:300]
        assert form.content == whole.content
        assert "attachment" in form.headers["content-disposition"]


def test_a_clip_is_refused_when_stored_bytes_differ_from_the_ledger(
    stack: Stack, movie: bytes
) -> None:
    _, start_ms, keys = _two_objects(stack, movie, "cam-tamper")
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        csrf = login(http)
        assert _export(http, csrf, "cam-tamper", start_ms, start_ms + 6000).status_code == 200
        stored = stack.bucket.get_object(keys[0]).read()
        tampered = stored[:-10] + bytes(b ^ 0xFF for b in stored[-10:])  # inside an mdat
        stack.bucket.put_object(keys[0], tampered)
        reply = _export(http, csrf, "cam-tamper", start_ms, start_ms + 6000)
        assert (reply.status_code, reply.json()["error"]) == (502, "clip_mismatch")
        # A part that does not hold the object whole is not checked against it.
        assert (
            _export(http, csrf, "cam-tamper", start_ms + 3000, start_ms + 6000).status_code == 200
        )
        assert (
            _export(http, csrf, "cam-tamper", start_ms + 9000, start_ms + 9500).status_code == 404
        )
        bad = _export(http, csrf, "cam-tamper", start_ms + 10, start_ms)
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_input")
