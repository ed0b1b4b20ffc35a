"""The initialisation segment every new object begins with (fragmented MP4 sources).

The uploader keeps the latest initialisation segment it took from the spool in
``init-segment.chunk`` (the chunk format, so its CRC is checked when read back), written
with :func:`~device.spool.fsutil.atomic_write`. It survives restarts: an object opened
after a restart begins with the same ``ftyp`` + ``moov`` as the objects before it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from device.errors import SpoolError
from device.spool.chunkfile import ChunkFormatError, decode_chunk, encode_chunk
from device.spool.fsutil import atomic_write

__all__ = ["HeaderStore"]

log = logging.getLogger(__name__)


class HeaderStore:
    """Load the stored initialisation segment of the spool in ``directory``, if any.

    Args:
        directory: the spool directory.
    """

    FILE = "init-segment.chunk"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILE
        self._data = b""
        try:
            self._data = decode_chunk(self.path.read_bytes()).data
        except FileNotFoundError:
            pass
        except (OSError, ChunkFormatError) as exc:
            # Objects opened before the next init segment arrives will lack it; say so.
            log.error("initialisation segment %s is unusable (%s); ignored", self.path, exc)

    @property
    def data(self) -> bytes:
        """The current initialisation segment (``b""``: none, the source needs none)."""
        return self._data

    def replace(self, data: bytes) -> None:
        """Make ``data`` the initialisation segment of every object opened from now on.

        Raises:
            SpoolError: it could not be written (the old one stays in force).
        """
        raw, _ = encode_chunk(0, 0, data)
        try:
            atomic_write(self.path, raw, point="init_segment")
        except OSError as exc:
            raise SpoolError(f"cannot write {self.path}: {exc.strerror}") from None
        self._data = data
