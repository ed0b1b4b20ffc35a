"""Objects beyond plain puts and appends: multipart-assembled objects, symlinks, tag and ACL changes.

Part of the OSS model (:class:`~simulator.oss.models.OssModel` inherits it); the same locking
rules apply (:mod:`simulator.oss.object_index`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

from simulator.oss.errors import FileAlreadyExists, NoSuchKey, NotSymlink
from simulator.oss.names import check_object_key
from simulator.oss.object_index import ObjectIndex
from simulator.oss.records import (
    DEFAULT_CONTENT_TYPE,
    ObjectFields,
    ObjectRecord,
    ObjectType,
    new_record,
)
from simulator.oss.uploads import Assembled


class ObjectKinds(ObjectIndex):
    """Multipart objects, symlinks, tags and ACLs on top of the index."""

    def put_multipart(
        self, bucket: str, assembled: Assembled, *, now: float, forbid_overwrite: bool = False
    ) -> ObjectRecord:
        """Create or replace the object a completed multipart upload assembled.

        Raises:
            NoSuchBucket.
            FileAlreadyExists: ``forbid_overwrite`` and the key exists.
        """
        key = assembled.upload.key
        state = self._bucket(bucket)
        with self._stripe_lock(bucket, key):
            previous = state.objects.get(key)
            if forbid_overwrite and previous is not None:
                raise FileAlreadyExists(key)
            record = ObjectRecord(
                key=key,
                size=assembled.size,
                etag=assembled.etag,
                crc64=assembled.crc64,
                mtime=int(now),
                object_type=ObjectType.MULTIPART,
                content_type=assembled.upload.fields.content_type or DEFAULT_CONTENT_TYPE,
                user_meta=dict(assembled.upload.fields.user_meta),
                http_headers=dict(assembled.upload.fields.http_headers),
                generation=0 if previous is None else previous.generation + 1,
                tags=dict(assembled.upload.fields.tags),
                acl=assembled.upload.fields.acl,
            )
            self._store.assemble_upload(
                bucket, assembled.upload.upload_id, assembled.parts, record, previous
            )
            self._index_put(state, record)
        return record

    def put_symlink(
        self, bucket: str, key: str, target: str, fields: ObjectFields, *, now: float
    ) -> ObjectRecord:
        """Create or replace a symlink ``key`` -> ``target`` (the target need not exist yet).

        Raises:
            NoSuchBucket, InvalidObjectName.
        """
        check_object_key(key)
        check_object_key(target)
        state = self._bucket(bucket)
        etag = hashlib.md5(target.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
        with self._stripe_lock(bucket, key):
            previous = state.objects.get(key)
            record = replace(
                new_record(key, b"", etag, 0, ObjectType.SYMLINK, fields, now, previous),
                symlink_target=target,
            )
            self._store.put_object(bucket, record, b"", previous)
            self._index_put(state, record)
        return record

    def get_symlink(self, bucket: str, key: str) -> ObjectRecord:
        """A symlink's own record.

        Raises:
            NoSuchBucket, NoSuchKey.
            NotSymlink: the object is not a symlink.
        """
        record = self.head_object(bucket, key)
        if record.symlink_target is None:
            raise NotSymlink(key)
        return record

    def set_tags(self, bucket: str, key: str, tags: dict[str, str]) -> ObjectRecord:
        """Replace an object's tags (``{}`` removes them).

        Raises:
            NoSuchBucket, NoSuchKey.
        """
        return self._change_record(bucket, key, lambda r: replace(r, tags=dict(tags)))

    def set_acl(self, bucket: str, key: str, acl: str) -> ObjectRecord:
        """Set an object's ACL (a value :func:`simulator.oss.acl.parse_acl` accepted).

        Raises:
            NoSuchBucket, NoSuchKey.
        """
        return self._change_record(bucket, key, lambda r: replace(r, acl=acl))

    def _change_record(
        self, bucket: str, key: str, change: Callable[[ObjectRecord], ObjectRecord]
    ) -> ObjectRecord:
        state = self._bucket(bucket)
        with self._stripe_lock(bucket, key):
            current = state.objects.get(key)
            if current is None:
                raise NoSuchKey(key)
            record = change(current)
            self._store.update_record(bucket, record)
            self._index_put(state, record)
        return record
