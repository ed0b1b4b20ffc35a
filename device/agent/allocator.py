"""C allocator settings for the long-running camera process (glibc ``malloc``).

A camera moves a chunk of about 1 MiB through memory every couple of seconds: the recorder's
buffer, the bytes read back from the spool, the request body. glibc serves such blocks with
``mmap`` at first, but after the first one is freed it raises its mmap threshold above that
size and serves later ones from the heap, where freed chunk-sized holes stay resident. With
a fixed threshold every chunk-sized block is mapped and unmapped, and each thread's arena
holds only small objects; on a camera that is about 2 MB less resident memory while
recording. Capping the arenas at two keeps each new thread from reserving its own.

``MALLOC_ARENA_MAX`` and ``MALLOC_MMAP_THRESHOLD_`` in the environment do the same; setting
them here makes the figures hold however the agent is started. On a C library other than
glibc (musl on some cameras) nothing is changed.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from typing import Protocol

__all__ = ["AllocatorSettings", "tune_allocator"]

log = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


@dataclass(frozen=True, kw_only=True)
class AllocatorSettings:
    """What :func:`tune_allocator` sets.

    Args:
        mmap_threshold: blocks of at least this many bytes are mapped on their own and
            returned to the system when freed (glibc's default before it adapts: 128 KiB).
        arena_max: most malloc arenas shared by all threads.
    """

    mmap_threshold: int = 128 * 1024
    arena_max: int = 2


class _Mallopt(Protocol):
    def __call__(self, param: int, value: int, /) -> int: ...


def _glibc_mallopt() -> _Mallopt | None:
    # The interpreter is linked against the C library, so its symbols are found in the
    # process itself (dlopen(NULL)); ctypes.util.find_library would run ldconfig in a child
    # process and import subprocess and tempfile to do it.
    try:
        libc = ctypes.CDLL(None)
        mallopt: _Mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
    except (OSError, AttributeError):
        return None
    return mallopt


def tune_allocator(
    settings: AllocatorSettings | None = None, *, mallopt: _Mallopt | None = None
) -> bool:
    """Apply the allocator settings to this process; call it before starting threads.

    Args:
        settings: the values to set (defaults: :class:`AllocatorSettings`).
        mallopt: glibc's ``mallopt``, or a stand-in; found in the C library when omitted.

    Returns:
        True when every value was set, False when the C library is not glibc or refused one.
    """
    settings = settings or AllocatorSettings()
    mallopt = mallopt or _glibc_mallopt()
    if mallopt is None:
        log.debug("not glibc: allocator left as it is")
        return False
    applied = mallopt(M_MMAP_THRESHOLD, settings.mmap_threshold) == 1
    applied = mallopt(M_ARENA_MAX, settings.arena_max) == 1 and applied
    return applied
