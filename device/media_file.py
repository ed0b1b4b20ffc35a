"""``MediaFile``: a file-like handle on one OSS object, with the C SDK's open modes.

=====  =======================================================================
mode   behaviour
=====  =======================================================================
``r``  read only. ``read``/``seek``/``tell`` work on byte ranges of the object.
``w``  write a whole (normal) object: ``write`` collects bytes, ``flush``/``close``
       put them as one object, replacing any previous content.
``a``  append: continue an appendable object at its end (create it if absent).
       Each ``write`` is one exactly-once append (see :mod:`device.appender`).
``aw`` append to a *fresh* object: like ``a`` but the key must not already hold data.
=====  =======================================================================

Why ``aw`` does not delete: a camera's credentials allow writing and reading under its
own prefix but never deleting, so "start over" cannot be "delete, then append". Instead
``aw`` refuses a key that already holds data (:class:`~device.errors.ObjectExists`); a
writer that wants a new object picks a new key, as the uploader does with its time-ordered
keys. An existing appendable object of length 0 counts as fresh.

``delete`` is offered for parity with the C SDK and works only where the credentials
allow it; with a camera's grant it raises :class:`~device.errors.AccessDenied`.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from types import TracebackType
from typing import Literal

from device.appender import Appender, AppendState, Outcome, store_retrying
from device.errors import (
    FileClosedError,
    ModeError,
    ObjectExists,
    ObjectNotAppendable,
    ObjectNotFound,
    StorageError,
)
from device.putter import put_object
from device.settings import AppendRetrySettings
from device.store import ObjectInfo, ObjectStore

__all__ = ["MediaFile", "Mode"]

Mode = Literal["r", "w", "a", "aw"]
_MODES: frozenset[str] = frozenset({"r", "w", "a", "aw"})


class MediaFile:
    """Open ``key`` in ``store`` with one of the modes ``r``, ``w``, ``a``, ``aw``.

    Opening in ``r``, ``a`` and ``aw`` reads the object's metadata (HEAD) unless ``resume``
    gives the committed state of an append.

    Args:
        store: the object store.
        key: the object key.
        mode: ``r``, ``w``, ``a`` or ``aw``.
        retry: bounded retry of each store call (appends, HEAD, GET).
        sleep: injected sleep used between retries.
        refresh_credentials: called once after the store rejects the credentials; must
            return when fresh credentials are in place.
        resume: for ``a``: the known committed (length, CRC-64); skips the HEAD. A wrong
            state is caught by the store's position check and reconciled, never appended
            over.

    Raises:
        ModeError: unknown mode, or ``resume`` given for a mode other than ``a``.
        ObjectNotFound: mode ``r`` and the object does not exist.
        ObjectNotAppendable: mode ``a``/``aw`` and the object is a normal object.
        ObjectExists: mode ``aw`` and the key already holds data.
        StorageError: any other store failure.
    """

    def __init__(
        self,
        store: ObjectStore,
        key: str,
        mode: Mode = "r",
        *,
        retry: AppendRetrySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        refresh_credentials: Callable[[], None] | None = None,
        resume: AppendState | None = None,
    ) -> None:
        if mode not in _MODES:
            raise ModeError(f"unknown mode {mode!r}; use r, w, a or aw", object_key=key)
        if resume is not None and mode != "a":
            raise ModeError("resume only applies to mode 'a'", object_key=key)
        self._store = store
        self.key = key
        self.mode: Mode = mode
        self._retry = retry or AppendRetrySettings()
        self._sleep = sleep
        self._closed = False
        self._pos = 0
        self._size = 0
        self._buffer = bytearray()
        self._appender: Appender | None = None
        if mode == "r":
            info = self._head()
            if info is None:
                raise ObjectNotFound("no such object", object_key=key)
            self._size = info.size
        elif mode in {"a", "aw"}:
            state = resume if resume is not None else self._open_for_append(mode)
            self._appender = Appender(
                store,
                key,
                state,
                retry=self._retry,
                sleep=sleep,
                refresh_credentials=refresh_credentials,
            )

    def _open_for_append(self, mode: Mode) -> AppendState:
        info = self._head()
        if info is None:
            return AppendState(0, 0)
        if not info.appendable:
            raise ObjectNotAppendable(
                f"object is {info.object_type}, not appendable", object_key=self.key
            )
        if mode == "aw" and info.size > 0:
            raise ObjectExists(
                "mode 'aw' needs a fresh key; this one holds data (use a new key)",
                object_key=self.key,
                position=info.size,
            )
        if info.crc64 is None:
            raise StorageError(
                "store did not report the object's CRC-64", code="no_crc", object_key=self.key
            )
        return AppendState(info.size, info.crc64)

    def _head(self) -> ObjectInfo | None:
        for attempt in store_retrying(self._retry, self._sleep):
            with attempt:
                return self._store.head(self.key)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, *allowed: str) -> None:
        if self._closed:
            raise FileClosedError("file is closed", object_key=self.key)
        if self.mode not in allowed:
            raise ModeError(
                f"not allowed in mode {self.mode!r} (needs {' or '.join(allowed)})",
                object_key=self.key,
            )

    # -- writing --------------------------------------------------------------------

    def write(self, data: bytes, *, crc64: int | None = None) -> int:
        """Write ``data``: buffer it (``w``) or append it exactly once (``a``, ``aw``).

        Args:
            data: the bytes to write.
            crc64: CRC-64 of ``data`` alone, if the caller already has it (saves hashing
                the bytes again). It must be right: the store's answer is checked against
                it, and a mismatch raises :class:`~device.errors.AppendDiverged`.

        Returns:
            The number of bytes written (always ``len(data)``).

        Raises:
            ModeError: the file is open for reading.
            StorageError: the append failed (see :meth:`device.appender.Appender.append`).
        """
        self._check("w", "a", "aw")
        if self.mode == "w":
            self._buffer += data
            return len(data)
        if self._appender is None:  # pragma: no cover - set for every append mode
            raise ModeError("no appender", object_key=self.key)
        self._appender.append(bytes(data), crc64)
        return len(data)

    def flush(self) -> None:
        """In mode ``w``, put the bytes written so far as the whole object; else nothing."""
        self._check("r", "w", "a", "aw")
        if self.mode == "w":
            # Never over an existing object (camera credentials must not replace an earlier
            # recording); a repeat of this file's own put is recognised by its CRC-64.
            put_object(
                self._store,
                self.key,
                bytes(self._buffer),
                None,
                retry=self._retry,
                sleep=self._sleep,
            )

    @property
    def state(self) -> AppendState:
        """In ``a``/``aw``: committed length and CRC-64 of the object."""
        if self._appender is None:
            raise ModeError("only append modes have an append state", object_key=self.key)
        return self._appender.state

    @property
    def reconciliations(self) -> dict[Outcome, int]:
        """In ``a``/``aw``: how often a HEAD found an unanswered append landed or not."""
        if self._appender is None:
            raise ModeError("only append modes reconcile", object_key=self.key)
        return dict(self._appender.reconciliations)

    # -- reading --------------------------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes from the current position (all remaining if negative).

        Raises:
            ModeError: the file is not open with ``r``.
        """
        self._check("r")
        end = self._size if size < 0 else min(self._size, self._pos + size)
        if end <= self._pos:
            return b""
        start = self._pos
        for attempt in store_retrying(self._retry, self._sleep):
            with attempt:
                data = self._store.get(self.key, start, end)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the read position, like ``io.IOBase.seek``; positions past the end are allowed.

        Raises:
            ModeError: the file is not open with ``r``, or the position would be negative.
        """
        self._check("r")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ModeError(f"bad whence {whence}", object_key=self.key)
        target = base + offset
        if target < 0:
            raise ModeError("negative seek position", object_key=self.key, position=target)
        self._pos = target
        return target

    def tell(self) -> int:
        """Return the read position (``r``), bytes written (``w``) or object length (``a``)."""
        self._check("r", "w", "a", "aw")
        if self.mode == "w":
            return len(self._buffer)
        if self._appender is not None:
            return self._appender.state.position
        return self._pos

    # -- object ---------------------------------------------------------------------

    def stat(self) -> ObjectInfo:
        """Return the object's metadata from the store (a fresh HEAD).

        Raises:
            ObjectNotFound: the object does not exist (yet).
        """
        if self._closed:
            raise FileClosedError("file is closed", object_key=self.key)
        info = self._head()
        if info is None:
            raise ObjectNotFound("no such object", object_key=self.key)
        if self.mode == "r":
            self._size = info.size
        return info

    def delete(self) -> None:
        """Delete the object and close the file; needs delete permission.

        Raises:
            AccessDenied: the credentials do not allow deleting (a camera's never do).
        """
        if self._closed:
            raise FileClosedError("file is closed", object_key=self.key)
        for attempt in store_retrying(self._retry, self._sleep):
            with attempt:
                self._store.delete(self.key)
        self._buffer.clear()
        self._closed = True

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        return self._closed

    def close(self) -> None:
        """Close the file; in mode ``w`` put the object first. Closing twice is harmless."""
        if self._closed:
            return
        if self.mode == "w":
            self.flush()
        self._closed = True

    def __enter__(self) -> MediaFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and self.mode == "w":
            # Do not publish a half-written object when the writer failed.
            self._closed = True
            return
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"MediaFile(key={self.key!r}, mode={self.mode!r}, {state})"
