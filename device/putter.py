"""Whole-object puts with bounded, jittered retries (HLS segments and playlists).

A put stores fixed bytes under a fixed key and replaces whatever was there, so unlike an
append it needs no reconciliation: when the outcome of an attempt is unknown (a transport
error, a 5xx, a lost response), sending the same put again stores the same object again.
Nothing else writes these keys, so the repeat cannot overwrite anybody's newer data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from device.errors import AuthError, TransientStorageError
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
    content_type: str,
    *,
    retry: AppendRetrySettings,
    sleep: Callable[[float], None],
    refresh_credentials: Callable[[], None] | None = None,
) -> PutResult:
    """Store a whole object, retrying transient failures.

    Args:
        store: the object store.
        key: the full object key.
        data: the object's bytes.
        content_type: its ``Content-Type``.
        retry: attempts and backoff windows (the same strategy as appends).
        sleep: the injected sleep used between attempts.
        refresh_credentials: called once after the store rejects the credentials; it must
            return only when fresh credentials are in place.

    Returns:
        The store's answer.

    Raises:
        TransientStorageError: attempts ran out; the object may or may not be stored, and
            putting it again later is safe.
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
                return store.put(key, data, content_type=content_type)
            except AuthError:
                if refreshed or refresh_credentials is None:
                    raise
                refreshed = True
                log.info("store rejected credentials for %s; refreshing once", key)
                refresh_credentials()
                raise _RefreshedCredentials() from None
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
