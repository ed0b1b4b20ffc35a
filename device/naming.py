"""Object keys that sort by recording time: ``{prefix}{UTC time}-{object number}{suffix}``.

Example: ``videos/cam-0001/20261129T034500Z-000001.mp4``. The time is when the object's
first byte was recorded (with the adopted clock offset); the per-device object number
keeps keys unique even when two objects start in the same second.
"""

from __future__ import annotations

import time

__all__ = ["object_key"]


def object_key(prefix: str, start_ms: int, seq: int, suffix: str = ".mp4") -> str:
    """Return the key of object number ``seq`` whose recording starts at ``start_ms``.

    Args:
        prefix: the granted prefix, ending in ``/``.
        start_ms: recording time of the object's first byte, ms since the epoch (UTC).
        seq: the device's object number (1, 2, ...).
        suffix: file extension, such as ``.mp4``.

    Returns:
        The object key.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(max(0, start_ms) // 1000))
    return f"{prefix}{stamp}-{seq:06d}{suffix}"
