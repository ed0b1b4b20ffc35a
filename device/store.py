"""The object store seam: a small ``ObjectStore`` protocol and its oss2 implementation.

Everything above this module (``MediaFile``, the uploader) talks to :class:`ObjectStore`,
which speaks in plain values and :mod:`device.errors` exceptions. :class:`OssObjectStore`
is the only place in the device package that calls ``oss2`` for object operations, and
:func:`convert_oss_error` is the one boundary where ``oss2`` and transport exceptions become
``DeviceError`` subclasses. :func:`server_error` decides which ``StorageError`` an OSS error
answer (status and code) becomes; the stdlib client in :mod:`device.osshttp` uses it too, so
both clients raise the same exception for the same answer.

``oss2`` (with ``requests`` and the Alibaba SDK it pulls in, about 37 MB resident) is imported
only when an :class:`OssObjectStore` is built: a camera configured with the stdlib client
never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from device.errors import (
    AccessDenied,
    AuthError,
    DeviceError,
    IntegrityError,
    ObjectExists,
    ObjectNotAppendable,
    ObjectNotFound,
    ObjectTooLarge,
    PositionMismatch,
    StorageError,
    TransientStorageError,
)

if TYPE_CHECKING:
    import oss2.exceptions

__all__ = [
    "AppendResult",
    "ObjectInfo",
    "ObjectStore",
    "OssObjectStore",
    "PutResult",
    "convert_oss_error",
    "put_headers",
    "rewritable",
    "server_error",
]


@dataclass(frozen=True)
class AppendResult:
    """What the store answered to an append.

    Attributes:
        next_position: the object's length after the append.
        crc64: the CRC-64 of the whole object after the append, if the store sent it.
        request_id: the store's request id.
    """

    next_position: int
    crc64: int | None
    request_id: str


@dataclass(frozen=True)
class PutResult:
    """What the store answered to a put.

    Attributes:
        crc64: the CRC-64 of the stored object, if the store sent it.
        etag: the object's ETag.
        request_id: the store's request id.
    """

    crc64: int | None
    etag: str
    request_id: str


@dataclass(frozen=True)
class ObjectInfo:
    """An object's metadata (from HEAD).

    Attributes:
        key: the object key.
        size: length in bytes.
        crc64: CRC-64 of the whole object, if the store sent it.
        object_type: ``Appendable``, ``Normal``, ``Multipart`` or ``Symlink``.
        etag: the object's ETag.
        last_modified: last modification, seconds since the epoch.
        content_type: the stored Content-Type.
        request_id: the store's request id.
    """

    key: str
    size: int
    crc64: int | None
    object_type: str
    etag: str
    last_modified: int
    content_type: str
    request_id: str

    @property
    def appendable(self) -> bool:
        """Whether appends are allowed on this object."""
        return self.object_type.lower() == "appendable"


@runtime_checkable
class ObjectStore(Protocol):
    """Object operations the device needs. All failures are ``StorageError`` subclasses."""

    def append(self, key: str, position: int, data: bytes) -> AppendResult:
        """Append ``data`` at ``position`` (creating an appendable object at 0).

        Raises:
            PositionMismatch: the object's length is not ``position``.
            ObjectNotAppendable: the object exists and is not appendable.
            TransientStorageError: the outcome is unknown (transport error, 5xx, throttling).
        """
        ...

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        forbid_overwrite: bool = False,
    ) -> PutResult:
        """Store ``data`` as a whole (normal) object.

        Repeating a put with the same key and bytes stores the same object again, so a put
        whose answer was lost is simply sent again (with ``forbid_overwrite``, the repeat is
        refused and :func:`device.putter.put_object` checks the stored bytes instead).

        Args:
            key: the object key.
            data: the whole object.
            content_type: its ``Content-Type`` (the store's default when ``None``).
            forbid_overwrite: send ``x-oss-forbid-overwrite: true``: the store refuses the
                put if the key exists, instead of replacing the object.

        Raises:
            ObjectExists: ``forbid_overwrite`` and the key exists.
            TransientStorageError: the outcome is unknown (transport error, 5xx, throttling).
            AuthError, AccessDenied: the credentials or the grant do not allow the put.
        """
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """Return the object's metadata, or ``None`` when it does not exist."""
        ...

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Return bytes ``[start, end)`` of the object (to its end when ``end`` is None)."""
        ...

    def delete(self, key: str) -> None:
        """Delete the object (succeeds when it does not exist)."""
        ...


# 403 codes that mean "these credentials are not (or no longer) good": a fresh set may fix
# them. A plain AccessDenied is the policy speaking and a refresh does not help.
_AUTH_CODES = frozenset(
    {
        "SecurityTokenExpired",
        "InvalidSecurityToken",
        "InvalidAccessKeyId",
        "AccessKeyIdAndSecurityTokenNotMatch",
        "SignatureDoesNotMatch",
        "RequestTimeTooSkewed",
    }
)
_THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "TooManyRequests", "RequestTimeout"})
_TOO_LARGE_CODES = frozenset({"ObjectSizeTooLarge", "ObjectTooLarge", "InvalidObjectSize"})


def convert_oss_error(
    exc: BaseException, *, key: str | None = None, position: int | None = None
) -> DeviceError:
    """Convert an ``oss2`` or transport exception into a ``DeviceError``.

    Args:
        exc: the exception raised by oss2 (or by reading a response body).
        key: the object key of the failed request.
        position: the append position or read offset of the failed request.

    Returns:
        The matching ``StorageError`` subclass, carrying code, key, position, request id.
    """
    import oss2.exceptions  # already loaded: only oss2 raises what lands here

    if isinstance(exc, DeviceError):
        return exc
    if isinstance(exc, oss2.exceptions.PositionNotEqualToLength):
        return PositionMismatch(
            "append position does not match the object length",
            next_position=int(exc.next_position),
            object_key=key,
            position=position,
            request_id=exc.request_id or None,
        )
    if isinstance(exc, oss2.exceptions.InconsistentError):
        return IntegrityError(
            "CRC-64 of the transferred data differs from the store's",
            object_key=key,
            position=position,
            request_id=exc.request_id or None,
        )
    if isinstance(exc, oss2.exceptions.RequestError):
        # The request may have reached the store and been applied: callers treat this as
        # "outcome unknown", never as "not applied".
        return TransientStorageError(
            f"transport error: {type(exc.exception).__name__}",
            code="transport",
            object_key=key,
            position=position,
        )
    if isinstance(exc, oss2.exceptions.ClientError):
        return StorageError(
            f"client error: {exc.body!r}", code="client", object_key=key, position=position
        )
    if isinstance(exc, oss2.exceptions.OssError):
        return _from_server_error(exc, key=key, position=position)
    if isinstance(exc, OSError):  # requests' exceptions are OSErrors, raised while streaming
        return TransientStorageError(
            f"transport error: {type(exc).__name__}",
            code="transport",
            object_key=key,
            position=position,
        )
    return StorageError(
        f"unexpected error: {type(exc).__name__}", code="unexpected", object_key=key
    )


def _from_server_error(
    exc: oss2.exceptions.OssError, *, key: str | None, position: int | None
) -> StorageError:
    return server_error(
        int(exc.status),
        str(exc.code or ""),
        str(exc.message or ""),
        request_id=exc.request_id or None,
        key=key,
        position=position,
    )


def server_error(
    status: int,
    code: str,
    message: str,
    *,
    request_id: str | None,
    key: str | None,
    position: int | None,
) -> StorageError:
    """Classify an OSS error answer (other than ``PositionNotEqualToLength``).

    Args:
        status: the HTTP status.
        code: the ``Code`` of the error document; empty when the answer had none.
        message: its ``Message``; empty when none.
        request_id: the ``x-oss-request-id`` (``None`` when absent).
        key: the object key of the failed request.
        position: the append position or read offset of the failed request.

    Returns:
        ``TransientStorageError`` for 5xx, 429 and throttling codes, ``AuthError`` for a 403
        that fresh credentials may fix, ``AccessDenied`` for other 403s, ``ObjectNotFound``
        for 404, ``ObjectTooLarge`` / ``ObjectNotAppendable`` by code, else ``StorageError``.
    """
    code = code or f"HTTP{status}"
    context: dict[str, Any] = {
        "code": code,
        "object_key": key,
        "position": position,
        "request_id": request_id,
    }
    message = message or code
    if code in _TOO_LARGE_CODES:
        return ObjectTooLarge(message, **context)
    if status >= 500 or status == 429 or code in _THROTTLE_CODES:
        return TransientStorageError(message, **context)
    if status == 403:
        if code in _AUTH_CODES:
            return AuthError(message, **context)
        return AccessDenied(message, **context)
    if status == 404:
        return ObjectNotFound(message, **context)
    if code == "ObjectNotAppendable":
        return ObjectNotAppendable(message, **context)
    if code == "FileAlreadyExists":
        return ObjectExists(message, **context)
    return StorageError(message, **context)


# Playlists are rewritten in place; a CDN in front of the bucket must not keep serving an
# old version, so they are marked no-cache.
_REWRITTEN_TYPES = frozenset({"application/vnd.apple.mpegurl", "application/x-mpegurl"})


def rewritable(content_type: str) -> bool:
    """Whether objects of ``content_type`` are rewritten in place (live playlists).

    Every other put a camera makes forbids overwriting: it only ever creates objects.
    """
    return content_type.lower() in _REWRITTEN_TYPES


def put_headers(
    content_type: str | None, *, forbid_overwrite: bool = False
) -> dict[str, str] | None:
    """The headers a put sends (``None``: only the client's defaults)."""
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
        if rewritable(content_type):
            headers["Cache-Control"] = "no-cache"
    if forbid_overwrite:
        headers["x-oss-forbid-overwrite"] = "true"
    return headers or None


class OssObjectStore:
    """``ObjectStore`` over an ``oss2.Bucket``.

    Args:
        auth: an oss2 auth object; for a camera, ``oss2.ProviderAuth`` over the credential
            client's provider, so every request is signed with the current credentials.
        endpoint: the OSS endpoint (``http://127.0.0.1:9000`` or ``https://oss-...``).
        bucket: the bucket name.
        timeout_s: connect and read timeout of one request.
    """

    def __init__(self, auth: Any, endpoint: str, bucket: str, *, timeout_s: float = 30.0) -> None:
        import oss2  # here, not at the top: see the module docstring

        # oss2 raises OssError subclasses; response bodies streamed through requests raise
        # its exceptions, which are OSErrors.
        self._errors: tuple[type[BaseException], ...] = (oss2.exceptions.OssError, OSError)
        self._not_found: type[BaseException] = oss2.exceptions.NotFound
        self._bucket = oss2.Bucket(
            auth, endpoint, bucket, connect_timeout=timeout_s, session=oss2.Session()
        )
        self.endpoint = endpoint
        self.bucket_name = bucket

    def append(self, key: str, position: int, data: bytes) -> AppendResult:
        """See :meth:`ObjectStore.append`."""
        try:
            result = self._bucket.append_object(key, position, data)
        except self._errors as exc:
            raise convert_oss_error(exc, key=key, position=position) from None
        if result.next_position is None:
            raise TransientStorageError(
                "append answer lacks x-oss-next-append-position",
                code="bad_response",
                object_key=key,
                position=position,
                request_id=result.request_id,
            )
        return AppendResult(int(result.next_position), result.crc, str(result.request_id))

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        forbid_overwrite: bool = False,
    ) -> PutResult:
        """See :meth:`ObjectStore.put`."""
        headers = put_headers(content_type, forbid_overwrite=forbid_overwrite)
        try:
            result = self._bucket.put_object(key, data, headers=headers)
        except self._errors as exc:
            raise convert_oss_error(exc, key=key) from None
        return PutResult(result.crc, str(result.etag), str(result.request_id))

    def head(self, key: str) -> ObjectInfo | None:
        """See :meth:`ObjectStore.head`."""
        try:
            result = self._bucket.head_object(key)
        except self._not_found as exc:
            if getattr(exc, "code", "") == "NoSuchBucket":
                raise convert_oss_error(exc, key=key) from None
            return None
        except self._errors as exc:
            raise convert_oss_error(exc, key=key) from None
        return ObjectInfo(
            key=key,
            size=int(result.content_length or 0),
            crc64=result.server_crc,
            object_type=str(result.object_type or "Normal"),
            etag=str(result.etag or ""),
            last_modified=int(result.last_modified or 0),
            content_type=str(result.content_type or ""),
            request_id=str(result.request_id),
        )

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """See :meth:`ObjectStore.get`.

        OSS ignores an unsatisfiable range and sends the whole object, so callers should
        clamp ranges to the object size first (``MediaFile.read`` does).
        """
        if end is not None and end <= start:
            return b""
        byte_range = None
        if start > 0 or end is not None:
            byte_range = (start, None if end is None else end - 1)
        try:
            result = self._bucket.get_object(key, byte_range=byte_range)
            return bytes(result.read())
        except self._errors as exc:
            raise convert_oss_error(exc, key=key, position=start) from None

    def delete(self, key: str) -> None:
        """See :meth:`ObjectStore.delete`."""
        try:
            self._bucket.delete_object(key)
        except self._errors as exc:
            raise convert_oss_error(exc, key=key) from None
