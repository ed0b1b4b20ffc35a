"""How a single-run benchmark hands in its results: JSON on stdout, optionally in a file, and a
one-line verdict on stderr that decides the exit status."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["say", "submit"]


def say(text: str) -> None:
    """Progress and summary lines (stderr, so stdout stays the JSON results)."""
    print(text, file=sys.stderr, flush=True)


def submit(results: dict[str, Any], json_path: Path | None, *, ok: bool) -> int:
    """Print ``results`` as JSON (and write them to ``json_path``); return the exit status.

    Returns:
        0 when every goal was met (``ok``), 1 otherwise.
    """
    text = json.dumps(results, indent=2)
    print(text)
    if json_path is not None:
        json_path.write_text(text + "\n", encoding="utf-8")
    say("all goals met" if ok else "some goals were missed (see above)")
    return 0 if ok else 1
