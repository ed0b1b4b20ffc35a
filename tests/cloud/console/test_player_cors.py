"""The players' bucket CORS rule: the deploy file says the same, and the emulator honours it."""

from __future__ import annotations

from pathlib import Path

import oss2

from cloud.console.player_cors import (
    ALLOWED_HEADERS,
    ALLOWED_METHODS,
    EXPOSE_HEADERS,
    MAX_AGE_S,
    allow_console,
    console_origins,
)
from simulator.oss import cors

DEPLOY_RULE = Path(__file__).resolve().parents[3] / "deploy" / "aliyun" / "bucket-cors.xml"


def test_deploy_file_is_the_players_rule() -> None:
    config = cors.parse(DEPLOY_RULE.read_bytes())
    (rule,) = config.rules
    assert rule.methods == ALLOWED_METHODS
    assert rule.headers == tuple(h.lower() for h in ALLOWED_HEADERS)
    assert rule.expose == EXPOSE_HEADERS
    assert rule.max_age == MAX_AGE_S
    assert rule.origins == ("https://console.example.com",)


def test_console_origins() -> None:
    assert console_origins("http://127.0.0.1:8080/") == [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
    ]
    assert console_origins("http://localhost:81") == ["http://localhost:81", "http://127.0.0.1:81"]
    assert console_origins("https://console.example.com/app") == ["https://console.example.com"]


def test_allow_console_puts_the_rule(root_bucket: oss2.Bucket) -> None:
    allow_console(root_bucket, ["http://127.0.0.1:9"])
    (rule,) = root_bucket.get_bucket_cors().rules
    assert rule.allowed_origins == ["http://127.0.0.1:9"]
    assert rule.allowed_methods == list(ALLOWED_METHODS)
    assert rule.expose_headers == list(EXPOSE_HEADERS)
    root_bucket.delete_bucket_cors()
