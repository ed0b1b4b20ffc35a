"""``ossmedia bench emulator``: report shape, positive figures, and every append landed."""

from __future__ import annotations

import json

import oss2
import pytest

from simulator.bench.append_load import percentile
from simulator.bench.bare_server import spawned_bare_server
from simulator.bench.emulator import lost_bytes, main

CHUNK_KIB = 16


def test_smoke_run_reports_both_figures_and_loses_no_append(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--duration", "0.5", "--rounds", "2", "--clients", "2", "--warmup", "0.2"]
    status = main([*argv, "--chunk-kib", str(CHUNK_KIB), "--json", "--no-fail"])

    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["problems"] == []
    assert set(report["machine"]) == {"nproc", "python", "load_average_1m"}
    assert report["settings"] == {
        "workload": "append",
        "parts_per_upload": None,
        "clients": 2,
        "chunk_kib": CHUNK_KIB,
        "duration_s": 0.5,
        "rounds": 2,
        "warmup_s": 0.2,
    }
    # ABBA: the second round starts with the emulator.
    assert [(r["round"], r["target"]) for r in report["rounds"]] == [
        (1, "baseline"),
        (1, "emulator"),
        (2, "emulator"),
        (2, "baseline"),
    ]
    for name in ("baseline", "emulator"):
        assert set(report[name]) == {
            "appends_per_s",
            "mib_per_s",
            "p50_ms",
            "p99_ms",
            "server_cpu_us_per_append",
            "client_cpu_us_per_append",
            "server_cpu_ms_per_mib",
        }
        assert report[name]["appends_per_s"] > 0
        assert report[name]["mib_per_s"] > 0
        # /proc counts CPU in clock ticks: a short run may round to zero, but never below.
        assert report[name]["server_cpu_us_per_append"] >= 0
    rates = {(r["round"], r["target"]): r["appends_per_s"] for r in report["rounds"]}
    expected = [rates[n, "emulator"] / rates[n, "baseline"] for n in (1, 2)]
    assert report["round_ratios"] == pytest.approx(expected, rel=0.01)
    assert report["ratio"] == pytest.approx(sum(expected) / 2, rel=0.01)
    assert report["met"] == (report["ratio"] >= 0.5)
    for emulator_round in (r for r in report["rounds"] if r["target"] == "emulator"):
        objects = emulator_round["objects"]
        assert len(objects) == 2
        # Each client appended once more (its warm-up append) than was measured.
        assert sum(o["appends"] for o in objects) == emulator_round["appends"] + 2
        for obj in objects:
            assert obj["appends"] > 1
            assert obj["length"] == obj["appends"] * CHUNK_KIB * 1024


def test_multipart_run_reports_cpu_per_mib_against_the_goal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--multipart", "--part-mib", "1", "--parts", "2", "--clients", "2"]
    status = main(
        [*argv, "--duration", "0.5", "--rounds", "1", "--warmup", "0", "--json", "--no-fail"]
    )

    report = json.loads(capsys.readouterr().out)
    assert status == 0
    # Every upload completed: oss2 checked each combined CRC-64 against its own.
    assert report["problems"] == []
    assert report["settings"]["workload"] == "multipart"
    assert report["settings"]["chunk_kib"] == 1024
    assert all("objects" not in r for r in report["rounds"])
    base = report["baseline"]["server_cpu_ms_per_mib"]
    emu = report["emulator"]["server_cpu_ms_per_mib"]
    assert base is not None
    assert emu is not None
    assert report["goal_cpu_per_mib_ratio"] == 2.0
    if report["server_cpu_per_mib_ratio"] is not None:
        assert report["met"] == (report["server_cpu_per_mib_ratio"] <= 2.0)


def test_bare_server_answers_multipart_the_way_oss2_expects() -> None:
    with spawned_bare_server() as bare:
        session = oss2.Session()
        session.session.trust_env = False
        bucket = oss2.Bucket(oss2.Auth("id", "secret"), bare.endpoint, "ossmedia", session=session)
        upload_id = bucket.init_multipart_upload("a/b").upload_id
        part = bucket.upload_part("a/b", upload_id, 1, b"x")
        done = bucket.complete_multipart_upload(
            "a/b", upload_id, [oss2.models.PartInfo(1, part.etag)]
        )

    assert upload_id
    assert done.status == 200


def test_bare_server_answers_appends_the_way_oss2_expects() -> None:
    with spawned_bare_server() as bare:
        session = oss2.Session()
        session.session.trust_env = False
        bucket = oss2.Bucket(oss2.Auth("id", "secret"), bare.endpoint, "ossmedia", session=session)
        result = bucket.append_object("a/b", 5, b"0123456789", init_crc=0)

    assert result.status == 200
    assert result.next_position == 15
    assert result.crc is None


@pytest.mark.parametrize("argv", [["--clients", "0"], ["--duration", "0"], ["--rounds", "x"]])
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) == 0.0


def test_lost_bytes_names_objects_that_do_not_add_up() -> None:
    objects = [
        {"key": "a", "appends": 3, "length": 30},
        {"key": "b", "appends": 3, "length": 20},  # an append lost
        {"key": "c", "appends": 2, "length": 30},  # an append applied twice
    ]
    assert lost_bytes(objects, 10) == [
        "b is 20 bytes after 3 appends of 10",
        "c is 30 bytes after 2 appends of 10",
    ]
