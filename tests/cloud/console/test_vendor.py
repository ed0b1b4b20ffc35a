"""The vendored hls.js is exactly the locked release, and pages load scripts only from here."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import cloud.console.web

WEB = Path(cloud.console.web.__file__).parent
VENDOR = WEB / "static" / "vendor"
LOCK = json.loads((VENDOR / "hls.js.lock.json").read_text(encoding="utf-8"))


def test_every_vendored_file_matches_its_locked_hash() -> None:
    assert set(LOCK["files"]) == {p.name for p in VENDOR.iterdir()} - {"hls.js.lock.json"}
    for name, entry in LOCK["files"].items():
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name} changed; run scripts/vendor-hlsjs.sh"


def test_the_lock_pins_one_release_from_the_registry() -> None:
    assert LOCK["package"] == "hls.js"
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", LOCK["version"])
    assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", LOCK["tarball_integrity"])
    assert LOCK["license"] == "Apache-2.0"
    # The release carries its own version string.
    assert f'"{LOCK["version"]}"'.encode() in (VENDOR / "hls.light.min.js").read_bytes()


def test_templates_load_scripts_only_from_the_console() -> None:
    sources = [
        src
        for template in (WEB / "templates").glob("*.html")
        for src in re.findall(r'<script[^>]*src="([^"]+)"', template.read_text(encoding="utf-8"))
    ]
    assert "/static/vendor/hls.light.min.js" in sources
    assert all(src.startswith("/static/") for src in sources), sources
