"""Response rendering: headers exactly as oss2 parses them and the XML documents OSS returns.

Facts oss2 depends on: ``ETag`` is quoted; ``Last-Modified`` is RFC 1123 with a two-digit day;
list ``LastModified`` ends in ``.000Z``; ``IsTruncated`` is ``true``/``false``; with
``encoding-type=url`` keys, prefixes and markers are percent-encoded (never ``+``); a HEAD error
has no body, so the error document travels base64-encoded in ``x-oss-err``.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import quote
from xml.sax.saxutils import escape

from simulator.oss.errors import OssError
from simulator.oss.listing import ListPage
from simulator.oss.records import BucketRecord, LifecycleRule, ObjectRecord, ObjectType

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
Header = tuple[bytes, bytes]
RECOMMEND_DOC = "https://api.aliyun.com/troubleshoot?q="


@dataclass(slots=True)
class Response:
    """An HTTP response ready to send.

    Attributes:
        status: HTTP status.
        headers: (name, value) pairs; Content-Length is added when sending if absent.
        body: the body (ignored when ``stream`` is set).
        stream: body chunks produced lazily (GetObject).
        length: the body length announced for ``stream`` (or for HEAD responses).
    """

    status: int
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    stream: Iterator[bytes] | None = None
    length: int | None = None


class Clock:
    """Formats the HTTP dates of responses, reusing the string within one second."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = b""

    def http_date(self, now: float) -> bytes:
        """Return ``now`` as an RFC 1123 date (bytes)."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._text = formatdate(second, usegmt=True).encode("ascii")
        return self._text


def request_id() -> str:
    """A fresh request id: 24 upper-case hex digits, like real OSS."""
    return os.urandom(12).hex().upper()


def http_date(timestamp: float) -> str:
    """RFC 1123 date with a two-digit day (the only form oss2 parses)."""
    return formatdate(int(timestamp), usegmt=True)


def iso8601(timestamp: float) -> str:
    """ISO 8601 with ``.000Z`` (the only form oss2 parses in listings)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))


def object_headers(record: ObjectRecord) -> list[Header]:
    """Headers describing an object (GetObject, HeadObject)."""
    headers: list[Header] = [
        (b"content-type", record.content_type.encode("latin-1", "replace")),
        (b"etag", f'"{record.etag}"'.encode("ascii")),
        (b"last-modified", http_date(record.mtime).encode("ascii")),
        (b"accept-ranges", b"bytes"),
        (b"x-oss-object-type", record.object_type.value.encode("ascii")),
        (b"x-oss-storage-class", b"Standard"),
        (b"x-oss-hash-crc64ecma", str(record.crc64).encode("ascii")),
    ]
    if record.object_type is ObjectType.APPENDABLE:
        headers.append((b"x-oss-next-append-position", str(record.size).encode("ascii")))
    if record.tags:
        headers.append((b"x-oss-tagging-count", str(len(record.tags)).encode("ascii")))
    for name, value in record.http_headers.items():
        headers.append((name.encode("latin-1"), value.encode("latin-1", "replace")))
    for name, value in record.user_meta.items():
        headers.append(
            (b"x-oss-meta-" + name.encode("latin-1"), value.encode("latin-1", "replace"))
        )
    return headers


def _text(tag: str, value: str) -> str:
    return f"<{tag}>{escape(value)}</{tag}>"


def _enc(value: str, url: bool) -> str:
    return quote(value, safe="") if url else value


def error_document(error: OssError, request_id: str, host_id: str) -> bytes:
    """The ``<Error>`` XML of an OSS error."""
    parts = [
        XML_DECLARATION,
        "<Error>",
        _text("Code", error.code),
        _text("Message", error.message),
        _text("RequestId", request_id),
        _text("HostId", host_id),
    ]
    parts.extend(_text(name, value) for name, value in error.elements.items())
    if error.ec is not None:
        parts.append(_text("EC", error.ec))
        parts.append(_text("RecommendDoc", RECOMMEND_DOC + error.ec))
    parts.append("</Error>")
    return "".join(parts).encode("utf-8")


def error_response(error: OssError, request_id: str, host_id: str, *, head: bool) -> Response:
    """Render an error; for HEAD the document goes into ``x-oss-err`` instead of the body."""
    document = error_document(error, request_id, host_id)
    headers: list[Header] = [(b"content-type", b"application/xml")]
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in error.headers.items()
    )
    if error.ec is not None:
        headers.append((b"x-oss-ec", error.ec.encode("ascii")))
    if error.http_status == 304:
        return Response(304, headers[1:])
    if head:
        headers.append((b"x-oss-err", base64.b64encode(document)))
        return Response(error.http_status, headers, length=0)
    return Response(error.http_status, headers, document)


