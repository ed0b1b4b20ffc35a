"""How large the spool may grow, checked against the file system it lives on.

``max_bytes`` is a promise only the file system can keep: a spool bound larger than the
free space means the disk fills first (the spool then treats "no space left" as full, see
:class:`~device.spool.queue.Spool`). :func:`plan_capacity` warns about that at start and,
when asked, sizes the spool from the free space instead.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

__all__ = ["plan_capacity"]

log = logging.getLogger(__name__)


def plan_capacity(
    directory: Path, *, max_bytes: int, queued: int, free_fraction: float | None
) -> int:
    """Return the spool bound to use.

    Args:
        directory: the spool directory (it exists).
        max_bytes: the configured bound.
        queued: bytes already queued (they count as available: they are the spool's).
        free_fraction: size the spool as at most this fraction of the free space plus what
            is queued (``None``: keep ``max_bytes``).

    Returns:
        ``max_bytes``, or less when sized from the free space.
    """
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        log.warning("cannot read the free space of %s: %s", directory, exc.strerror)
        return max_bytes
    available = queued + free
    if free_fraction is not None:
        sized = max(64 * 1024, int(queued + free * free_fraction))
        if sized < max_bytes:
            log.info(
                "spool bound %d bytes (%.0f %% of %d bytes free on %s, plus %d queued)",
                sized,
                free_fraction * 100,
                free,
                directory,
                queued,
            )
            return sized
        return max_bytes
    if max_bytes > available:
        log.warning(
            "spool max_bytes (%d) is more than its file system can hold (%d bytes free on %s"
            ", %d queued): the disk fills first, and then the spool policy applies as when it"
            " is full; lower max_bytes or set [spool] max_free_fraction",
            max_bytes,
            free,
            directory,
            queued,
        )
    return max_bytes
