"""Sending a built clip: streamed from its temporary file, length and SHA-256 in the headers."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from cloud.console.service import Clip

__all__ = ["CLIP_SHA256_HEADER", "clip_response"]

CLIP_SHA256_HEADER = "X-Content-SHA256"
_BLOCK = 4 << 20


def _blocks(made: Clip) -> Iterator[bytes]:
    while block := made.file.read(_BLOCK):
        yield block


def clip_response(made: Clip) -> StreamingResponse:
    """The clip as a download; its file is closed once it has been sent (or the client left)."""
    quoted = urllib.parse.quote(made.filename, safe="")
    return StreamingResponse(
        _blocks(made),
        media_type=made.plan.media_type,
        headers={
            "Content-Length": str(made.size),
            CLIP_SHA256_HEADER: made.sha256,
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "X-Clip-Start-Ms": str(made.plan.start_ms),
            "X-Clip-End-Ms": str(made.plan.end_ms),
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(made.file.close),
    )
