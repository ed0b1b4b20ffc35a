"""Opaque pagination cursors.

A cursor is the position after the last item of a page, serialised as JSON, tagged with an
HMAC so a client can only hand back cursors the console made, and encoded as unpadded
base64url. A cursor also names the listing it belongs to, so one listing's cursor is
refused by another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence

from cloud.console.errors import InvalidInputError

__all__ = ["MAX_CURSOR_CHARS", "CursorCodec"]

MAX_CURSOR_CHARS = 512
_TAG_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CursorCodec:
    """Makes and checks cursors.

    Args:
        key: HMAC key (random per console process is fine: cursors are short-lived).
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _tag(self, scope: str, body: bytes) -> bytes:
        mac = hmac.new(self._key, scope.encode("utf-8") + b"\0" + body, hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]

    def encode(self, scope: str, position: Sequence[str | int]) -> str:
        """Make a cursor for ``position`` in the listing called ``scope``."""
        body = json.dumps(list(position), separators=(",", ":")).encode("utf-8")
        return _b64(self._tag(scope, body) + body)

    def decode(self, scope: str, cursor: str) -> list[str | int]:
        """Read a cursor back.

        Args:
            scope: the listing it must belong to.
            cursor: what the client sent.

        Returns:
            The position it stands for.

        Raises:
            InvalidInputError: if it is too long, malformed, forged or from another listing.
        """
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidInputError("cursor", "too long")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError):
            raise InvalidInputError("cursor", "not a cursor from this listing") from None
        tag, body = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        if len(tag) != _TAG_BYTES or not hmac.compare_digest(tag, self._tag(scope, body)):
            raise InvalidInputError("cursor", "not a cursor from this listing")
        value = json.loads(body)
        if not isinstance(value, list) or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
        ):
            raise InvalidInputError("cursor", "not a cursor from this listing")
        return value
