"""Where object bytes live: the store seam of the model, and the in-memory store.

Two stores implement :class:`ObjectStore`:

- :class:`MemoryStore` keeps bytes in memory; nothing survives the process.
- :class:`~simulator.oss.durable.DurableStore` (``--data-dir``) keeps every bucket and object on
  disk so the emulator survives a restart.

The model serialises calls per object key; a store needs no locking of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from simulator.oss.buffers import BufferReader, ChunkedBuffer
from simulator.oss.durable import DurableStore
from simulator.oss.records import BucketRecord, ObjectRecord, PartRecord, UploadRecord

__all__ = ["DurableStore", "MemoryStore", "ObjectReader", "ObjectStore"]


class ObjectReader(Protocol):
    """An open object: reads stay consistent with the record it was opened for."""

    def read(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes starting at ``offset``."""
        ...

    def close(self) -> None:
        """Release the reader."""
        ...


class ObjectStore(Protocol):
    """Persistence seam of the OSS model.

    Attributes:
        blocking: whether writes may block for long (fsync); the app then runs them in a
            worker thread instead of on the event loop.
    """

    blocking: bool

    def load(self) -> list[tuple[BucketRecord, list[ObjectRecord]]]:
        """Return every stored bucket with its objects (empty for a fresh store)."""
        ...

    def save_bucket(self, bucket: BucketRecord) -> None:
        """Create or replace a bucket record."""
        ...

    def delete_bucket(self, name: str) -> None:
        """Remove an (empty) bucket."""
        ...

    def put_object(
        self, bucket: str, record: ObjectRecord, data: bytes, replaced: ObjectRecord | None
    ) -> None:
        """Store a whole object, replacing ``replaced`` if given."""
        ...

    def append_object(self, bucket: str, record: ObjectRecord, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` (the previous size) and commit ``record``."""
        ...

    def copy_object(
        self,
        src_bucket: str,
        src: ObjectRecord,
        dst_bucket: str,
        dst: ObjectRecord,
        replaced: ObjectRecord | None,
    ) -> None:
        """Store ``dst`` with the bytes of ``src``."""
        ...

    def delete_object(self, bucket: str, record: ObjectRecord) -> None:
        """Remove an object."""
        ...

    def open_object(self, bucket: str, record: ObjectRecord) -> ObjectReader:
        """Open an object's bytes for reading."""
        ...

    def update_record(self, bucket: str, record: ObjectRecord) -> None:
        """Commit a changed record of an object whose bytes stay as they are (tags)."""
        ...

    def load_uploads(self) -> list[tuple[str, UploadRecord, list[PartRecord]]]:
        """Return every multipart upload in progress: (bucket, upload, parts)."""
        ...

    def save_upload(self, bucket: str, upload: UploadRecord) -> None:
        """Record a new multipart upload."""
        ...

    def put_part(
        self,
        bucket: str,
        upload_id: str,
        part: PartRecord,
        data: Sequence[bytes],
        replaced: PartRecord | None,
    ) -> None:
        """Store a part's bytes (given in pieces) and record, replacing ``replaced``."""
        ...

    def delete_upload(self, bucket: str, upload_id: str) -> None:
        """Forget an upload and its parts (completed or aborted)."""
        ...

    def assemble_upload(
        self,
        bucket: str,
        upload_id: str,
        parts: Sequence[PartRecord],
        record: ObjectRecord,
        replaced: ObjectRecord | None,
    ) -> None:
        """Store ``record`` whose bytes are the listed parts' bytes, in order."""
        ...

    def close(self) -> None:
        """Release resources (open files)."""
        ...


class MemoryStore:
    """Keeps object bytes in memory (the default; fast, nothing survives a restart)."""

    blocking = False

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], bytes | ChunkedBuffer] = {}
        self._parts: dict[tuple[str, str], dict[int, list[bytes]]] = {}

    def load(self) -> list[tuple[BucketRecord, list[ObjectRecord]]]:
        """Return nothing: a memory store always starts empty."""
        return []

    def save_bucket(self, bucket: BucketRecord) -> None:
        """Nothing to do: the model holds bucket records."""

    def delete_bucket(self, name: str) -> None:
        """Nothing to do: the model holds bucket records."""

    def put_object(
        self, bucket: str, record: ObjectRecord, data: bytes, replaced: ObjectRecord | None
    ) -> None:
        """Keep ``data`` (bytes are immutable, so copies can share it)."""
        self._data[(bucket, record.key)] = data

    def append_object(self, bucket: str, record: ObjectRecord, offset: int, data: bytes) -> None:
        """Add ``data`` to the object's chunk list (no copy of what is already stored)."""
        slot = (bucket, record.key)
        current = self._data.get(slot)
        if offset == 0 or not isinstance(current, ChunkedBuffer):
            current = ChunkedBuffer()
            self._data[slot] = current
        current.append(data)

    def copy_object(
        self,
        src_bucket: str,
        src: ObjectRecord,
        dst_bucket: str,
        dst: ObjectRecord,
        replaced: ObjectRecord | None,
    ) -> None:
        """Share the source bytes (Normal objects never change in place)."""
        buf = self._data.get((src_bucket, src.key), b"")
        self._data[(dst_bucket, dst.key)] = buf if isinstance(buf, bytes) else buf.read(0, src.size)

    def delete_object(self, bucket: str, record: ObjectRecord) -> None:
        """Forget the bytes."""
        self._data.pop((bucket, record.key), None)

    def open_object(self, bucket: str, record: ObjectRecord) -> ObjectReader:
        """Return a reader over the object's bytes as they are now (later appends only add)."""
        return BufferReader(self._data.get((bucket, record.key), b""))

    def update_record(self, bucket: str, record: ObjectRecord) -> None:
        """Nothing to do: the model holds records."""

    def load_uploads(self) -> list[tuple[str, UploadRecord, list[PartRecord]]]:
        """Return nothing: a memory store always starts empty."""
        return []

    def save_upload(self, bucket: str, upload: UploadRecord) -> None:
        """Make room for the upload's parts."""
        self._parts[(bucket, upload.upload_id)] = {}

    def put_part(
        self,
        bucket: str,
        upload_id: str,
        part: PartRecord,
        data: Sequence[bytes],
        replaced: PartRecord | None,
    ) -> None:
        """Keep the part's pieces (immutable bytes: no copy)."""
        self._parts.setdefault((bucket, upload_id), {})[part.number] = list(data)

    def delete_upload(self, bucket: str, upload_id: str) -> None:
        """Forget the parts."""
        self._parts.pop((bucket, upload_id), None)

    def assemble_upload(
        self,
        bucket: str,
        upload_id: str,
        parts: Sequence[PartRecord],
        record: ObjectRecord,
        replaced: ObjectRecord | None,
    ) -> None:
        """Chain the parts' bytes into the object (no copy)."""
        stored = self._parts[(bucket, upload_id)]
        buf = ChunkedBuffer()
        for part in parts:
            for piece in stored[part.number]:
                buf.append(piece)
        self._data[(bucket, record.key)] = buf

    def close(self) -> None:
        """Drop everything."""
        self._data.clear()
        self._parts.clear()
