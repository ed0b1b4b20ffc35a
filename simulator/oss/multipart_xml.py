"""The XML documents of multipart uploads, as oss2 parses them.

With ``encoding-type=url`` keys, prefixes and key markers are percent-encoded and the document
says ``<EncodingType>url</EncodingType>``; upload ids and part numbers never are.
"""

from __future__ import annotations

from simulator.oss.records import ObjectRecord, PartRecord, UploadRecord
from simulator.oss.responses import Response, _enc, _text, iso8601, xml_response
from simulator.oss.uploads import UploadPage


def _encoding(url: bool) -> str:
    return "<EncodingType>url</EncodingType>" if url else ""


def initiate_result(bucket: str, upload: UploadRecord, *, url: bool) -> Response:
    """InitiateMultipartUploadResult."""
    return xml_response(
        "<InitiateMultipartUploadResult>"
        + _encoding(url)
        + _text("Bucket", bucket)
        + _text("Key", _enc(upload.key, url))
        + _text("UploadId", upload.upload_id)
        + "</InitiateMultipartUploadResult>"
    )


def copy_part_result(part: PartRecord) -> Response:
    """CopyPartResult (UploadPartCopy)."""
    return xml_response(
        "<CopyPartResult>"
        + _text("LastModified", iso8601(part.mtime))
        + f'<ETag>"{part.etag}"</ETag>'
        + "</CopyPartResult>",
        extra=[
            (b"etag", f'"{part.etag}"'.encode("ascii")),
            (b"x-oss-hash-crc64ecma", str(part.crc64).encode("ascii")),
        ],
    )


def complete_result(bucket: str, record: ObjectRecord, location: str, *, url: bool) -> Response:
    """CompleteMultipartUploadResult, with the object's ETag and CRC-64 in headers too."""
    return xml_response(
        "<CompleteMultipartUploadResult>"
        + _encoding(url)
        + _text("Location", location)
        + _text("Bucket", bucket)
        + _text("Key", _enc(record.key, url))
        + f'<ETag>"{record.etag}"</ETag>'
        + "</CompleteMultipartUploadResult>",
        extra=[
            (b"etag", f'"{record.etag}"'.encode("ascii")),
            (b"x-oss-hash-crc64ecma", str(record.crc64).encode("ascii")),
        ],
    )


def list_parts_result(
    bucket: str,
    upload: UploadRecord,
    parts: list[PartRecord],
    *,
    marker: int,
    max_parts: int,
    truncated: bool,
    url: bool,
) -> Response:
    """ListPartsResult."""
    next_marker = parts[-1].number if parts else marker
    body = [
        "<ListPartsResult>",
        _encoding(url),
        _text("Bucket", bucket),
        _text("Key", _enc(upload.key, url)),
        _text("UploadId", upload.upload_id),
        f"<PartNumberMarker>{marker}</PartNumberMarker>",
        f"<NextPartNumberMarker>{next_marker}</NextPartNumberMarker>",
        f"<MaxParts>{max_parts}</MaxParts>",
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
    ]
    body.extend(
        "<Part>"
        f"<PartNumber>{part.number}</PartNumber>"
        + _text("LastModified", iso8601(part.mtime))
        + f'<ETag>"{part.etag}"</ETag>'
        + f"<HashCrc64ecma>{part.crc64}</HashCrc64ecma>"
        + f"<Size>{part.size}</Size>"
        + "</Part>"
        for part in parts
    )
    body.append("</ListPartsResult>")
    return xml_response("".join(body))


def list_uploads_result(
    bucket: str,
    page: UploadPage,
    *,
    prefix: str,
    delimiter: str,
    key_marker: str,
    upload_id_marker: str,
    max_uploads: int,
    url: bool,
) -> Response:
    """ListMultipartUploadsResult."""
    body = [
        "<ListMultipartUploadsResult>",
        _encoding(url),
        _text("Bucket", bucket),
        _text("KeyMarker", _enc(key_marker, url)),
        _text("UploadIdMarker", upload_id_marker),
        _text("NextKeyMarker", _enc(page.next_key_marker, url)),
        _text("NextUploadIdMarker", page.next_upload_id_marker),
        _text("Delimiter", _enc(delimiter, url)),
        _text("Prefix", _enc(prefix, url)),
        f"<MaxUploads>{max_uploads}</MaxUploads>",
        f"<IsTruncated>{'true' if page.truncated else 'false'}</IsTruncated>",
    ]
    body.extend(
        "<Upload>"
        + _text("Key", _enc(upload.key, url))
        + _text("UploadId", upload_id)
        + "<StorageClass>Standard</StorageClass>"
        + _text("Initiated", iso8601(upload.initiated))
        + "</Upload>"
        for upload_id, upload in page.uploads
    )
    body.extend(
        f"<CommonPrefixes>{_text('Prefix', _enc(p, url))}</CommonPrefixes>" for p in page.prefixes
    )
    body.append("</ListMultipartUploadsResult>")
    return xml_response("".join(body))
