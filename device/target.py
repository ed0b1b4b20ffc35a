"""Where the uploader writes: an object store plus the key prefix it may use.

:class:`GrantTarget` builds the store from the credential client's grant (endpoint,
bucket, prefix), with the oss2 client or the stdlib one (:mod:`device.osshttp`), and signs
every request with the current credentials;
:class:`StaticTarget` wraps a ready store and prefix (tools and tests that hold their own
credentials).
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Literal, Protocol

from device.credentials import CredentialClient, Lease
from device.errors import ConfigError
from device.store import ObjectStore, OssObjectStore

__all__ = ["GrantTarget", "StaticTarget", "UploadTarget"]


class UploadTarget(Protocol):
    """The uploader's view of the destination."""

    def open(self) -> tuple[ObjectStore, str]:
        """Return the store and the key prefix to write under (blocks for credentials).

        Raises:
            CredentialError: no credentials could be obtained.
        """
        ...

    def refresh_after_auth_error(self) -> None:
        """Get new credentials after the store rejected the current ones."""
        ...

    def expires_at_ms(self) -> int | None:
        """Expiry of the credentials in use, if any."""
        ...


class GrantTarget:
    """Store and prefix from the credential client's current grant.

    Args:
        credentials: the credential client.
        timeout_s: HTTP timeout of one store request.
        credentials_timeout_s: how long ``open`` waits for credentials.
        client: ``"oss2"`` (:class:`~device.store.OssObjectStore`) or ``"http"``
            (:class:`~device.osshttp.HttpObjectStore`, which never imports oss2).

    Raises:
        ConfigError: ``client`` is ``"oss2"`` and oss2 is not installed.
    """

    def __init__(
        self,
        credentials: CredentialClient,
        *,
        timeout_s: float = 30.0,
        credentials_timeout_s: float | None = None,
        client: Literal["oss2", "http"] = "oss2",
    ) -> None:
        if client == "oss2" and importlib.util.find_spec("oss2") is None:
            # Found now, at start-up, not at the first upload in a worker thread.
            raise ConfigError(
                '[oss] client = "oss2" needs the oss2 package, which is not installed here; '
                'use client = "http" (the camera bundle installs only that client)'
            )
        self._credentials = credentials
        self._client = client
        self._timeout_s = timeout_s
        self._credentials_timeout_s = credentials_timeout_s
        self._lock = threading.Lock()
        self._store: ObjectStore | None = None
        self._where: tuple[str, str] | None = None
        self._lease_used: Lease | None = None

    def open(self) -> tuple[ObjectStore, str]:
        """See :meth:`UploadTarget.open`."""
        lease = self._credentials.get(self._credentials_timeout_s)
        where = (lease.grant.endpoint, lease.grant.bucket)
        with self._lock:
            if self._store is None or self._where != where:
                self._store = self._build(*where)
                self._where = where
            self._lease_used = lease
            return self._store, lease.grant.prefix

    @property
    def store(self) -> ObjectStore | None:
        """The store built for the current grant (``None`` before the first ``open``)."""
        return self._store

    def _build(self, endpoint: str, bucket: str) -> ObjectStore:
        if self._client == "http":
            from device.osshttp import HttpObjectStore  # only this client's modules

            return HttpObjectStore(
                self._credentials.http_signer(self._credentials_timeout_s),
                endpoint,
                bucket,
                timeout_s=self._timeout_s,
            )
        return OssObjectStore(
            self._credentials.oss_auth(self._credentials_timeout_s),
            endpoint,
            bucket,
            timeout_s=self._timeout_s,
        )

    def refresh_after_auth_error(self) -> None:
        """See :meth:`UploadTarget.refresh_after_auth_error`."""
        self._credentials.force_refresh(self._lease_used, self._credentials_timeout_s)

    def expires_at_ms(self) -> int | None:
        """See :meth:`UploadTarget.expires_at_ms`."""
        lease = self._credentials.current
        return lease.expires_at_ms if lease is not None else None


class StaticTarget:
    """A fixed store and prefix.

    Args:
        store: the store.
        prefix: the key prefix (ending in ``/``).
    """

    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self._store = store
        self._prefix = prefix

    def open(self) -> tuple[ObjectStore, str]:
        """See :meth:`UploadTarget.open`."""
        return self._store, self._prefix

    def refresh_after_auth_error(self) -> None:
        """Nothing to refresh."""

    def expires_at_ms(self) -> int | None:
        """Static credentials do not expire."""
        return None
