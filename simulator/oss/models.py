"""The OSS emulator's state and rules: buckets, objects, appends, listing, lifecycle.

No HTTP here. :class:`OssModel` builds on :class:`~simulator.oss.object_kinds.ObjectKinds`
(multipart objects, symlinks, tags) and :class:`~simulator.oss.object_index.ObjectIndex`
(indexes, locks, loading). Every mutation of one object key runs under that key's lock (a fixed set of
striped locks), so a position check and the write it guards are atomic: of several appends at
the same position exactly one succeeds, the others see PositionNotEqualToLength. A second,
short-held lock guards the bucket and key indexes. Lock order: key stripe(s) first, then the
index lock. The store is called while the key stripe is held, never under the index lock.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import replace

from simulator.oss.cors import CorsConfiguration
from simulator.oss.crc import crc64
from simulator.oss.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    FileAlreadyExists,
    InvalidArgument,
    NoSuchBucket,
    NoSuchKey,
    NoSuchLifecycle,
    ObjectNotAppendable,
    ObjectSizeTooLarge,
    PositionNotEqualToLength,
)
from simulator.oss.listing import ListPage, list_page
from simulator.oss.names import check_bucket_name, check_object_key
from simulator.oss.object_index import BucketState
from simulator.oss.object_kinds import ObjectKinds
from simulator.oss.records import (
    DEFAULT_CONTENT_TYPE,
    BucketRecord,
    LifecycleRule,
    ObjectFields,
    ObjectRecord,
    ObjectType,
    append_etag,
    new_record,
)
from simulator.oss.storage import ObjectReader


class OssModel(ObjectKinds):
    """All buckets and objects of one emulator.

    Args:
        store: where bytes (and, when durable, records) are kept; loaded on construction.
        max_append_object_size: the largest size an appendable object may reach.
    """

    # ---- buckets --------------------------------------------------------------------------

    def create_bucket(
        self, name: str, *, owner: str, region: str, now: float, storage_class: str = "Standard"
    ) -> BucketRecord:
        """Create a bucket.

        Raises:
            InvalidBucketName: the name breaks the OSS rules.
            BucketAlreadyExists: a bucket with that name exists (whoever owns it).
        """
        check_bucket_name(name)
        record = BucketRecord(name, owner, region, int(now), storage_class)
        with self._index:
            if name in self._buckets:
                raise BucketAlreadyExists(name)
            self._store.save_bucket(record)
            self._buckets[name] = BucketState(record)
        return record

    def ensure_bucket(self, name: str, *, owner: str, region: str, now: float) -> BucketRecord:
        """Create a bucket unless it exists (fixtures and seeding); return its record."""
        with self._index:
            state = self._buckets.get(name)
            if state is not None:
                return state.record
        try:
            return self.create_bucket(name, owner=owner, region=region, now=now)
        except BucketAlreadyExists:
            return self.get_bucket(name)

    def get_bucket(self, name: str) -> BucketRecord:
        """Return a bucket's record.

        Raises:
            NoSuchBucket: no such bucket.
        """
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        return state.record

    def bucket_object_count(self, name: str) -> int:
        """How many objects a bucket holds."""
        return len(self._bucket(name).keys)

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket.

        Raises:
            NoSuchBucket: no such bucket.
            BucketNotEmpty: it still holds objects.
        """
        with self._index:
            state = self._bucket(name)
            if state.keys:
                raise BucketNotEmpty(name)
            del self._buckets[name]
            self._store.delete_bucket(name)

    def list_buckets(
        self, owner: str, *, prefix: str, marker: str, max_keys: int
    ) -> tuple[list[BucketRecord], bool]:
        """List an account's buckets by name.

        Returns:
            (buckets on this page, whether more follow).
        """
        with self._index:
            names = sorted(
                n
                for n, b in self._buckets.items()
                if b.record.owner == owner and n.startswith(prefix) and n > marker
            )
            page = [self._buckets[n].record for n in names[:max_keys]]
        return page, len(names) > max_keys

    def put_lifecycle(self, name: str, rules: tuple[LifecycleRule, ...]) -> None:
        """Replace a bucket's lifecycle rules."""
        self._update_bucket(name, lambda r: replace(r, lifecycle=rules))

    def get_lifecycle(self, name: str) -> tuple[LifecycleRule, ...]:
        """Return a bucket's lifecycle rules.

        Raises:
            NoSuchLifecycle: none are configured.
        """
        rules = self.get_bucket(name).lifecycle
        if rules is None:
            raise NoSuchLifecycle(name)
        return rules

    def delete_lifecycle(self, name: str) -> None:
        """Remove a bucket's lifecycle rules (no error when there are none)."""
        self._update_bucket(name, lambda r: replace(r, lifecycle=None))

    def put_public_access_block(self, name: str, *, block: bool) -> None:
        """Turn a bucket's Block Public Access on or off."""
        self._update_bucket(name, lambda r: replace(r, block_public_access=block))

    def put_cors(self, name: str, config: CorsConfiguration | None) -> None:
        """Replace a bucket's CORS rules (``None`` removes them)."""
        self._update_bucket(name, lambda r: replace(r, cors=config))

    def _update_bucket(self, name: str, change: Callable[[BucketRecord], BucketRecord]) -> None:
        with self._index:
            state = self._bucket(name)
            record = change(state.record)
            self._store.save_bucket(record)
            state.record = record

    # ---- objects --------------------------------------------------------------------------

    def open_object(self, bucket: str, key: str) -> tuple[ObjectRecord, ObjectReader]:
        """Return an object's record and a reader consistent with it.

        Raises:
            NoSuchBucket, NoSuchKey.
        """
        with self._stripe_lock(bucket, key):
            record = self.follow(bucket, self.head_object(bucket, key))
            return record, self._store.open_object(bucket, record)

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes,
        fields: ObjectFields,
        *,
        now: float,
        forbid_overwrite: bool = False,
    ) -> ObjectRecord:
        """Create or replace a Normal object.

        Raises:
            NoSuchBucket, InvalidObjectName.
            FileAlreadyExists: ``forbid_overwrite`` and the key exists.
        """
        check_object_key(key)
        state = self._bucket(bucket)
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest().upper()
        crc = crc64(data)
        with self._stripe_lock(bucket, key):
            previous = state.objects.get(key)
            if forbid_overwrite and previous is not None:
                raise FileAlreadyExists(key)
            record = new_record(key, data, digest, crc, ObjectType.NORMAL, fields, now, previous)
            self._store.put_object(bucket, record, data, previous)
            self._index_put(state, record)
        return record

    def append_object(
        self, bucket: str, key: str, position: int, data: bytes, fields: ObjectFields, *, now: float
    ) -> ObjectRecord:
        """Append to an Appendable object (creating it at position 0).

        ``fields`` only take effect when the append creates the object.

        Raises:
            NoSuchBucket, InvalidObjectName.
            PositionNotEqualToLength: ``position`` is not the object's current length.
            ObjectNotAppendable: the object is a Normal object.
            ObjectSizeTooLarge: the object would grow past the appendable limit.
        """
        check_object_key(key)
        state = self._bucket(bucket)
        with self._stripe_lock(bucket, key):
            current = state.objects.get(key)
            size = 0 if current is None else current.size
            if current is not None and current.object_type is not ObjectType.APPENDABLE:
                raise ObjectNotAppendable()
            if position != size:
                raise PositionNotEqualToLength(size)
            new_size = size + len(data)
            if new_size > self._max_append:
                raise ObjectSizeTooLarge(max_size=self._max_append, current_size=size)
            if current is None:
                record = new_record(
                    key,
                    data,
                    "",
                    crc64(data),
                    ObjectType.APPENDABLE,
                    fields,
                    now,
                    None,
                    appendable_etag=True,
                )
            else:
                crc = crc64(data, current.crc64)
                record = current.appended(
                    size=new_size, crc64=crc, etag=append_etag(crc, new_size), mtime=int(now)
                )
            self._store.append_object(bucket, record, size, data)
            self._index_put(state, record)
        return record

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        fields: ObjectFields | None,
        now: float,
        forbid_overwrite: bool = False,
        acl: str = "default",
    ) -> ObjectRecord:
        """Copy a Normal object (``fields=None`` keeps the source's metadata; the copy gets
        ``acl``, never the source's).

        Raises:
            NoSuchBucket, NoSuchKey, InvalidObjectName.
            FileAlreadyExists: ``forbid_overwrite`` and the destination exists.
            InvalidArgument: the source is an Appendable object (OSS cannot copy those).
        """
        check_object_key(dst_key)
        src_state = self._bucket(src_bucket)
        dst_state = self._bucket(dst_bucket)
        with self._locked_pair((src_bucket, src_key), (dst_bucket, dst_key)):
            source = src_state.objects.get(src_key)
            if source is None:
                raise NoSuchKey(src_key)
            if source.object_type is ObjectType.APPENDABLE:
                raise InvalidArgument(
                    "The source object of a copy must not be an appendable object.",
                    name="x-oss-copy-source",
                    value=f"/{src_bucket}/{src_key}",
                )
            previous = dst_state.objects.get(dst_key)
            if forbid_overwrite and previous is not None:
                raise FileAlreadyExists(dst_key)
            generation = 0 if previous is None else previous.generation + 1
            if fields is None:
                record = replace(
                    source, key=dst_key, mtime=int(now), generation=generation, acl=acl
                )
            else:
                record = replace(
                    source,
                    key=dst_key,
                    mtime=int(now),
                    generation=generation,
                    acl=acl,
                    content_type=fields.content_type or DEFAULT_CONTENT_TYPE,
                    user_meta=dict(fields.user_meta),
                    http_headers=dict(fields.http_headers),
                )
            self._store.copy_object(src_bucket, source, dst_bucket, record, previous)
            self._index_put(dst_state, record)
        return record

    def delete_object(self, bucket: str, key: str) -> bool:
        """Delete an object; return whether it existed.

        Raises:
            NoSuchBucket.
        """
        state = self._bucket(bucket)
        with self._stripe_lock(bucket, key):
            record = state.objects.get(key)
            if record is None:
                return False
            self._store.delete_object(bucket, record)
            self._index_remove(state, key)
        return True

    def list_objects(
        self, bucket: str, *, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> ListPage:
        """List one page of a bucket (see :func:`simulator.oss.listing.list_page`).

        Raises:
            NoSuchBucket.
        """
        state = self._bucket(bucket)
        with self._index:
            return list_page(
                state.keys,
                state.objects,
                prefix=prefix,
                delimiter=delimiter,
                after=after,
                max_keys=max_keys,
            )

    # ---- lifecycle ------------------------------------------------------------------------

    def sweep(self, now: float) -> int:
        """Delete every object an enabled lifecycle rule has expired at ``now``.

        The server calls this periodically with its (possibly accelerated) clock.

        Returns:
            How many objects were deleted.
        """
        doomed: list[tuple[str, str, int]] = []
        with self._index:
            for name, state in self._buckets.items():
                for rule in state.record.lifecycle or ():
                    if not rule.enabled:
                        continue
                    i = bisect_left(state.keys, rule.prefix)
                    while i < len(state.keys) and state.keys[i].startswith(rule.prefix):
                        record = state.objects[state.keys[i]]
                        if rule.expired(record.mtime, now):
                            doomed.append((name, record.key, record.mtime))
                        i += 1
        deleted = 0
        for name, key, mtime in dict.fromkeys(doomed):
            state_or_none = self._buckets.get(name)
            if state_or_none is None:
                continue
            with self._stripe_lock(name, key):
                found = state_or_none.objects.get(key)
                # Skip objects rewritten since they were found expired.
                if found is None or found.mtime != mtime:
                    continue
                self._store.delete_object(name, found)
                self._index_remove(state_or_none, key)
                deleted += 1
        return deleted
