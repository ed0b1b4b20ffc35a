"""The durable store (``--data-dir``): buckets and objects on disk, surviving restarts.

Layout under the root::

    buckets/<bucket>/bucket.json                     bucket record (owner, lifecycle ...)
    buckets/<bucket>/objects/<h2>/<h>.json           object record (size, CRC, ETag ...)
    buckets/<bucket>/objects/<h2>/<h>.<gen>.data     object bytes
    uploads/<bucket>/<upload-id>/upload.json         multipart upload in progress
    uploads/<bucket>/<upload-id>/<n>.json            its part n (size, ETag, CRC ...)
    uploads/<bucket>/<upload-id>/<n>.<gen>.data      the part's bytes

where ``<h>`` is the SHA-256 of the key and ``<gen>`` the record's generation. Records are
replaced atomically (write to a temporary file, rename). A put writes a new data file before
switching the record to it; an append writes its bytes at the end of the data file before the
record grows to cover them. On load, data past the recorded size (an append that was never
acknowledged) is cut off and unreferenced files are removed. With ``fsync=True`` data, record
and directory are flushed before the call returns, so an acknowledged write survives power loss.

The model serialises calls per object key; the store needs no locking of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from simulator.oss.records import BucketRecord, ObjectRecord, PartRecord, UploadRecord

logger = logging.getLogger(__name__)


class FileReader:
    """Reads an object's data file (the open descriptor survives a replacement of the file)."""

    __slots__ = ("_fd",)

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class DurableStore:
    """Keeps buckets and objects under a directory; survives restarts (see module docstring).

    Args:
        root: the data directory (created if missing).
        fsync: flush data, records and directories before acknowledging a write.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self._root = Path(root)
        self._fsync = fsync
        self.blocking = fsync
        (self._root / "buckets").mkdir(parents=True, exist_ok=True)
        (self._root / "uploads").mkdir(exist_ok=True)

    # ---- paths --------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> Path:
        return self._root / "buckets" / bucket

    def _object_base(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self._bucket_dir(bucket) / "objects" / digest[:2] / digest

    @staticmethod
    def _data_path(base: Path, generation: int) -> Path:
        return base.with_name(f"{base.name}.{generation}.data")

    # ---- load ---------------------------------------------------------------------------

    def load(self) -> list[tuple[BucketRecord, list[ObjectRecord]]]:
        """Read every bucket and object, repairing what an interrupted write left behind.

        Returns:
            Buckets with their objects. Unreadable bucket directories are skipped (logged).
        """
        result: list[tuple[BucketRecord, list[ObjectRecord]]] = []
        for bucket_dir in sorted((self._root / "buckets").iterdir()):
            try:
                bucket = BucketRecord.from_json(
                    json.loads((bucket_dir / "bucket.json").read_text("utf-8"))
                )
            except (OSError, ValueError, KeyError, TypeError):
                logger.warning("skipping unreadable bucket directory %s", bucket_dir.name)
                continue
            result.append((bucket, list(self._load_objects(bucket_dir / "objects"))))
        return result

    def _load_objects(self, objects_dir: Path) -> Iterator[ObjectRecord]:
        if not objects_dir.is_dir():
            return
        for shard in objects_dir.iterdir():
            names = os.listdir(shard)
            records: dict[str, ObjectRecord] = {}
            for name in names:
                if name.endswith(".json"):
                    try:
                        records[name[:-5]] = ObjectRecord.from_json(
                            json.loads((shard / name).read_text("utf-8"))
                        )
                    except (OSError, ValueError, KeyError, TypeError):
                        logger.warning("dropping unreadable object record %s", name)
            for name in names:
                if name.endswith(".tmp"):
                    (shard / name).unlink(missing_ok=True)
                elif name.endswith(".data"):
                    digest, _, gen = name[: -len(".data")].partition(".")
                    record = records.get(digest)
                    if record is None or str(record.generation) != gen:
                        (shard / name).unlink(missing_ok=True)
            for digest, record in records.items():
                data = self._data_path(shard / digest, record.generation)
                try:
                    size = data.stat().st_size
                except FileNotFoundError:
                    size = -1
                if size < record.size:
                    logger.warning("dropping object with missing bytes in %s", shard.name)
                    (shard / f"{digest}.json").unlink(missing_ok=True)
                    data.unlink(missing_ok=True)
                    continue
                if size > record.size:
                    # Bytes of an append that crashed before its record was committed.
                    os.truncate(data, record.size)
                yield record

    # ---- buckets ------------------------------------------------------------------------

    def save_bucket(self, bucket: BucketRecord) -> None:
        """Write the bucket record atomically."""
        path = self._bucket_dir(bucket.name) / "bucket.json"
        self._ensure_dir(path.parent)
        self._write_json(path, bucket.to_json())

    def delete_bucket(self, name: str) -> None:
        """Remove the bucket directory (record first, so a crash leaves no half bucket)."""
        bucket_dir = self._bucket_dir(name)
        (bucket_dir / "bucket.json").unlink(missing_ok=True)
        self._sync_dir(bucket_dir)
        shutil.rmtree(bucket_dir, ignore_errors=True)

    # ---- objects ------------------------------------------------------------------------

    def put_object(
        self, bucket: str, record: ObjectRecord, data: bytes, replaced: ObjectRecord | None
    ) -> None:
        """Write a new data file, switch the record to it, drop the replaced bytes."""
        base = self._object_base(bucket, record.key)
        self._ensure_dir(base.parent)
        path = self._data_path(base, record.generation)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, data, 0)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._commit(base, record, replaced)

    def append_object(self, bucket: str, record: ObjectRecord, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` in the data file, then grow the record."""
        base = self._object_base(bucket, record.key)
        if offset == 0:
            self._ensure_dir(base.parent)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        else:
            flags = os.O_WRONLY
        fd = os.open(self._data_path(base, record.generation), flags, 0o644)
        try:
            _write_all(fd, data, offset)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._write_json(base.with_name(base.name + ".json"), record.to_json())

    def copy_object(
        self,
        src_bucket: str,
        src: ObjectRecord,
        dst_bucket: str,
        dst: ObjectRecord,
        replaced: ObjectRecord | None,
    ) -> None:
        """Hard-link (or copy) the source bytes under the destination's record."""
        src_path = self._data_path(self._object_base(src_bucket, src.key), src.generation)
        base = self._object_base(dst_bucket, dst.key)
        self._ensure_dir(base.parent)
        dst_path = self._data_path(base, dst.generation)
        dst_path.unlink(missing_ok=True)
        try:
            os.link(src_path, dst_path)
        except OSError:
            shutil.copyfile(src_path, dst_path)
            if self._fsync:
                fd = os.open(dst_path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        self._commit(base, dst, replaced)

    def delete_object(self, bucket: str, record: ObjectRecord) -> None:
        """Remove the record (the commit point), then the bytes."""
        base = self._object_base(bucket, record.key)
        base.with_name(base.name + ".json").unlink(missing_ok=True)
        self._sync_dir(base.parent)
        self._data_path(base, record.generation).unlink(missing_ok=True)

    def update_record(self, bucket: str, record: ObjectRecord) -> None:
        """Replace the object's record; its data file stays."""
        base = self._object_base(bucket, record.key)
        self._write_json(base.with_name(base.name + ".json"), record.to_json())

    def open_object(self, bucket: str, record: ObjectRecord) -> FileReader:
        """Open the object's data file (stays valid if the object is replaced meanwhile)."""
        return FileReader(self._data_path(self._object_base(bucket, record.key), record.generation))

    def close(self) -> None:
        """Nothing is kept open between calls."""

    # ---- multipart uploads --------------------------------------------------------------

    def _upload_dir(self, bucket: str, upload_id: str) -> Path:
        return self._root / "uploads" / bucket / upload_id

    def load_uploads(self) -> list[tuple[str, UploadRecord, list[PartRecord]]]:
        """Every upload in progress with its parts (unreadable ones skipped, logged)."""
        result: list[tuple[str, UploadRecord, list[PartRecord]]] = []
        for bucket_dir in sorted((self._root / "uploads").iterdir()):
            for upload_dir in sorted(bucket_dir.iterdir()):
                try:
                    upload = UploadRecord.from_json(
                        json.loads((upload_dir / "upload.json").read_text("utf-8"))
                    )
                except (OSError, ValueError, KeyError, TypeError):
                    logger.warning("skipping unreadable upload %s", upload_dir.name)
                    continue
                parts: list[PartRecord] = []
                for path in upload_dir.glob("*.json"):
                    if path.name == "upload.json":
                        continue
                    try:
                        part = PartRecord.from_json(json.loads(path.read_text("utf-8")))
                    except (OSError, ValueError, KeyError, TypeError):
                        logger.warning("dropping unreadable part record %s", path.name)
                        continue
                    data = upload_dir / f"{part.number}.{part.generation}.data"
                    if data.is_file() and data.stat().st_size == part.size:
                        parts.append(part)
                result.append((bucket_dir.name, upload, sorted(parts, key=lambda p: p.number)))
        return result

    def save_upload(self, bucket: str, upload: UploadRecord) -> None:
        """Record a new upload."""
        directory = self._upload_dir(bucket, upload.upload_id)
        self._ensure_dir(directory)
        self._write_json(directory / "upload.json", upload.to_json())

    def put_part(
        self,
        bucket: str,
        upload_id: str,
        part: PartRecord,
        data: Sequence[bytes],
        replaced: PartRecord | None,
    ) -> None:
        """Write a part's bytes, then its record (replacing ``replaced``)."""
        directory = self._upload_dir(bucket, upload_id)
        fd = os.open(
            directory / f"{part.number}.{part.generation}.data",
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
            0o644,
        )
        try:
            offset = 0
            for piece in data:
                _write_all(fd, piece, offset)
                offset += len(piece)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._write_json(directory / f"{part.number}.json", part.to_json())
        if replaced is not None and replaced.generation != part.generation:
            (directory / f"{replaced.number}.{replaced.generation}.data").unlink(missing_ok=True)

    def assemble_upload(
        self,
        bucket: str,
        upload_id: str,
        parts: Sequence[PartRecord],
        record: ObjectRecord,
        replaced: ObjectRecord | None,
    ) -> None:
        """Write the parts' bytes one after another into a new data file, then commit."""
        base = self._object_base(bucket, record.key)
        self._ensure_dir(base.parent)
        directory = self._upload_dir(bucket, upload_id)
        fd = os.open(
            self._data_path(base, record.generation), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
        )
        try:
            offset = 0
            for part in parts:
                data = (directory / f"{part.number}.{part.generation}.data").read_bytes()
                _write_all(fd, data, offset)
                offset += len(data)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._commit(base, record, replaced)

    def delete_upload(self, bucket: str, upload_id: str) -> None:
        """Forget an upload and its parts (record first: a crash leaves no half upload)."""
        directory = self._upload_dir(bucket, upload_id)
        (directory / "upload.json").unlink(missing_ok=True)
        self._sync_dir(directory)
        shutil.rmtree(directory, ignore_errors=True)

    # ---- helpers ------------------------------------------------------------------------

    def _commit(self, base: Path, record: ObjectRecord, replaced: ObjectRecord | None) -> None:
        self._write_json(base.with_name(base.name + ".json"), record.to_json())
        if replaced is not None and replaced.generation != record.generation:
            self._data_path(base, replaced.generation).unlink(missing_ok=True)

    def _ensure_dir(self, directory: Path) -> None:
        if directory.is_dir():
            return
        self._ensure_dir(directory.parent)
        directory.mkdir(exist_ok=True)
        # A new directory entry is durable only once its parent is flushed.
        self._sync_dir(directory.parent)

    def _write_json(self, path: Path, data: object) -> None:
        tmp = path.with_name(path.name + ".tmp")
        payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, payload, 0)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._sync_dir(path.parent)

    def _sync_dir(self, directory: Path) -> None:
        if not self._fsync:
            return
        try:
            fd = os.open(directory, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
