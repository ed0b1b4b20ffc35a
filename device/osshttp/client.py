"""``HttpObjectStore``: the ``ObjectStore`` protocol over ``http.client``, without oss2.

Requests are the ones oss2 sends for the same calls (append ``POST ?append=&position=N``,
``PUT``, ``HEAD``, ranged ``GET``, ``DELETE``), signed the same way (signature V1 with the
device clock, ``x-oss-security-token`` for STS), with the Content-Type oss2 would guess from
the key. Answers become the same values and the same ``device`` exceptions; after a put the
CRC-64 the store reports is checked against the data, as oss2 does.

Use it on cameras short of memory: it leaves out oss2, ``requests`` and the Alibaba SDK that
oss2 imports (``[oss] client = "http"`` in ``camera.toml``). It does not retry; the appender
and the uploader decide about retries, as they do with the oss2 client.
"""

from __future__ import annotations

import mimetypes
import os.path
from email.utils import parsedate_to_datetime

from device.crc64 import crc64
from device.errors import IntegrityError, ObjectNotFound, TransientStorageError
from device.store import AppendResult, ObjectInfo, PutResult, put_headers

from .addressing import Address
from .connection import TRANSPORT_ERRORS, ConnectionFactory, ConnectionPool, Response
from .errors import REQUEST_ID_HEADER, from_answer, from_transport
from .signing import RequestSigner

__all__ = ["HttpObjectStore"]

_USER_AGENT = "ossmedia-camera"
_CRC_HEADER = "x-oss-hash-crc64ecma"
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "HTTP404"})
# oss2's additions to the mimetypes table (``oss2.utils._EXTRA_TYPES_MAP``).
_EXTRA_TYPES = {
    ".js": "application/javascript",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xltx": "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
    ".potx": "application/vnd.openxmlformats-officedocument.presentationml.template",
    ".ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".sldx": "application/vnd.openxmlformats-officedocument.presentationml.slide",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".dotx": "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    ".xlam": "application/vnd.ms-excel.addin.macroEnabled.12",
    ".xlsb": "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    ".apk": "application/vnd.android.package-archive",
}


def _guessed_type(key: str) -> str | None:
    extension = os.path.splitext(key)[1].lower()
    return _EXTRA_TYPES.get(extension) or mimetypes.guess_type(key)[0]


def _optional_int(value: str | None) -> int | None:
    """A decimal header value; a missing or garbled one counts as absent."""
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _unquoted(etag: str) -> str:
    return etag[1:-1] if len(etag) >= 2 and etag[0] == etag[-1] == '"' else etag


def _unix_time(http_date: str | None) -> int:
    if not http_date:
        return 0
    try:
        return int(parsedate_to_datetime(http_date).timestamp())
    except (TypeError, ValueError):
        return 0


