"""The core of the OSS model: bucket and key indexes, per-key locks, reading records.

Every mutation of one object key runs under that key's lock (a fixed set of striped locks), so
a check and the write it guards are atomic. A second, short-held lock guards the bucket and
key indexes. Lock order: key stripe(s) first, then the index lock. The store is called while
the key stripe is held, never under the index lock. :class:`~simulator.oss.models.OssModel`
builds its operations on this class.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from contextlib import ExitStack
from dataclasses import dataclass, field

from simulator.oss.errors import NoSuchBucket, NoSuchKey, SymlinkTargetNotExist
from simulator.oss.records import BucketRecord, ObjectRecord
from simulator.oss.storage import ObjectStore
from simulator.oss.uploads import Uploads

_STRIPES = 256


@dataclass(slots=True)
class BucketState:
    """One bucket: its record and its objects, with the keys kept sorted."""

    record: BucketRecord
    objects: dict[str, ObjectRecord] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)


class ObjectIndex:
    """Buckets, objects and multipart uploads as loaded from a store, and their locks.

    Args:
        store: where bytes (and, when durable, records) are kept; loaded on construction.
        max_append_object_size: the largest size an appendable object may reach.

    Attributes:
        uploads: the multipart uploads in progress.
    """

    def __init__(self, store: ObjectStore, *, max_append_object_size: int) -> None:
        self._store = store
        self._max_append = max_append_object_size
        self._index = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._buckets: dict[str, BucketState] = {}
        for bucket, objects in store.load():
            state = BucketState(bucket, {o.key: o for o in objects})
            state.keys = sorted(state.objects)
            self._buckets[bucket.name] = state
        self.uploads = Uploads(store)

    @property
    def store(self) -> ObjectStore:
        """The store behind this model."""
        return self._store

    def head_object(self, bucket: str, key: str) -> ObjectRecord:
        """Return an object's record.

        Raises:
            NoSuchBucket, NoSuchKey.
        """
        record = self._bucket(bucket).objects.get(key)
        if record is None:
            raise NoSuchKey(key)
        return record

    def follow(self, bucket: str, record: ObjectRecord) -> ObjectRecord:
        """The object a record stands for: itself, or a symlink's target (one step).

        Raises:
            SymlinkTargetNotExist: the symlink's target is gone.
        """
        if record.symlink_target is None:
            return record
        target = self._bucket(bucket).objects.get(record.symlink_target)
        if target is None or target.symlink_target is not None:
            raise SymlinkTargetNotExist(record.key, record.symlink_target)
        return target

    def _bucket(self, name: str) -> BucketState:
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        return state

    def _stripe_lock(self, bucket: str, key: str) -> threading.Lock:
        return self._stripes[hash((bucket, key)) % _STRIPES]

    def _locked_pair(self, a: tuple[str, str], b: tuple[str, str]) -> ExitStack:
        # A fixed order (and one acquisition when both share a stripe) so copies cannot deadlock.
        stack = ExitStack()
        locks = {id(lock): lock for lock in (self._stripe_lock(*a), self._stripe_lock(*b))}
        for _, lock in sorted(locks.items()):
            stack.enter_context(lock)
        return stack

    def _index_put(self, state: BucketState, record: ObjectRecord) -> None:
        with self._index:
            if record.key not in state.objects:
                insort(state.keys, record.key)
            state.objects[record.key] = record

    def _index_remove(self, state: BucketState, key: str) -> None:
        with self._index:
            if state.objects.pop(key, None) is not None:
                i = bisect_left(state.keys, key)
                if i < len(state.keys) and state.keys[i] == key:
                    del state.keys[i]
