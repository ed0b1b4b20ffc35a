"""HLS output for virtual cameras: settings, the segment log, and the playlist audit.

With ``ossmedia fleet --output hls`` every camera runs the real agent in HLS mode on its
generated H.264 pattern. What a camera produces is logged per segment (a wrapper around
the agent's spool sink records each segment as an integrity
:class:`~simulator.fleet.integrity.Chunk`), so the same byte audit as for appended
recordings applies: the stored segments, joined in key order (which is production order),
must be exactly the logged segments. On top of that, every stored playlist may list only
segments the bucket holds.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from typing import Any

from device.hls import SegmentSink
from device.settings import AgentSettings
from simulator.fleet.camera import ChunkLog
from simulator.fleet.integrity import ObjectProblem, StoredObject

__all__ = [
    "PLAYLIST_SUFFIX",
    "SegmentLog",
    "hls_camera",
    "hls_camera_settings",
    "playlist_problems",
    "segment_logger",
]

PLAYLIST_SUFFIX = ".m3u8"


def hls_camera_settings(duration_s: float) -> dict[str, Any]:
    """The ``source`` and ``output`` sections of a virtual HLS camera.

    One-second segments of the generated pattern at 10 pictures per second (a key frame
    every second), a live window of six segments.
    """
    return {
        "source": {"kind": "pattern", "duration_s": duration_s},
        "output": {
            "format": "hls",
            "mode": "live",
            "frame_rate": 10,
            "target_duration_s": 1.0,
            "list_size": 6,
        },
    }


class SegmentLog:
    """A :class:`~device.hls.SegmentSink` wrapper that logs each segment once it is queued.

    Args:
        inner: the agent's spool sink.
        log: where segments are logged (playlists are not: they are checked, not counted).
    """

    def __init__(self, inner: SegmentSink, log: ChunkLog) -> None:
        self._inner = inner
        self._log = log

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        """Queue through the spool sink, then log the segment (a refused put is not)."""
        self._inner.put_object(key, data, content_type)
        if not key.endswith(PLAYLIST_SUFFIX):
            self._log.add(data)


def segment_logger(log: ChunkLog) -> Callable[[SegmentSink], SegmentSink]:
    """The agent's ``hls_sink`` hook for one camera."""

    def wrap(inner: SegmentSink) -> SegmentSink:
        return SegmentLog(inner, log)

    return wrap


def hls_camera(
    settings: AgentSettings, duration_s: float, log: ChunkLog
) -> tuple[AgentSettings, Callable[[SegmentSink], SegmentSink] | None]:
    """Fit one camera's settings for its run and give its ``hls_sink`` hook.

    Args:
        settings: the camera's settings.
        duration_s: how long this camera records (start-delayed cameras record less).
        log: the camera's production log.

    Returns:
        The settings (the pattern's duration set) and the hook; for append output, the
        settings unchanged and ``None``.
    """
    if settings.output.format != "hls":
        return settings, None
    pattern = settings.source.model_copy(update={"duration_s": max(0.1, duration_s)})
    return settings.model_copy(update={"source": pattern}), segment_logger(log)


def playlist_problems(objects: Sequence[StoredObject]) -> list[ObjectProblem]:
    """Every URI of every stored playlist must name a stored object.

    Args:
        objects: a camera's objects as read back.

    Returns:
        One problem per URI that points at nothing.
    """
    keys = {obj.key for obj in objects}
    problems = []
    for obj in objects:
        if not obj.key.endswith(PLAYLIST_SUFFIX):
            continue
        base = posixpath.dirname(obj.key)
        for line in obj.data.decode("utf-8", "replace").splitlines():
            if not line or line.startswith("#"):
                continue
            target = posixpath.normpath(posixpath.join(base, line))
            if target not in keys:
                problems.append(ObjectProblem(obj.key, f"lists {line}, which is not stored"))
    return problems
