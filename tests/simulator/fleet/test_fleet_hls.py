"""``ossmedia fleet --output hls``: virtual cameras write HLS under OSS faults; the audit holds.

Every camera is the real agent in HLS mode on its generated H.264 pattern. The run injects
lost PutObject responses all along and an OSS outage in the middle; afterwards every
produced segment must be stored exactly once, byte for byte, and every stored playlist
may list only stored segments.
"""

from __future__ import annotations

import io
from pathlib import Path

from simulator.fleet.camera import ChunkLog
from simulator.fleet.cli import build_parser
from simulator.fleet.hls import SegmentLog, playlist_problems
from simulator.fleet.integrity import StoredObject, audit_stream
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import Scenario, Step


class _Sink:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        del data, content_type
        self.keys.append(key)


def test_fleet_of_hls_cameras_under_lost_responses_and_an_outage(tmp_path: Path) -> None:
    scenario = Scenario(
        name="hls-faults",
        description="lost PutObject answers all along, OSS down for 3 s",
        boot_spread_s=1.0,
        steps=(
            Step.model_validate(
                {
                    "at": 0,
                    "action": "oss_faults",
                    "params": {"lost_response_rate": 0.1, "operations": ["PutObject"]},
                }
            ),
            Step.model_validate({"at": 3, "action": "oss_outage", "duration": 3}),
        ),
    )
    progress = io.StringIO()
    report = run_fleet(
        FleetSettings(
            cameras=3, duration_s=9, scenario=scenario, seed=3, drain_s=40, workdir=tmp_path,
            output="hls",
        ),
        out=progress,
    )  # fmt: skip
    summary = report.summary()
    assert report.ok, summary
    assert report.cameras_not_drained == 0, summary
    assert (report.lost_bytes, report.duplicated_bytes, report.corrupted_bytes) == (0, 0, 0)
    # Produced = the segments the cameras cut; stored = the segments in the bucket.
    assert report.stored_bytes == report.produced_bytes == report.ok_bytes > 0
    injected = report.retries_by_cause
    assert injected.get("oss:lost_response", 0) > 0, injected
    assert injected.get("oss:outage_error", 0) > 0, injected
    requests = report.oss_requests
    assert sum(requests.get("PutObject", {}).values()) > 0
    assert sum(requests.get("AppendObject", {}).values()) == 0  # HLS puts whole objects


def test_playlist_audit_names_a_listed_segment_that_is_not_stored() -> None:
    playlist = b"#EXTM3U\n#EXTINF:1.000,\nS/000000.ts\n#EXTINF:1.000,\nS/000001.ts\n"
    objects = [
        StoredObject("videos/c/hls/S.m3u8", playlist),
        StoredObject("videos/c/hls/S/000000.ts", b"seg"),
    ]
    problems = playlist_problems(objects)
    assert [(p.key, p.reason) for p in problems] == [
        ("videos/c/hls/S.m3u8", "lists S/000001.ts, which is not stored")
    ]
    assert playlist_problems([*objects, StoredObject("videos/c/hls/S/000001.ts", b"x")]) == []


def test_segment_log_counts_segments_and_a_missing_one_is_lost() -> None:
    log = ChunkLog()
    inner = _Sink()
    sink = SegmentLog(inner, log)
    segments = [bytes([i]) * (100 + i) for i in range(3)]
    for i, data in enumerate(segments):
        sink.put_object(f"hls/S/{i:06d}.ts", data, "video/mp2t")
        sink.put_object("hls/S.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl")
    assert len(inner.keys) == 6
    assert [c.size for c in log.chunks()] == [100, 101, 102]  # playlists are not produced media
    assert audit_stream(log.chunks(), b"".join(segments)).clean
    missing = audit_stream(log.chunks(), segments[0] + segments[2])
    assert missing.lost_seqs == [1]


def test_cli_accepts_the_output_option() -> None:
    args = build_parser().parse_args(["--output", "hls", "--cameras", "2"])
    assert args.output == "hls"
    assert build_parser().parse_args([]).output == "append"
