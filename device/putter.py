"""Whole-object puts with bounded, jittered retries (HLS segments and playlists).

A put stores fixed bytes under a fixed key. A rewritable object (a live playlist) simply
replaces what was there, so when the outcome of an attempt is unknown (a transport error,
a 5xx, a lost response) the same put is sent again. Every other put forbids overwriting
(``x-oss-forbid-overwrite: true``), so camera credentials can never replace a recording;
when such a put is refused because the key exists (a repeat of a put that landed, after a
lost answer or a crash), a HEAD decides: the same length and CRC-64 as the bytes being put
means it is stored, anything else is a different object and :class:`ObjectExists`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from device.crc64 import crc64
from device.errors import AuthError, ObjectExists, TransientStorageError
from device.settings import AppendRetrySettings
from device.store import ObjectStore, PutResult

__all__ = ["put_object"]

log = logging.getLogger(__name__)


class _RefreshedCredentials(Exception):
    """Internal: credentials were just refreshed after an auth error; try once more."""


def put_object(
    store: ObjectStore,
    key: str,
    data: bytes,
    content_type: str | None,
    *,
    retry: AppendRetrySettings,
    sleep: Callable[[float], None],
    refresh_credentials: Callable[[], None] | None = None,
    forbid_overwrite: bool = True,
) -> PutResult:
    """Store a whole object, retrying transient failures.

    Args:
        store: the object store.
        key: the full object key.
        data: the object's bytes.
        content_type: its ``Content-Type`` (``None``: the store's default).
        retry: attempts and backoff windows (the same strategy as appends).
        sleep: the injected sleep used between attempts.
        refresh_credentials: called once after the store rejects the credentials; it must
            return only when fresh credentials are in place.
        forbid_overwrite: refuse to replace an existing object (all but live playlists).

    Returns:
        The store's answer.

    Raises:
        TransientStorageError: attempts ran out; the object may or may not be stored, and
            putting it again later is safe.
        ObjectExists: ``forbid_overwrite`` and the key holds other bytes.
        AuthError, AccessDenied, StorageError: not retried.
    """
    # The same bounded full-jitter strategy as appends (device.appender.store_retrying).
    retrying = Retrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_random_exponential(multiplier=retry.initial_s, max=retry.max_s),
        retry=retry_if_exception_type((TransientStorageError, _RefreshedCredentials)),
        sleep=sleep,
        reraise=True,
    )
    refreshed = False
    for attempt in retrying:
        with attempt:
            try:
                return store.put(
                    key, data, content_type=content_type, forbid_overwrite=forbid_overwrite
                )
            except ObjectExists:
                return _already_stored(store, key, data)
            except AuthError:
                if refreshed or refresh_credentials is None:
                    raise
                refreshed = True
                log.info("store rejected credentials for %s; refreshing once", key)
                refresh_credentials()
                raise _RefreshedCredentials() from None
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _already_stored(store: ObjectStore, key: str, data: bytes) -> PutResult:
    info = store.head(key)
    if info is not None and info.size == len(data) and info.crc64 == crc64(data):
        log.info("%s was already stored (an earlier attempt landed)", key)
        return PutResult(info.crc64, info.etag, info.request_id)
    raise ObjectExists(f"{key} holds another object; not overwritten", object_key=key)
