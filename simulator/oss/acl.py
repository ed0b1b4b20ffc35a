"""Object ACLs: the four values, which of them are public, and who may set them.

An object's ACL is ``default`` (it follows the bucket's), ``private``, ``public-read`` or
``public-read-write``; an explicit object ACL wins over the bucket's. The emulator's buckets
are always ``private`` (bucket ACLs are not served), so a ``default`` object is private too.

Who may set one, as Alibaba Cloud documents it (the "Object ACLs" guide and the PutObjectAcl /
``put-object-acl`` references): an account's own keys may; a RAM user or an STS session
needs ``oss:PutObjectAcl`` on the object. That holds for PutObjectAcl and for the
``x-oss-object-acl`` header on an upload alike, so a session allowed only ``oss:PutObject``
can write an object but cannot make it public. With Block Public Access on, a public ACL is
refused whoever asks, and public ACLs already set are not honoured for anonymous reads.
"""

from __future__ import annotations

from simulator.oss.errors import AccessDenied, InvalidArgument

DEFAULT = "default"
PRIVATE = "private"
OBJECT_ACLS = frozenset({DEFAULT, PRIVATE, "public-read", "public-read-write"})
PUBLIC_ACLS = frozenset({"public-read", "public-read-write"})
HEADER = "x-oss-object-acl"
# The bucket ACL a ``default`` object follows (PutBucketAcl is not served).
BUCKET_ACL = PRIVATE
# OSS's details for a bad and for a missing or empty x-oss-object-acl.
_EC_INVALID = "0017-00000104"
_EC_MISSING = "0017-00000105"
BLOCKED_MESSAGE = "Put public object acl is not allowed since public access block is enabled."


def parse_acl(value: str | None) -> str:
    """The ACL an ``x-oss-object-acl`` header names (``None``: the header is absent).

    Raises:
        InvalidArgument: absent, empty, or not one of the four values.
    """
    text = (value or "").strip()
    if not text:
        raise InvalidArgument(
            "The x-oss-object-acl header is missing or empty.",
            name=HEADER,
            value="",
            ec=_EC_MISSING,
        )
    if text not in OBJECT_ACLS:
        raise InvalidArgument(
            "no such object access control exists", name=HEADER, value=text, ec=_EC_INVALID
        )
    return text


def effective(object_acl: str) -> str:
    """The ACL in force for an object whose own ACL is ``object_acl``."""
    return BUCKET_ACL if object_acl == DEFAULT else object_acl


def publicly_readable(object_acl: str, *, block_public_access: bool) -> bool:
    """Whether an anonymous request may read an object with this ACL."""
    return not block_public_access and effective(object_acl) in PUBLIC_ACLS


def check_not_blocked(acl: str, *, block_public_access: bool) -> None:
    """Refuse a public ACL on a bucket with Block Public Access on.

    Raises:
        AccessDenied: the ACL is public and the bucket blocks public access.
    """
    if block_public_access and acl in PUBLIC_ACLS:
        raise AccessDenied(BLOCKED_MESSAGE)
