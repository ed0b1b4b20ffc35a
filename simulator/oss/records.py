"""Plain records of the OSS emulator's state, shared by the model and the stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from simulator.oss.cors import CorsConfiguration

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class ObjectType(StrEnum):
    """``x-oss-object-type`` values the emulator creates."""

    NORMAL = "Normal"
    APPENDABLE = "Appendable"
    MULTIPART = "Multipart"
    SYMLINK = "Symlink"


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """One object's metadata (the bytes live in the store).

    Attributes:
        key: the object key.
        size: length in bytes.
        etag: ETag without quotes (upper-case MD5 hex for Normal objects).
        crc64: CRC-64/ECMA (as oss2 computes it) of the whole object.
        mtime: last modification, Unix seconds (whole seconds, as OSS reports them).
        object_type: Normal or Appendable.
        content_type: the stored Content-Type.
        user_meta: ``x-oss-meta-*`` headers, names lower-case without the prefix.
        http_headers: stored standard headers (Cache-Control, Content-Disposition ...), lower-case names.
        generation: bumped on every overwrite; lets a durable store name data files uniquely.
        tags: the object's tags (PutObjectTagging, ``x-oss-tagging``).
        symlink_target: for a Symlink, the key it points to (in the same bucket).
        acl: the object ACL (``default`` follows the bucket's; :mod:`simulator.oss.acl`).
    """

    key: str
    size: int
    etag: str
    crc64: int
    mtime: int
    object_type: ObjectType
    content_type: str
    user_meta: dict[str, str] = field(default_factory=dict)
    http_headers: dict[str, str] = field(default_factory=dict)
    generation: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    symlink_target: str | None = None
    acl: str = "default"

    def appended(self, *, size: int, crc64: int, etag: str, mtime: int) -> ObjectRecord:
        """This record after an append (a fast ``dataclasses.replace`` for the hot path)."""
        return ObjectRecord(
            self.key,
            size,
            etag,
            crc64,
            mtime,
            self.object_type,
            self.content_type,
            self.user_meta,
            self.http_headers,
            self.generation,
            self.tags,
            self.symlink_target,
            self.acl,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the durable store's metadata file)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectRecord:
        """Rebuild a record written by :meth:`to_json`."""
        return cls(
            key=str(data["key"]),
            size=int(data["size"]),
            etag=str(data["etag"]),
            crc64=int(data["crc64"]),
            mtime=int(data["mtime"]),
            object_type=ObjectType(data["object_type"]),
            content_type=str(data["content_type"]),
            user_meta={str(k): str(v) for k, v in data.get("user_meta", {}).items()},
            http_headers={str(k): str(v) for k, v in data.get("http_headers", {}).items()},
            generation=int(data.get("generation", 0)),
            tags={str(k): str(v) for k, v in data.get("tags", {}).items()},
            symlink_target=None
            if data.get("symlink_target") is None
            else str(data["symlink_target"]),
            acl=str(data.get("acl", "default")),
        )


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    """An expiration rule of a bucket lifecycle configuration.

    Exactly one of ``days`` and ``created_before`` is set.

    Attributes:
        rule_id: the rule ``ID``.
        prefix: keys the rule applies to ("" = all).
        enabled: ``Status`` is Enabled.
        days: objects expire this many days after their last modification.
        created_before: objects last modified before this Unix time (a UTC midnight) expire.
    """

    rule_id: str
    prefix: str
    enabled: bool
    days: int | None = None
    created_before: int | None = None

    def expired(self, mtime: int, now: float) -> bool:
        """Whether an object last modified at ``mtime`` has expired under this rule at ``now``."""
        if not self.enabled:
            return False
        if self.days is not None:
            return mtime + self.days * 86400 <= now
        if self.created_before is not None:
            return mtime < self.created_before
        return False


@dataclass(frozen=True, slots=True)
class BucketRecord:
    """A bucket's configuration.

    Attributes:
        name: the bucket name.
        owner: the account id owning the bucket.
        region: where it lives.
        created: creation time, Unix seconds.
        storage_class: Standard, IA ...
        lifecycle: the lifecycle rules, or ``None`` when none are configured.
        block_public_access: Block Public Access is on (public ACLs and policies refused).
        cors: the CORS rules, or ``None`` when none are configured.
    """

    name: str
    owner: str
    region: str
    created: int
    storage_class: str = "Standard"
    lifecycle: tuple[LifecycleRule, ...] | None = None
    block_public_access: bool = False
    cors: CorsConfiguration | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the durable store's bucket file)."""
        data = asdict(self)
        data["cors"] = None if self.cors is None else self.cors.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BucketRecord:
        """Rebuild a record written by :meth:`to_json`."""
        rules = data.get("lifecycle")
        return cls(
            name=str(data["name"]),
            owner=str(data["owner"]),
            region=str(data["region"]),
            created=int(data["created"]),
            storage_class=str(data.get("storage_class", "Standard")),
            lifecycle=None
            if rules is None
            else tuple(
                LifecycleRule(
                    rule_id=str(r["rule_id"]),
                    prefix=str(r["prefix"]),
                    enabled=bool(r["enabled"]),
                    days=None if r.get("days") is None else int(r["days"]),
                    created_before=None
                    if r.get("created_before") is None
                    else int(r["created_before"]),
                )
                for r in rules
            ),
            block_public_access=bool(data.get("block_public_access", False)),
            cors=None if data.get("cors") is None else CorsConfiguration.from_json(data["cors"]),
        )


@dataclass(frozen=True, slots=True)
class ObjectFields:
    """What an uploader says about an object besides its bytes.

    Attributes:
        content_type: Content-Type (``None`` = application/octet-stream).
        user_meta: ``x-oss-meta-*`` values, names lower-case without the prefix.
        http_headers: standard headers stored with the object (cache-control ...).
        tags: tags given with ``x-oss-tagging``.
        acl: the object ACL given with ``x-oss-object-acl`` (``default`` when none is).
    """

    content_type: str | None = None
    user_meta: dict[str, str] = field(default_factory=dict)
    http_headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    acl: str = "default"


def new_record(
    key: str,
    data: bytes,
    etag: str,
    crc: int,
    object_type: ObjectType,
    fields: ObjectFields,
    now: float,
    previous: ObjectRecord | None,
    *,
    appendable_etag: bool = False,
) -> ObjectRecord:
    """A fresh record for a new object (or a replacement of ``previous``)."""
    size = len(data)
    return ObjectRecord(
        key=key,
        size=size,
        etag=append_etag(crc, size) if appendable_etag else etag,
        crc64=crc,
        mtime=int(now),
        object_type=object_type,
        content_type=fields.content_type or DEFAULT_CONTENT_TYPE,
        user_meta=dict(fields.user_meta),
        http_headers=dict(fields.http_headers),
        generation=0 if previous is None else previous.generation + 1,
        tags=dict(fields.tags),
        acl=fields.acl,
    )


def append_etag(crc: int, size: int) -> str:
    """The ETag of an appendable object: changes with every append."""
    # Real OSS appendable ETags are not MD5s either; this one changes with every append.
    return f"{crc:016X}{size & 0xFFFFFFFFFFFFFFFF:016X}"


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A multipart upload in progress.

    Attributes:
        upload_id: the id InitiateMultipartUpload returned.
        key: the object it will create.
        initiated: Unix seconds.
        fields: content type and metadata given at initiation (the object gets them).
    """

    upload_id: str
    key: str
    initiated: int
    fields: ObjectFields = field(default_factory=ObjectFields)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the durable store's upload file)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadRecord:
        """Rebuild a record written by :meth:`to_json`."""
        raw = data.get("fields") or {}
        return cls(
            upload_id=str(data["upload_id"]),
            key=str(data["key"]),
            initiated=int(data["initiated"]),
            fields=ObjectFields(
                None if raw.get("content_type") is None else str(raw["content_type"]),
                {str(k): str(v) for k, v in raw.get("user_meta", {}).items()},
                {str(k): str(v) for k, v in raw.get("http_headers", {}).items()},
                {str(k): str(v) for k, v in raw.get("tags", {}).items()},
                str(raw.get("acl", "default")),
            ),
        )


@dataclass(frozen=True, slots=True)
class PartRecord:
    """One uploaded part.

    Attributes:
        number: the part number (1-10,000).
        size: length in bytes.
        etag: upper-case MD5 hex of the part, without quotes.
        crc64: CRC-64/ECMA of the part.
        mtime: when it was uploaded, Unix seconds.
        generation: bumped on every re-upload of the same number (names its data uniquely).
    """

    number: int
    size: int
    etag: str
    crc64: int
    mtime: int
    generation: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the durable store's part file)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartRecord:
        """Rebuild a record written by :meth:`to_json`."""
        return cls(
            number=int(data["number"]),
            size=int(data["size"]),
            etag=str(data["etag"]),
            crc64=int(data["crc64"]),
            mtime=int(data["mtime"]),
            generation=int(data.get("generation", 0)),
        )
