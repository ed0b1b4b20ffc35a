"""JSON Schema documents for every protocol v1 message, for non-Python implementations.

The committed copies live in ``schemas/json/``; :func:`stale_files` tells whether they
still match the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from schemas.events import HlsKey, SegmentClosed, SegmentOpened, Status
from schemas.requests import CredsRequest
from schemas.responses import CredsResponseError, CredsResponseOk, SealedPayload

DIALECT = "https://json-schema.org/draft/2020-12/schema"
PACKAGED_DIR = Path(__file__).parent / "json"
"""Where the committed schema files live inside the package."""

_CredsResponse = Annotated[
    CredsResponseOk | CredsResponseError, Field(description="A credential reply, success or error.")
]


def _documents() -> dict[str, dict[str, Any]]:
    adapters: dict[str, TypeAdapter[Any]] = {
        "creds_request": TypeAdapter(CredsRequest),
        "creds_response": TypeAdapter(_CredsResponse),
        "creds_response_ok": TypeAdapter(CredsResponseOk),
        "creds_response_error": TypeAdapter(CredsResponseError),
        "sealed_payload": TypeAdapter(SealedPayload),
        "segment_opened": TypeAdapter(SegmentOpened),
        "segment_closed": TypeAdapter(SegmentClosed),
        "hls_key": TypeAdapter(HlsKey),
        "status": TypeAdapter(Status),
    }
    docs = {}
    for name, adapter in adapters.items():
        schema = adapter.json_schema(mode="validation")
        docs[f"{name}.json"] = {"$schema": DIALECT, "$id": f"ossmedia/v1/{name}.json", **schema}
    return docs


def render() -> dict[str, str]:
    """Render every schema document.

    Returns:
        File name to file text (2-space indented JSON ending in a newline).
    """
    return {
        name: json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        for name, doc in sorted(_documents().items())
    }


def export(directory: Path) -> list[Path]:
    """Write every schema document into ``directory`` (created if missing).

    Stale ``*.json`` files that no longer correspond to a message are removed.

    Returns:
        The files written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    docs = render()
    for old in directory.glob("*.json"):
        if old.name not in docs:
            old.unlink()
    written = []
    for name, text in docs.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_files(directory: Path) -> list[str]:
    """Compare ``directory`` with freshly rendered schemas.

    Returns:
        Names of files missing, different or superfluous; empty when up to date.
    """
    docs = render()
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    stale = sorted(present - docs.keys())
    for name, text in docs.items():
        path = directory / name
        if name not in present or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return sorted(stale)
