"""Errors raised by the wire-protocol package.

Every error the package raises on purpose derives from :class:`SchemaError`::

    SchemaError
     ├── PayloadTooLarge        payload over MAX_PAYLOAD_BYTES, refused before any parsing
     ├── InvalidMessage         not valid JSON / fails the schema (also a ValueError)
     │    └── InvalidIdentifier device id, topic, topic prefix or group name not allowed
     ├── InvalidKey             device secret or derived key malformed (also a ValueError)
     └── SealError              sealed reply cannot be opened: tampered, wrong key, malformed

Messages and attributes never contain secret material or the raw payload: reasons name the
field and the rule it broke, so they are safe to log.
"""

from __future__ import annotations


class SchemaError(Exception):
    """Root of every error raised by :mod:`schemas`."""


class PayloadTooLarge(SchemaError):
    """A payload is larger than the protocol allows; it was not parsed.

    Attributes:
        size: the payload's length in bytes.
        limit: the largest accepted length in bytes.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class InvalidMessage(SchemaError, ValueError):
    """A payload or value does not follow protocol v1.

    Attributes:
        reason: what is wrong, naming fields but never echoing their values.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidIdentifier(InvalidMessage):
    """A device id, topic, topic prefix or shared-subscription group is not allowed."""


class InvalidKey(SchemaError, ValueError):
    """A device secret or key is malformed (wrong length or encoding).

    Attributes:
        reason: what is wrong; never contains key material.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SealError(SchemaError):
    """A sealed payload could not be opened.

    Tampering with the ciphertext, the nonce or any associated-data field, a wrong key and a
    malformed blob all look the same from outside: this error, with a short reason.

    Attributes:
        reason: why opening failed, without key or plaintext material.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
