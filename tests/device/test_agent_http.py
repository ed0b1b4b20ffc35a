"""The camera agent with ``[oss] client = "http"``: end to end, under faults, and without oss2.

Real Mosquitto, the real responder and the emulator with its fault injection, as in
test_agent.py; the agent talks to the store through :mod:`device.osshttp` only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from cloud.settings import Limits
from device.agent.agent import Agent
from device.agent.cli import main as cli_main
from device.agent.config import parse_settings
from device.errors import ConfigError
from device.osshttp import HttpObjectStore
from device.recorder import pattern_bytes
from device.store import OssObjectStore
from tests.device.agentkit import AgentRun, wait_until
from tests.device.stack import Stack, sha256
from tests.device.test_footprint import NOT_IN_THE_AGENT
from tests.device.toml_out import write_camera_toml

REPO = Path(__file__).resolve().parents[2]
HTTP = {"client": "http"}
# What oss2 brings in and the stdlib client leaves out.
OSS2_LIBRARIES = {"oss2", "requests", "urllib3", "aliyunsdkcore", "aliyunsdkkms", "Crypto"}


def test_the_client_is_chosen_in_camera_toml(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--example-config"]) == 0
    example = tomllib.loads(capsys.readouterr().out)
    assert example["oss"] == {"client": "oss2"}
    assert parse_settings({**example, "oss": HTTP}).oss.client == "http"
    with pytest.raises(ConfigError, match=r"oss\.client"):
        parse_settings({**example, "oss": {"client": "requests"}})


def test_records_and_uploads_through_the_http_client(stack: Stack, tmp_path: Path) -> None:
    settings = stack.agent_settings("cam-http", tmp_path / "spool", oss=HTTP)
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0

    assert isinstance(agent.target.store, HttpObjectStore)
    recorded = agent.recorder.stats.read_bytes
    assert recorded == 500_000
    (key, data), = stack.objects("videos/cam-http/")  # fmt: skip
    assert data == pattern_bytes(0, 0, recorded)
    assert key.endswith("-000001.mp4")
    # Eight 64 KiB appends and their HEADs went over kept-alive connections.
    assert agent.target.store.connections_opened <= 2


def test_hls_output_through_the_http_client(stack: Stack, tmp_path: Path) -> None:
    """Segments and playlists are puts with a content type, the playlists marked no-cache."""
    settings = stack.agent_settings(
        "cam-http-hls",
        tmp_path / "spool",
        oss=HTTP,
        source={"kind": "pattern", "duration_s": 2.0},
        output={"format": "hls", "frame_rate": 20, "target_duration_s": 0.5, "list_size": 2},
    )
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0
    assert isinstance(agent.target.store, HttpObjectStore)
    objects = dict(stack.objects("videos/cam-http-hls/"))
    segments = sorted(key for key in objects if key.endswith(".ts"))
    (playlist,) = [key for key in objects if key.endswith(".m3u8")]
    assert len(segments) == 4
    folder = playlist.rsplit("/", 1)[0]
    listed = [line for line in objects[playlist].decode().splitlines() if line.endswith(".ts")]
    assert [f"{folder}/{uri}" for uri in listed] == segments[-2:]  # the live window
    bucket = stack.bucket()
    assert bucket.head_object(segments[0]).content_type == "video/mp2t"
    stored = bucket.head_object(playlist)
    assert stored.content_type == "application/vnd.apple.mpegurl"
    assert stored.headers.get("Cache-Control") == "no-cache"


def test_the_default_client_is_still_oss2(stack: Stack, tmp_path: Path) -> None:
    settings = stack.agent_settings("cam-oss2", tmp_path / "spool")
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0
    assert isinstance(agent.target.store, OssObjectStore)


def test_lost_responses_errors_and_an_expired_token_store_every_byte_once(
    stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    """Issue tests 1 and 2 with the stdlib client: reconciliation and the forced refresh."""
    stack = stack_factory(limits=Limits(device_requests_per_minute=600, device_burst=50,
                                        cache_reuse_threshold=1.0))  # fmt: skip
    stack.emulator.admin.call("POST", "/clock", {"offset_s": -700})
    settings = stack.agent_settings(
        "cam-http-faults",
        tmp_path / "spool",
        oss=HTTP,
        source={"duration_s": 3.0, "bitrate_bps": 2_000_000},
    )
    stack.emulator.set_faults(
        {"seed": 11, "rules": [{"operations": ["AppendObject"], "lost_response_rate": 0.3,
                                "error_rate": 0.1, "reset_rate": 0.1}]}
    )  # fmt: skip
    agent = Agent(settings)
    run = AgentRun(agent)
    wait_until(lambda: agent.uploader.stats.appended_chunks >= 3, what="first appends")
    stack.emulator.admin.call("POST", "/clock", {"offset_s": 250})  # token now expired
    assert run.join() == 0

    recorded = agent.recorder.stats.read_bytes
    assert recorded == 750_000
    injected = stack.emulator.faults()["injected"]["AppendObject"]
    assert injected.get("lost_response", 0) > 0, injected
    assert injected.get("reset", 0) > 0, injected
    assert agent.credentials.stats.forced_refreshes == 1
    requests = stack.emulator.stats()["requests"]
    assert sum(by_status.get("403", 0) for by_status in requests.values()) == 1
    (_, data), = stack.objects("videos/cam-http-faults/")  # fmt: skip
    assert sha256(data) == sha256(pattern_bytes(0, 0, recorded))


def _run_camera_process(stack: Stack, tmp_path: Path, client: str) -> set[str]:
    settings = stack.agent_settings(f"cam-proc-{client}", tmp_path / client, oss={"client": client})
    config = write_camera_toml(settings, tmp_path / f"{client}.toml")
    child = subprocess.run(
        [sys.executable, "-m", "tests.device.agent_modules_child", str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stdout + child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0
    stored = stack.stored(f"videos/cam-proc-{client}/")
    assert stored == pattern_bytes(0, 0, 500_000)
    return set(report["modules"])


@pytest.mark.parametrize("client", ["http", "oss2"])
def test_a_camera_process_loads_oss2_only_with_the_oss2_client(
    stack: Stack, tmp_path: Path, client: str
) -> None:
    loaded = _run_camera_process(stack, tmp_path, client)
    if client == "http":
        assert sorted(OSS2_LIBRARIES & loaded) == []
        # credentials were unsealed (the upload happened) through Python's own libcrypto
        assert {"schemas", "_hashlib", "ctypes"} <= loaded
        assert "cryptography" not in loaded
        # What other output modes and other subcommands need stays out of a recording
        # camera even after it ran (nothing is imported late, on first use)
        assert sorted(loaded.intersection(NOT_IN_THE_AGENT)) == []
        # the allocator is tuned through the process's own C library, without ldconfig
        assert sorted(loaded & {"subprocess", "ctypes.util"}) == []
    else:
        assert {"oss2", "requests", "aliyunsdkcore"} <= loaded