class HttpObjectStore:
    """``ObjectStore`` over the standard library's HTTP client.

    Args:
        signer: signs each request with the current credentials and the device clock.
        endpoint: the OSS endpoint (``http://127.0.0.1:9000`` or ``https://oss-…``).
        bucket: the bucket name.
        timeout_s: connect timeout, and the longest wait for any read or write.
        connection_factory: builds connections (``http.client.HTTPConnection`` or
            ``HTTPSConnection`` by scheme when ``None``).
    """

    def __init__(
        self,
        signer: RequestSigner,
        endpoint: str,
        bucket: str,
        *,
        timeout_s: float = 30.0,
        connection_factory: ConnectionFactory | None = None,
    ) -> None:
        self._signer = signer
        self._address = Address.of(endpoint, bucket)
        self._pool = ConnectionPool(
            self._address.scheme,
            self._address.connect_host(),
            self._address.port,
            timeout_s=timeout_s,
            factory=connection_factory,
        )
        self.endpoint = endpoint
        self.bucket_name = bucket

    @property
    def connections_opened(self) -> int:
        """Connections opened so far; fewer than requests sent when keep-alive works."""
        return self._pool.opened

    def close(self) -> None:
        """Close idle connections (later requests open new ones)."""
        self._pool.close()

    def append(self, key: str, position: int, data: bytes) -> AppendResult:
        """See :meth:`device.store.ObjectStore.append`."""
        params = {"append": "", "position": str(position)}
        headers = self._content_type({}, key)
        answer = self._send("POST", key, params, headers, data, position=position)
        request_id = answer.headers.get(REQUEST_ID_HEADER, "")
        next_position = _optional_int(answer.headers.get("x-oss-next-append-position"))
        if next_position is None:
            raise TransientStorageError(
                "append answer lacks x-oss-next-append-position",
                code="bad_response",
                object_key=key,
                position=position,
                request_id=request_id,
            )
        crc = _optional_int(answer.headers.get(_CRC_HEADER))
        return AppendResult(next_position, crc, request_id)

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        forbid_overwrite: bool = False,
    ) -> PutResult:
        """See :meth:`device.store.ObjectStore.put`."""
        sent = put_headers(content_type, forbid_overwrite=forbid_overwrite) or {}
        headers = {name.lower(): value for name, value in sent.items()}
        answer = self._send("PUT", key, {}, self._content_type(headers, key), data)
        request_id = answer.headers.get(REQUEST_ID_HEADER, "")
        crc = _optional_int(answer.headers.get(_CRC_HEADER))
        if crc is not None and crc != crc64(data):
            raise IntegrityError(
                "CRC-64 of the transferred data differs from the store's",
                object_key=key,
                request_id=request_id or None,
            )
        return PutResult(crc, _unquoted(answer.headers.get("etag", "")), request_id)

    def head(self, key: str) -> ObjectInfo | None:
        """See :meth:`device.store.ObjectStore.head`."""
        try:
            answer = self._send("HEAD", key, {}, {}, None)
        except ObjectNotFound as exc:
            # As oss2's head_object: a missing key (or a bare 404) is "no object"; a missing
            # bucket, or any other 404 code, is an error.
            if exc.code in _MISSING_OBJECT_CODES:
                return None
            raise
        headers = answer.headers
        return ObjectInfo(
            key=key,
            size=_optional_int(headers.get("content-length")) or 0,
            crc64=_optional_int(headers.get(_CRC_HEADER)),
            object_type=headers.get("x-oss-object-type") or "Normal",
            etag=_unquoted(headers.get("etag", "")),
            last_modified=_unix_time(headers.get("last-modified")),
            content_type=headers.get("content-type", ""),
            request_id=headers.get(REQUEST_ID_HEADER, ""),
        )

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """See :meth:`device.store.ObjectStore.get`.

        OSS ignores an unsatisfiable range and sends the whole object, so callers should
        clamp ranges to the object size first (``MediaFile.read`` does).
        """
        if end is not None and end <= start:
            return b""
        headers = {}
        if start > 0 or end is not None:
            headers["range"] = f"bytes={start}-{'' if end is None else end - 1}"
        return self._send("GET", key, {}, headers, None, position=start).body

    def delete(self, key: str) -> None:
        """See :meth:`device.store.ObjectStore.delete`."""
        self._send("DELETE", key, {}, {}, None)

    def _content_type(self, headers: dict[str, str], key: str) -> dict[str, str]:
        if "content-type" not in headers:
            guessed = _guessed_type(key)
            if guessed:
                headers["content-type"] = guessed
        return headers

    def _send(
        self,
        method: str,
        key: str,
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes | None,
        *,
        position: int | None = None,
    ) -> Response:
        headers["user-agent"] = _USER_AGENT
        self._signer.sign(method, self._address.bucket, key, params, headers)
        query = "&".join(f"{name}={value}" for name, value in params.items())
        headers["host"] = self._address.host_header
        try:
            answer = self._pool.request(method, self._address.target(key, query), headers, body)
        except TRANSPORT_ERRORS as exc:
            raise from_transport(exc, key=key, position=position) from None
        if answer.status // 100 != 2:
            raise from_answer(answer, key=key, position=position)
        return answer
