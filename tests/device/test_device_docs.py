"""Every code block of docs/device.md is marked with its language, and the runnable ones run.

Python blocks run against the real stack (broker, responder, OSS emulator) with the names
the text says they are given (``device_id``, ``secret``, ``broker_url``); TOML blocks must
be valid camera configurations; ``sh`` and ``text`` blocks are marked as not runnable here
(the encoder recipes among them are the commands of ``tests/device/encoder``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from device.agent.config import parse_settings
from schemas.keys import new_device_secret
from tests.device.stack import Stack

DOC = Path(__file__).resolve().parents[2] / "docs" / "device.md"
_BLOCK = re.compile(r"^```(\S*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(DOC.read_text()) if lang == language]


def test_every_block_says_what_it_is() -> None:
    languages = [lang for lang, _ in _BLOCK.findall(DOC.read_text())]
    assert languages
    assert set(languages) <= {"python", "toml", "sh", "text"}, languages


def test_toml_blocks_are_valid_camera_configurations() -> None:
    blocks = _blocks("toml")
    assert len(blocks) >= 2
    for block in blocks:
        data: dict[str, Any] = tomllib.loads(block)
        data.setdefault("device_id", "cam-0001")
        data["secret"] = new_device_secret()
        parse_settings(data)  # raises ConfigError with the setting's name


def test_python_blocks_run_against_the_stack(stack: Stack) -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 2
    device_id = "cam-docs"
    given = {
        "device_id": device_id,
        "secret": stack.provision(device_id),
        "broker_url": f"mqtt://{stack.broker.host}:{stack.broker.port}",
    }
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), dict(given))  # noqa: S102 - the docs' own code
    stored = dict(stack.objects(f"videos/{device_id}/"))
    assert stored[f"videos/{device_id}/clip.mp4"] == b"first chunk second chunk"
    assert stored[f"videos/{device_id}/still.jpg"] == b"\xff\xd8 a picture"
