"""The console's view of OSS: a small seam and its oss2 implementation.

The console signs everything with its own access key (from its configuration), with V4
signatures, and never uses a camera's credentials. What it needs from OSS is small: the
length and CRC-64 of an object, a short-lived presigned GET for playback or download,
deleting an object, reading a small object (an HLS playlist), and the bucket's lifecycle
rules.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

import oss2
import oss2.exceptions
import oss2.models

from cloud.console.errors import StorageError
from cloud.console.settings import OssSettings

__all__ = ["ExpiryRule", "ObjectInfo", "ObjectStore", "OssObjectStore"]


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD says about an object.

    Attributes:
        size: length in bytes.
        crc64: ``x-oss-hash-crc64ecma``, if OSS sent it.
    """

    size: int
    crc64: int | None


@dataclass(frozen=True)
class ExpiryRule:
    """A lifecycle rule that deletes objects under a prefix some days after their last change.

    Attributes:
        rule_id: the rule's id in the bucket configuration.
        prefix: object-key prefix it applies to.
        days: days after the last modification.
    """

    rule_id: str
    prefix: str
    days: int


class ObjectStore(Protocol):
    """What the console does with the bucket."""

    def head(self, key: str) -> ObjectInfo | None:
        """Length and CRC-64 of ``key``, or None if it does not exist.

        Raises:
            StorageError: OSS failed or could not be reached.
        """
        ...

    def delete(self, key: str) -> None:
        """Delete ``key`` (no error if it is already gone).

        Raises:
            StorageError: OSS failed or could not be reached.
        """
        ...

    def presign_get(
        self,
        key: str,
        ttl_s: int,
        *,
        download_name: str | None = None,
        content_type: str = "video/mp4",
    ) -> str:
        """A URL that reads ``key`` for ``ttl_s`` seconds, answered as ``content_type``;
        with ``download_name`` it asks the browser to save the file under that name
        instead of showing it."""
        ...

    def get(self, key: str, max_bytes: int) -> bytes | None:
        """The content of ``key`` (a small object such as a playlist), or None if absent.

        Raises:
            StorageError: OSS failed, could not be reached, or the object is larger than
                ``max_bytes``.
        """
        ...

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of ``key`` from ``offset`` (one ranged GET).

        Raises:
            StorageError: OSS failed, could not be reached, the object is absent, or it
                holds fewer bytes than asked for.
        """
        ...

    def replace_expiry_rules(self, id_prefix: str, rules: list[ExpiryRule]) -> None:
        """Replace every lifecycle rule whose id starts with ``id_prefix`` by ``rules``,
        keeping the bucket's other rules.

        Raises:
            StorageError: OSS failed or could not be reached.
        """
        ...

    def expiry_rules(self) -> list[ExpiryRule]:
        """The bucket's expiration rules (all of them, whoever made them).

        Raises:
            StorageError: OSS failed or could not be reached.
        """
        ...


def _storage_error(operation: str, exc: oss2.exceptions.OssError, key: str | None) -> StorageError:
    status = exc.status if isinstance(exc.status, int) and exc.status > 0 else None
    code = exc.code or None
    return StorageError(operation, object_key=key, code=code, status=status)


def _expiry_days(rule: Any) -> int | None:
    expiration = getattr(rule, "expiration", None)
    days = getattr(expiration, "days", None)
    return days if isinstance(days, int) else None


def _without_empty_filter(rule: Any) -> Any:
    # oss2 reads an absent <Filter> as an empty LifecycleFilter and would write it back as
    # an empty element; leave it out so a kept rule goes back exactly as it came.
    found = getattr(rule, "filter", None)
    if found is not None and not (
        found.filter_not or found.object_size_greater_than or found.object_size_less_than
    ):
        rule.filter = None
    return rule


class OssObjectStore:
    """:class:`ObjectStore` on a real (or emulated) OSS bucket, through oss2 with V4 signing.

    Args:
        settings: the console's OSS settings.
    """

    def __init__(self, settings: OssSettings) -> None:
        auth = oss2.AuthV4(settings.access_key_id, settings.access_key_secret.get_secret_value())
        self._bucket = oss2.Bucket(
            auth,
            settings.endpoint,
            settings.bucket,
            region=settings.region,
            connect_timeout=settings.connect_timeout_s,
        )

    def __repr__(self) -> str:
        return f"OssObjectStore(bucket={self._bucket.bucket_name!r})"

    def head(self, key: str) -> ObjectInfo | None:
        """HEAD ``key``; see :meth:`ObjectStore.head`."""
        try:
            result = self._bucket.head_object(key)
        except oss2.exceptions.NotFound:
            return None
        except oss2.exceptions.OssError as exc:
            raise _storage_error("head", exc, key) from None
        size = result.content_length
        crc = result.server_crc
        return ObjectInfo(size=int(size or 0), crc64=int(crc) if crc is not None else None)

    def delete(self, key: str) -> None:
        """Delete ``key``; see :meth:`ObjectStore.delete`."""
        try:
            self._bucket.delete_object(key)
        except oss2.exceptions.OssError as exc:
            raise _storage_error("delete", exc, key) from None

    def presign_get(
        self,
        key: str,
        ttl_s: int,
        *,
        download_name: str | None = None,
        content_type: str = "video/mp4",
    ) -> str:
        """Presign a V4 GET; see :meth:`ObjectStore.presign_get`."""
        params: dict[str, str] = {"response-content-type": content_type}
        if download_name is not None:
            quoted = urllib.parse.quote(download_name, safe="")
            params["response-content-disposition"] = f"attachment; filename*=UTF-8''{quoted}"
        url: str = self._bucket.sign_url("GET", key, ttl_s, params=params, slash_safe=True)
        return url

    def get(self, key: str, max_bytes: int) -> bytes | None:
        """GET a small object; see :meth:`ObjectStore.get`."""
        try:
            result = self._bucket.get_object(key)
            data: bytes = result.read(max_bytes + 1)
            result.close()
        except oss2.exceptions.NotFound:
            return None
        except oss2.exceptions.OssError as exc:
            raise _storage_error("get", exc, key) from None
        if len(data) > max_bytes:
            raise StorageError("get", object_key=key, code="TooLarge")
        return data

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Read a byte range; see :meth:`ObjectStore.get_range`."""
        if length <= 0:
            return b""
        try:
            result = self._bucket.get_object(
                key,
                byte_range=(offset, offset + length - 1),
                headers={"x-oss-range-behavior": "standard"},
            )
            data: bytes = result.read()
            result.close()
        except oss2.exceptions.OssError as exc:
            raise _storage_error("get_range", exc, key) from None
        if len(data) != length:
            raise StorageError("get_range", object_key=key, code="ShortRead")
        return data

    def expiry_rules(self) -> list[ExpiryRule]:
        """The bucket's expiration rules; see :meth:`ObjectStore.expiry_rules`."""
        return [
            ExpiryRule(rule.id, rule.prefix or "", days)
            for rule in self._lifecycle_rules()
            if (days := _expiry_days(rule)) is not None
        ]

    def _lifecycle_rules(self) -> list[Any]:
        try:
            result = self._bucket.get_bucket_lifecycle()
        except oss2.exceptions.NoSuchLifecycle:
            return []
        except oss2.exceptions.OssError as exc:
            raise _storage_error("get_lifecycle", exc, None) from None
        return list(result.rules)

    def replace_expiry_rules(self, id_prefix: str, rules: list[ExpiryRule]) -> None:
        """Replace the console's rules; see :meth:`ObjectStore.replace_expiry_rules`."""
        kept = [
            _without_empty_filter(rule)
            for rule in self._lifecycle_rules()
            if not str(rule.id).startswith(id_prefix)
        ]
        ours = [
            oss2.models.LifecycleRule(
                rule.rule_id,
                rule.prefix,
                status=oss2.models.LifecycleRule.ENABLED,
                expiration=oss2.models.LifecycleExpiration(days=rule.days),
            )
            for rule in rules
        ]
        try:
            if kept or ours:
                self._bucket.put_bucket_lifecycle(oss2.models.BucketLifecycle(kept + ours))
            else:
                # OSS refuses an empty configuration: no rules means no configuration.
                self._bucket.delete_bucket_lifecycle()
        except oss2.exceptions.OssError as exc:
            raise _storage_error("put_lifecycle", exc, None) from None
