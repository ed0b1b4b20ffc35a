"""``ossmedia bench live``: the console's live edge and clip export speed.

Live edge latency: a camera writer appends real H.264 fragmented MP4 (the test pattern, one
fragment a second) to an appendable object in the emulator, announcing it with a signed
``segment.opened`` handed to the console's own ingest; a viewer polls the console's live
playlist once a second, as hls.js reloads a live playlist of one-second fragments. Each
sample is the time from OSS acknowledging the append that completed a fragment to the
first playlist that offers that fragment (playable from then on). Goal: p50 at most 5 s.

Clip export: two objects of padded fragments (each ``mdat`` carries extra bytes after its
samples, which decoders skip, so the objects are large without a slow encode) are exported
as one clip through ``POST /api/cameras/{id}/clips`` (plan, ranged reads, SHA-256, CRC-64
check, streamed answer), next to the baseline: the same byte ranges read with raw ranged
GETs through oss2 in the same run. Goal: the clip at least 50 % of the raw rate.

Exit status 0 when both goals are met, 1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import oss2

from cloud.console import Console, ConsoleSettings, RegistryDevices, hash_password
from cloud.registry import MasterKey, Registry, new_master_key, open_store
from schemas import DeviceKeys, encode, new_event_id, sign_segment_closed, sign_segment_opened
from simulator.emulator.handle import EmulatorHandle, running_emulator
from simulator.video import PatternSettings, encode_test_pattern, video_available

__all__ = ["build_parser", "main"]

DEVICE = "cam-bench"
PASSWORD = "bench-password"  # noqa: S105 - a throw-away operator of a local run
LATENCY_GOAL_S = 5.0
CLIP_GOAL = 0.5


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia bench live`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench live",
        description=(
            "Live edge latency (append acknowledged to fragment in the console's live "
            "playlist) and clip export MB/s next to raw ranged GETs of the same bytes."
        ),
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="live run length (120)")
    parser.add_argument("--clip-mb", type=int, default=64, help="clip size in MiB (64)")
    parser.add_argument("--rounds", type=int, default=3, help="clip and raw rounds (3)")
    return parser


def _console(emulator: EmulatorHandle, registry: Registry, workdir: Path) -> Console:
    settings = ConsoleSettings.model_validate(
        {
            "http": {"host": "127.0.0.1", "port": 0},
            "operators": [{"username": "bench", "password_hash": hash_password(PASSWORD)}],
            "mqtt": {"enabled": False},
            "oss": {"endpoint": emulator.oss_endpoint, "bucket": emulator.bucket,
                    "region": emulator.region, "access_key_id": emulator.access_key_id,
                    "access_key_secret": emulator.access_key_secret},
            "ledger": {"path": str(workdir / "console.sqlite3")},
            "reconcile": {"enabled": False},
        }
    )  # fmt: skip
    return Console(settings, devices=RegistryDevices(registry))


def _login(base: str) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=base, timeout=60)
    token = http.get("/api/session").json()["csrf_token"]
    reply = http.post(
        "/api/session",
        json={"username": "bench", "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    reply.raise_for_status()
    return http, str(reply.json()["csrf_token"])


def _fragment_ends(data: bytes, start: int = 0) -> list[int]:
    ends, position = [], 0
    while position + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        position += size
        if kind == b"mdat":
            ends.append(start + position)
    return ends


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _live(
    console: Console, bucket: oss2.Bucket, keys: DeviceKeys, http: httpx.Client, seconds: float
) -> list[float]:
    key = f"videos/{DEVICE}/live-{int(time.time())}.mp4"
    video = PatternSettings(width=320, height=240, fps=15, bitrate=500_000, gop_s=1.0)
    acked: dict[int, float] = {}  # fragment end offset -> when its last byte was acknowledged
    seen: dict[int, float] = {}
    done = threading.Event()
    playlist_url: list[str] = []

    def camera() -> None:
        position = 0
        for piece in encode_test_pattern(DEVICE, seconds, video):
            ends = _fragment_ends(piece, position)
            time.sleep(max(0.0, 1.0 - 0.0) if position else 0)  # one fragment a second
            position = int(bucket.append_object(key, position, piece).next_position)
            now = time.monotonic()
            for end in ends:
                acked[end] = now
            if not playlist_url:
                opened = sign_segment_opened(
                    keys, device_id=DEVICE, event_id=new_event_id(), seq=1, key=key,
                    start_ms=int(time.time() * 1000),
                )  # fmt: skip
                console.parts.ingestor.handle(f"ossmedia/v1/{DEVICE}/events", encode(opened))
                playlist_url.append(f"/api/live/{opened.event_id}/playlist.m3u8")
        done.set()

    writer = threading.Thread(target=camera, name="bench-camera", daemon=True)
    writer.start()
    while not done.is_set() or len(seen) < len(acked):
        if playlist_url:
            text = http.get(playlist_url[0]).text
            now = time.monotonic()
            for line in text.splitlines():
                if line.startswith("#EXT-X-BYTERANGE:"):
                    size, offset = (int(x) for x in line.split(":")[1].split("@"))
                    seen.setdefault(size + offset, now)
        if done.is_set() and time.monotonic() - max(acked.values(), default=0) > 10:
            break
        time.sleep(1.0)
    writer.join()
    return [seen[end] - acked[end] for end in acked if end in seen]


def _padded(movie: bytes, pad: int) -> bytes:
    out, position = bytearray(), 0
    while position + 8 <= len(movie):
        size, kind = struct.unpack_from(">I4s", movie, position)
        box = movie[position : position + size]
        if kind == b"mdat":
            box = struct.pack(">I4s", size + pad, b"mdat") + box[8:] + bytes(pad)
        elif kind == b"mfra":
            box = b""
        out += box
        position += size
    return bytes(out)


def _clips(
    console: Console, bucket: oss2.Bucket, keys: DeviceKeys, http: httpx.Client, csrf: str,
    clip_mb: int, rounds: int,
) -> tuple[float, float, int]:  # fmt: skip
    video = PatternSettings(width=160, height=120, fps=10, bitrate=200_000, gop_s=1.0)
    movie = b"".join(encode_test_pattern(DEVICE, 20, video))
    pad = clip_mb * (1 << 20) // 20
    big = _padded(movie, pad)
    ends = _fragment_ends(big)
    cut = ends[9]  # two objects of ten fragments: the stream rolled over in between
    start_ms = (int(time.time() * 1000) // 1000 - 3600) * 1000
    ranges: list[tuple[str, int, int]] = []
    for seq, (begin, end) in enumerate([(0, cut), (cut, len(big))], start=1):
        key = f"videos/{DEVICE}/clip-{start_ms}-{seq}.mp4"
        data = big[begin:end]
        for offset in range(0, len(data), 8 << 20):
            bucket.append_object(key, offset, data[offset : offset + (8 << 20)])
        crc = int(bucket.head_object(key).server_crc)
        t0 = start_ms + (seq - 1) * 10_000
        event = sign_segment_closed(
            keys, device_id=DEVICE, event_id=new_event_id(), seq=100 + seq, key=key,
            bytes=len(data), crc64=crc, start_ms=t0, end_ms=t0 + 10_000,
        )  # fmt: skip
        console.parts.ingestor.handle(f"ossmedia/v1/{DEVICE}/events", encode(event))
        ranges.append((key, 0, len(data)))
    body = {"from_ms": start_ms, "to_ms": start_ms + 20_000}
    clip_s, raw_s, size = [], [], 0
    for _ in range(rounds):
        began = time.perf_counter()
        with http.stream(
            "POST", f"/api/cameras/{DEVICE}/clips", json=body, headers={"X-CSRF-Token": csrf}
        ) as reply:
            reply.raise_for_status()
            size = sum(len(block) for block in reply.iter_bytes(1 << 20))
        clip_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        raw = 0
        for key, offset, length in ranges:
            for at in range(offset, offset + length, 8 << 20):
                n = min(8 << 20, offset + length - at)
                raw += len(bucket.get_object(key, byte_range=(at, at + n - 1)).read())
        raw_s.append(time.perf_counter() - began)
    mib = size / (1 << 20)
    return mib / statistics.median(clip_s), raw / (1 << 20) / statistics.median(raw_s), size


def main(argv: list[str]) -> int:
    """Run ``ossmedia bench live``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seconds < 10 or args.clip_mb < 1 or args.rounds < 1:
        parser.error("--seconds must be at least 10, --clip-mb and --rounds at least 1")
    if not video_available():
        print("ossmedia bench live: needs PyAV (pip install 'ossmedia[sim]')", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="ossmedia-bench-live-") as tmp,
        running_emulator() as emu,
    ):
        workdir = Path(tmp)
        registry = Registry(
            open_store(f"sqlite://{workdir / 'registry.db'}"),
            MasterKey.from_text(new_master_key()),
        )
        _, secret = registry.add(DEVICE)
        keys = DeviceKeys.from_secret(secret)
        auth = oss2.AuthV4(emu.access_key_id, emu.access_key_secret)
        bucket = oss2.Bucket(auth, emu.oss_endpoint, emu.bucket, region=emu.region)
        console = _console(emu, registry, workdir)
        base = console.start().rstrip("/")
        http, csrf = _login(base)
        try:
            latencies = _live(console, bucket, keys, http, args.seconds)
            clip_rate, raw_rate, size = _clips(
                console, bucket, keys, http, csrf, args.clip_mb, args.rounds
            )
        finally:
            http.close()
            console.stop()
            registry.close()
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    ratio = clip_rate / raw_rate
    print(
        f"live edge: {len(latencies)} fragments over {args.seconds:.0f} s; "
        f"latency p50 {p50:.2f} s, p99 {p99:.2f} s (goal p50 <= {LATENCY_GOAL_S:.0f} s)"
    )
    print(f"clip export: {size / (1 << 20):.1f} MiB across 2 objects; clip {clip_rate:.1f} MiB/s, "
          f"raw ranged GET {raw_rate:.1f} MiB/s, ratio {ratio:.2f} (goal >= {CLIP_GOAL:.2f})")  # fmt: skip
    return 0 if latencies and p50 <= LATENCY_GOAL_S and ratio >= CLIP_GOAL else 1