def xml_response(document: str, status: int = 200, extra: Iterable[Header] = ()) -> Response:
    """A 200 (or ``status``) response with an XML body."""
    return Response(
        status,
        [(b"content-type", b"application/xml"), *extra],
        (XML_DECLARATION + document).encode(),
    )


def _owner(account: str) -> str:
    return f"<Owner><ID>{escape(account)}</ID><DisplayName>{escape(account)}</DisplayName></Owner>"


def _contents(record: ObjectRecord, url: bool, owner: str | None) -> str:
    return "".join(
        [
            "<Contents>",
            _text("Key", _enc(record.key, url)),
            _text("LastModified", iso8601(record.mtime)),
            f'<ETag>"{record.etag}"</ETag>',
            _text("Type", record.object_type.value),
            f"<Size>{record.size}</Size>",
            "<StorageClass>Standard</StorageClass>",
            _owner(owner) if owner is not None else "",
            "</Contents>",
        ]
    )


def list_objects_v1(
    bucket: BucketRecord,
    page: ListPage,
    *,
    prefix: str,
    marker: str,
    delimiter: str,
    max_keys: int,
    url: bool,
) -> Response:
    """The ListObjects (V1) result."""
    parts = [
        "<ListBucketResult>",
        _text("Name", bucket.name),
        _text("Prefix", _enc(prefix, url)),
        _text("Marker", _enc(marker, url)),
        f"<MaxKeys>{max_keys}</MaxKeys>",
        _text("Delimiter", _enc(delimiter, url)),
    ]
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    parts.append(f"<IsTruncated>{'true' if page.truncated else 'false'}</IsTruncated>")
    if page.truncated and page.next_marker is not None:
        parts.append(_text("NextMarker", _enc(page.next_marker, url)))
    parts.extend(_contents(r, url, bucket.owner) for r in page.contents)
    parts.extend(
        f"<CommonPrefixes>{_text('Prefix', _enc(p, url))}</CommonPrefixes>" for p in page.prefixes
    )
    parts.append("</ListBucketResult>")
    return xml_response("".join(parts))


def list_objects_v2(
    bucket: BucketRecord,
    page: ListPage,
    *,
    prefix: str,
    delimiter: str,
    start_after: str,
    token: str,
    next_token: str | None,
    max_keys: int,
    url: bool,
    fetch_owner: bool,
) -> Response:
    """The ListObjectsV2 result."""
    parts = [
        "<ListBucketResult>",
        _text("Name", bucket.name),
        _text("Prefix", _enc(prefix, url)),
        f"<MaxKeys>{max_keys}</MaxKeys>",
        _text("Delimiter", _enc(delimiter, url)),
    ]
    if start_after:
        parts.append(_text("StartAfter", _enc(start_after, url)))
    if token:
        parts.append(_text("ContinuationToken", _enc(token, url)))
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    parts.append(f"<IsTruncated>{'true' if page.truncated else 'false'}</IsTruncated>")
    if next_token is not None:
        parts.append(_text("NextContinuationToken", _enc(next_token, url)))
    parts.append(f"<KeyCount>{len(page.contents) + len(page.prefixes)}</KeyCount>")
    owner = bucket.owner if fetch_owner else None
    parts.extend(_contents(r, url, owner) for r in page.contents)
    parts.extend(
        f"<CommonPrefixes>{_text('Prefix', _enc(p, url))}</CommonPrefixes>" for p in page.prefixes
    )
    parts.append("</ListBucketResult>")
    return xml_response("".join(parts))


def _endpoints(bucket: BucketRecord) -> str:
    return (
        f"<ExtranetEndpoint>oss-{escape(bucket.region)}.aliyuncs.com</ExtranetEndpoint>"
        f"<IntranetEndpoint>oss-{escape(bucket.region)}-internal.aliyuncs.com</IntranetEndpoint>"
    )


