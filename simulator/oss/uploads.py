"""Multipart uploads: their state and OSS's rules (no HTTP here).

Rules, as OSS applies them:

- part numbers are 1-10,000; uploading a number again replaces that part;
- CompleteMultipartUpload lists parts in ascending order, each with the ETag its upload
  returned (InvalidPartOrder, InvalidPart otherwise); with ``x-oss-complete-all`` every
  uploaded part is used instead;
- every part but the last of the completed object is at least 100 KB (EntityTooSmall);
- the object's ETag is the MD5 of the parts' binary MD5s followed by ``-<count>``, its type
  ``Multipart``, its CRC-64 combined from the parts' CRCs (:func:`~schemas.crc64.combine`);
- a completed or aborted upload is gone (NoSuchUpload).

One lock guards the upload table. A part's bytes are stored outside it (a durable store may
fsync); a part that lands after its upload was aborted is deleted again at once.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.crc64 import combine as crc64_combine
from simulator.oss.crc import crc64
from simulator.oss.errors import (
    EntityTooSmall,
    InvalidArgument,
    InvalidDigest,
    InvalidPart,
    InvalidPartOrder,
    NoSuchUpload,
)
from simulator.oss.records import ObjectFields, PartRecord, UploadRecord
from simulator.oss.storage import ObjectStore

MIN_PART_SIZE = 100 * 1024
# Sorts after every upload id: a key marker without an upload id marker skips the whole key.
_MAX_ID = "\uffff"
MAX_PART_NUMBER = 10_000


@dataclass(slots=True)
class _Upload:
    bucket: str
    record: UploadRecord
    parts: dict[int, PartRecord] = field(default_factory=dict)
    generations: int = 0


@dataclass(frozen=True, slots=True)
class Assembled:
    """A completed upload, ready to become an object.

    Attributes:
        upload: the upload's record (key, fields).
        parts: the parts that make the object, in order (the store joins their bytes).
        size: the object's size.
        etag: the multipart ETag (``<md5-of-md5s>-<count>``).
        crc64: the CRC-64 combined from the parts.
    """

    upload: UploadRecord
    parts: list[PartRecord]
    size: int
    etag: str
    crc64: int


@dataclass(frozen=True, slots=True)
class UploadPage:
    """One page of ListMultipartUploads."""

    uploads: list[tuple[str, UploadRecord]]
    prefixes: list[str]
    truncated: bool
    next_key_marker: str
    next_upload_id_marker: str


def check_part_number(text: str) -> int:
    """The part number of an UploadPart request.

    Raises:
        InvalidArgument: not an integer from 1 to 10,000.
    """
    if not text.isdigit() or not 1 <= int(text) <= MAX_PART_NUMBER:
        raise InvalidArgument(
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive.",
            name="PartNumber",
            value=text,
            ec="0017-00000220",
        )
    return int(text)


class Uploads:
    """Every multipart upload of one emulator.

    Args:
        store: keeps upload records and part bytes; uploads in progress are loaded from it.
        new_id: makes an upload id from the initiation time (by default 32 upper-case hex
            digits that sort in initiation order, so listing uploads of one key by id lists
            them by time, as OSS does, and ``upload-id-marker`` stays consistent with it).
    """

    def __init__(self, store: ObjectStore, *, new_id: Callable[[float], str] | None = None) -> None:
        self._store = store
        self._sequence = itertools.count()
        self._new_id = new_id or self._default_id
        self._lock = threading.Lock()
        self._uploads: dict[str, _Upload] = {}
        for bucket, record, parts in store.load_uploads():
            generations = max((p.generation for p in parts), default=0)
            self._uploads[record.upload_id] = _Upload(
                bucket, record, {p.number: p for p in parts}, generations
            )

    def initiate(self, bucket: str, key: str, fields: ObjectFields, *, now: float) -> UploadRecord:
        """Start an upload of ``key``."""
        record = UploadRecord(self._new_id(now), key, int(now), fields)
        self._store.save_upload(bucket, record)
        with self._lock:
            self._uploads[record.upload_id] = _Upload(bucket, record)
        return record

    def get(self, bucket: str, key: str, upload_id: str) -> UploadRecord:
        """An upload in progress.

        Raises:
            NoSuchUpload: no such upload for this bucket and key.
        """
        with self._lock:
            return self._find(bucket, key, upload_id).record

    def put_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        data: Sequence[bytes],
        *,
        now: float,
        content_md5: bytes | None = None,
    ) -> PartRecord:
        """Store part ``number`` of an upload (replacing an earlier one of that number).

        ``data`` is the part in the pieces it arrived in; they are hashed and stored without
        being joined. ``content_md5`` (the request's Content-MD5) must match them.

        Raises:
            NoSuchUpload: the upload is unknown (or was completed or aborted meanwhile).
            InvalidDigest: ``content_md5`` is not the part's MD5 (nothing is stored).
        """
        md5 = hashlib.md5(usedforsecurity=False)
        crc = 0
        size = 0
        for piece in data:
            md5.update(piece)
            crc = crc64(piece, crc)
            size += len(piece)
        if content_md5 is not None and md5.digest() != content_md5:
            raise InvalidDigest()
        etag = md5.hexdigest().upper()
        with self._lock:
            upload = self._find(bucket, key, upload_id)
            previous = upload.parts.get(number)
            upload.generations += 1
            part = PartRecord(number, size, etag, crc, int(now), upload.generations)
        # The bytes are stored before the part is listed, so a Complete never sees a part
        # whose bytes are not there yet.
        self._store.put_part(bucket, upload_id, part, data, previous)
        with self._lock:
            if self._uploads.get(upload_id) is not upload:
                self._store.delete_upload(bucket, upload_id)
                raise NoSuchUpload(upload_id)
            upload.parts[number] = part
        return part

    def parts(self, bucket: str, key: str, upload_id: str) -> list[PartRecord]:
        """An upload's parts by number.

        Raises:
            NoSuchUpload.
        """
        with self._lock:
            upload = self._find(bucket, key, upload_id)
            return sorted(upload.parts.values(), key=lambda p: p.number)

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        """Drop an upload and its parts.

        Raises:
            NoSuchUpload.
        """
        with self._lock:
            self._find(bucket, key, upload_id)
            del self._uploads[upload_id]
        self._store.delete_upload(bucket, upload_id)

    def complete(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        listed: Sequence[tuple[int, str]] | None,
        commit: Callable[[Assembled], None],
    ) -> Assembled:
        """Check the listed parts (``None``: every uploaded part) and hand them to ``commit``,
        which stores the object (the store joins the parts' bytes without the model copying
        them).

        The upload is gone once ``commit`` returns; if it raises, the upload stays as it was.

        Raises:
            NoSuchUpload, InvalidPartOrder, InvalidPart, EntityTooSmall; whatever ``commit``
            raises (FileAlreadyExists).
        """
        with self._lock:
            upload = self._find(bucket, key, upload_id)
            chosen = self._choose(upload, listed)
            md5s = b"".join(bytes.fromhex(p.etag) for p in chosen)
            etag = f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest().upper()}-{len(chosen)}"
            crc = 0
            for part in chosen:
                crc = crc64_combine(crc, part.crc64, part.size)
            size = sum(p.size for p in chosen)
            assembled = Assembled(upload.record, chosen, size, etag, crc)
            commit(assembled)
            del self._uploads[upload_id]
        self._store.delete_upload(bucket, upload_id)
        return assembled

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str,
        key_marker: str,
        upload_id_marker: str,
        max_uploads: int,
    ) -> UploadPage:
        """One page of a bucket's uploads in progress, by key then initiation (then id)."""
        with self._lock:
            entries = sorted(
                (u.record.key, u.record.upload_id, u.record)
                for u in self._uploads.values()
                if u.bucket == bucket and u.record.key.startswith(prefix)
            )
        uploads: list[tuple[str, UploadRecord]] = []
        prefixes: list[str] = []
        last_key, last_id = "", ""
        for key, upload_id, record in entries:
            if key_marker and (key, upload_id) <= (key_marker, upload_id_marker or _MAX_ID):
                # At or before the marker; a key-marker alone skips all its uploads.
                continue
            entry_prefix = None
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    entry_prefix = key[: cut + len(delimiter)]
            if entry_prefix is not None and (
                (prefixes and prefixes[-1] == entry_prefix)
                or (key_marker and entry_prefix <= key_marker)
            ):
                continue
            if len(uploads) + len(prefixes) >= max_uploads:
                return UploadPage(uploads, prefixes, True, last_key, last_id)
            if entry_prefix is not None:
                prefixes.append(entry_prefix)
                last_key, last_id = entry_prefix, ""
            else:
                uploads.append((upload_id, record))
                last_key, last_id = key, upload_id
        return UploadPage(uploads, prefixes, False, "", "")

    def _default_id(self, now: float) -> str:
        sequence = next(self._sequence) % 0x10000
        return f"{int(now * 1000):012X}{sequence:04X}{secrets.token_hex(8).upper()}"

    def _find(self, bucket: str, key: str, upload_id: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.bucket != bucket or upload.record.key != key:
            raise NoSuchUpload(upload_id)
        return upload

    @staticmethod
    def _choose(upload: _Upload, listed: Sequence[tuple[int, str]] | None) -> list[PartRecord]:
        if listed is None:
            chosen = sorted(upload.parts.values(), key=lambda p: p.number)
        else:
            chosen = []
            previous = 0
            for number, etag in listed:
                if number <= previous:
                    raise InvalidPartOrder()
                previous = number
                part = upload.parts.get(number)
                if part is None or part.etag != etag.strip('"').upper():
                    raise InvalidPart(number, etag)
                chosen.append(part)
        if not chosen:
            raise InvalidPart(0, "")
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise EntityTooSmall(
                    min_size=MIN_PART_SIZE, proposed_size=part.size, part_number=part.number
                )
        return chosen
