"""Protocol v1 messages: models, parsing from wire bytes, encoding to wire bytes.

Every parser takes the raw MQTT payload, refuses it when over :data:`MAX_PAYLOAD_BYTES`
before decoding anything, parses it as hardened JSON (see :mod:`schemas.wirejson`) and
validates it strictly. Any input either yields a model or raises a
:class:`~schemas.errors.SchemaError` subclass; nothing else escapes.
"""

from __future__ import annotations

from pydantic import BaseModel

from schemas.errors import InvalidMessage
from schemas.events import HlsKey, SegmentClosed, SegmentOpened, Status, StatusAlert, StatusState
from schemas.requests import Access, CredsRequest
from schemas.responses import (
    REACTIONS,
    Credentials,
    CredsResponseError,
    CredsResponseOk,
    ErrorCode,
    ErrorInfo,
    Grant,
    Reaction,
    SealedPayload,
)
from schemas.wirejson import MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, dump, load_object

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_PAYLOAD_BYTES",
    "REACTIONS",
    "Access",
    "Credentials",
    "CredsRequest",
    "CredsResponseError",
    "CredsResponseOk",
    "ErrorCode",
    "ErrorInfo",
    "Grant",
    "HlsKey",
    "Reaction",
    "SealedPayload",
    "SegmentClosed",
    "SegmentOpened",
    "Status",
    "StatusAlert",
    "StatusState",
    "UnsupportedKind",
    "encode",
    "parse_event",
    "parse_request",
    "parse_response",
    "parse_sealed_payload",
    "parse_status",
]

EVENT_KINDS = frozenset({"segment.opened", "segment.closed", "hls.key"})


class UnsupportedKind(InvalidMessage):
    """A well-formed message of a kind this version does not know (e.g. a newer event).

    Attributes:
        kind: the kind found, truncated to 64 characters.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind[:64]
        super().__init__(f"unsupported message kind {self.kind!r}")


def parse_request(payload: bytes) -> CredsRequest:
    """Parse a credential request.

    Args:
        payload: the raw MQTT payload.

    Returns:
        The request (its signature is not checked here; see ``verify_request``).

    Raises:
        PayloadTooLarge: over the size limit.
        InvalidMessage: anything else wrong.
    """
    return CredsRequest.from_wire(load_object(payload))


def parse_response(payload: bytes) -> CredsResponseOk | CredsResponseError:
    """Parse a credential reply, success or error, chosen by its ``ok`` field.

    Raises:
        PayloadTooLarge: over the size limit.
        InvalidMessage: anything else wrong, including ``ok`` missing or not a boolean.
    """
    obj = load_object(payload)
    ok = obj.get("ok")
    if ok is True:
        return CredsResponseOk.from_wire(obj)
    if ok is False:
        return CredsResponseError.from_wire(obj)
    raise InvalidMessage("invalid creds.response: 'ok' must be true or false")


def parse_event(payload: bytes) -> SegmentOpened | SegmentClosed | HlsKey:
    """Parse a message from the events channel, chosen by its ``kind``.

    Returns:
        A ``segment.opened``, ``segment.closed`` or ``hls.key`` event (signatures are not checked here).

    Raises:
        PayloadTooLarge: over the size limit.
        UnsupportedKind: a string ``kind`` this version does not know.
        InvalidMessage: anything else wrong.
    """
    obj = load_object(payload)
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise InvalidMessage("invalid event: 'kind' must be a string")
    if kind not in EVENT_KINDS:
        raise UnsupportedKind(kind)
    if kind == "hls.key":
        return HlsKey.from_wire(obj)
    if kind == "segment.opened":
        return SegmentOpened.from_wire(obj)
    return SegmentClosed.from_wire(obj)


def parse_status(payload: bytes) -> Status:
    """Parse a status message (signed, or the unsigned ``offline`` last will).

    Raises:
        PayloadTooLarge: over the size limit.
        InvalidMessage: anything else wrong.
    """
    return Status.from_wire(load_object(payload))


def parse_sealed_payload(plaintext: bytes) -> SealedPayload:
    """Parse the plaintext of an opened success reply.

    Raises:
        PayloadTooLarge: over the size limit.
        InvalidMessage: anything else wrong.
    """
    return SealedPayload.from_wire(load_object(plaintext))


def encode(model: BaseModel) -> bytes:
    """Serialise a message as compact, deterministic UTF-8 JSON.

    Fields appear in declaration order, every field present (nullable ones as ``null``),
    no whitespace, non-ASCII text as UTF-8; the CRC-64 as a decimal string.

    Args:
        model: any protocol model.

    Returns:
        The payload bytes.

    Raises:
        PayloadTooLarge: the payload would exceed :data:`MAX_PAYLOAD_BYTES`.
    """
    return dump(model.model_dump(mode="json"))