def list_buckets(
    owner: str,
    buckets: list[BucketRecord],
    *,
    prefix: str,
    marker: str,
    max_keys: int,
    truncated: bool,
) -> Response:
    """The ListBuckets result."""
    parts = [
        "<ListAllMyBucketsResult>",
        _text("Prefix", prefix),
        _text("Marker", marker),
        f"<MaxKeys>{max_keys}</MaxKeys>",
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
    ]
    if truncated and buckets:
        parts.append(_text("NextMarker", buckets[-1].name))
    parts.append(_owner(owner))
    parts.append("<Buckets>")
    for b in buckets:
        parts.append(
            "<Bucket>"
            + _text("CreationDate", iso8601(b.created))
            + _endpoints(b)
            + _text("Location", f"oss-{b.region}")
            + _text("Name", b.name)
            + _text("Region", b.region)
            + _text("StorageClass", b.storage_class)
            + "</Bucket>"
        )
    parts.append("</Buckets></ListAllMyBucketsResult>")
    return xml_response("".join(parts))


def bucket_info(bucket: BucketRecord) -> Response:
    """The GetBucketInfo result."""
    return xml_response(
        "<BucketInfo><Bucket>"
        "<AccessMonitor>Disabled</AccessMonitor>"
        + _text("CreationDate", iso8601(bucket.created))
        + "<CrossRegionReplication>Disabled</CrossRegionReplication>"
        "<DataRedundancyType>LRS</DataRedundancyType>"
        + _endpoints(bucket)
        + _text("Location", f"oss-{bucket.region}")
        + _text("Name", bucket.name)
        + "<ResourceGroupId>rg-default</ResourceGroupId>"
        + _text("StorageClass", bucket.storage_class)
        + "<TransferAcceleration>Disabled</TransferAcceleration>"
        + _owner(bucket.owner)
        + "<AccessControlList><Grant>private</Grant></AccessControlList>"
        "<ServerSideEncryptionRule><SSEAlgorithm>None</SSEAlgorithm></ServerSideEncryptionRule>"
        "</Bucket></BucketInfo>"
    )


def bucket_location(bucket: BucketRecord) -> Response:
    """The GetBucketLocation result."""
    return xml_response(_text("LocationConstraint", f"oss-{bucket.region}"))


def lifecycle(rules: tuple[LifecycleRule, ...]) -> Response:
    """The GetBucketLifecycle result."""
    parts = ["<LifecycleConfiguration>"]
    for rule in rules:
        parts.append("<Rule>")
        parts.append(_text("ID", rule.rule_id))
        parts.append(_text("Prefix", rule.prefix))
        parts.append(_text("Status", "Enabled" if rule.enabled else "Disabled"))
        if rule.days is not None:
            parts.append(f"<Expiration><Days>{rule.days}</Days></Expiration>")
        elif rule.created_before is not None:
            parts.append(
                f"<Expiration>{_text('CreatedBeforeDate', iso8601(rule.created_before))}</Expiration>"
            )
        parts.append("</Rule>")
    parts.append("</LifecycleConfiguration>")
    return xml_response("".join(parts))


def public_access_block(block: bool) -> Response:
    """The GetBucketPublicAccessBlock result."""
    return xml_response(
        "<PublicAccessBlockConfiguration>"
        + _text("BlockPublicAccess", "true" if block else "false")
        + "</PublicAccessBlockConfiguration>"
    )


def object_acl(owner: str, acl: str) -> Response:
    """The GetObjectAcl result: the bucket owner and the object's own ACL."""
    return xml_response(
        "<AccessControlPolicy><Owner>"
        + _text("ID", owner)
        + _text("DisplayName", owner)
        + "</Owner><AccessControlList>"
        + _text("Grant", acl)
        + "</AccessControlList></AccessControlPolicy>"
    )


def delete_result(deleted: list[str], *, url: bool) -> Response:
    """The DeleteMultipleObjects result (``deleted`` is empty in quiet mode)."""
    parts = ["<DeleteResult>"]
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    parts.extend(f"<Deleted>{_text('Key', _enc(k, url))}</Deleted>" for k in deleted)
    parts.append("</DeleteResult>")
    return xml_response("".join(parts))


def copy_result(record: ObjectRecord) -> Response:
    """The CopyObject result."""
    return xml_response(
        f'<CopyObjectResult><ETag>"{record.etag}"</ETag>'
        + _text("LastModified", iso8601(record.mtime))
        + "</CopyObjectResult>",
        extra=[
            (b"etag", f'"{record.etag}"'.encode("ascii")),
            (b"x-oss-hash-crc64ecma", str(record.crc64).encode()),
        ],
    )


def tagging(tags: dict[str, str]) -> Response:
    """The GetObjectTagging result."""
    body = "".join(
        f"<Tag>{_text('Key', key)}{_text('Value', value)}</Tag>" for key, value in tags.items()
    )
    return xml_response(f"<Tagging><TagSet>{body}</TagSet></Tagging>")
