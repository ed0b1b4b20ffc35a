"""OSS error answers and transport failures as ``device`` exceptions, as the oss2 client has them.

An error answer carries an XML document (``<Error><Code>…</Code><Message>…</Message>…``);
a HEAD answer has no body, so OSS sends the document base64-encoded in ``x-oss-err``. The
``(status, Code)`` pair is classified by :func:`device.store.server_error`, the function the
oss2 client's conversion uses, so both clients raise the same exception for the same answer:

- 409 ``PositionNotEqualToLength`` → ``PositionMismatch`` with ``x-oss-next-append-position``;
- 5xx, 429 and throttling codes → ``TransientStorageError`` (outcome unknown);
- 403 with a credentials code → ``AuthError`` (a fresh set may help), other 403 →
  ``AccessDenied``; 404 → ``ObjectNotFound``; and so on.

Every transport failure (refused, reset, timed out, cut short) is a
``TransientStorageError`` with code ``transport``: the request may have been applied.
"""

from __future__ import annotations

import base64
import binascii
import re

from device.errors import PositionMismatch, StorageError, TransientStorageError
from device.store import server_error

from .connection import Response

__all__ = ["REQUEST_ID_HEADER", "error_details", "from_answer", "from_transport"]

REQUEST_ID_HEADER = "x-oss-request-id"
_NEXT_POSITION_HEADER = "x-oss-next-append-position"


def _guess_details(document: bytes) -> dict[str, str]:
    # What oss2 does with a document that is not well-formed XML.
    text = document.decode("utf-8", "replace")
    if "<Error>" not in text or "</Error>" not in text:
        return {}
    details = {}
    for name in ("Code", "Message", "RequestId"):
        match = re.search(f"<{name}>(.*)</{name}>", text)
        if match:
            details[name] = match.group(1)
    return details


def error_details(answer: Response) -> dict[str, str]:
    """The child elements of the answer's ``<Error>`` document (empty when there is none)."""
    document = answer.body
    if not document and "x-oss-err" in answer.headers:
        try:
            document = base64.b64decode(answer.headers["x-oss-err"])
        except (binascii.Error, ValueError):
            return {}
    if not document:
        return {}
    # Imported here: a camera that never sees an error answer never holds the XML parser
    # (about 0.4 MB resident).
    from xml.etree import ElementTree

    try:
        # The document comes from the configured store over the connection that carries the
        # data itself; expat refuses entity expansion attacks.
        root = ElementTree.fromstring(document)  # noqa: S314
    except ElementTree.ParseError:
        return _guess_details(document)
    if root.tag != "Error":
        return {}
    return {child.tag: child.text or "" for child in root}


def from_answer(answer: Response, *, key: str, position: int | None = None) -> StorageError:
    """Convert a non-2xx answer to the ``StorageError`` the oss2 client raises for it.

    Args:
        answer: the error answer.
        key: the object key of the request.
        position: the append position or read offset of the request.
    """
    details = error_details(answer)
    code = details.get("Code", "")
    request_id = answer.headers.get(REQUEST_ID_HEADER) or None
    if answer.status == 409 and code == "PositionNotEqualToLength":
        try:
            next_position = int(answer.headers[_NEXT_POSITION_HEADER])
        except (KeyError, ValueError):
            return TransientStorageError(
                "PositionNotEqualToLength answer lacks x-oss-next-append-position",
                code="bad_response",
                object_key=key,
                position=position,
                request_id=request_id,
            )
        return PositionMismatch(
            "append position does not match the object length",
            next_position=next_position,
            object_key=key,
            position=position,
            request_id=request_id,
        )
    return server_error(
        answer.status,
        code,
        details.get("Message", ""),
        request_id=request_id,
        key=key,
        position=position,
    )


def from_transport(exc: BaseException, *, key: str, position: int | None = None) -> StorageError:
    """Convert a failed exchange: the outcome is unknown, the error transient."""
    return TransientStorageError(
        f"transport error: {type(exc).__name__}",
        code="transport",
        object_key=key,
        position=position,
    )
