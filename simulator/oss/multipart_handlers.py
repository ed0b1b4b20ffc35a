"""Handlers of object-level multipart operations (the rules live in :mod:`simulator.oss.uploads`).

Every one needs the RAM action its declaration names on the object; UploadPartCopy also needs
``oss:GetObject`` on its source. ListMultipartUploads is bucket level and lives with the bucket
handlers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import quote

from simulator.oss import multipart_xml as render
from simulator.oss.errors import InvalidArgument, InvalidDigest, NoSuchKey
from simulator.oss.handler_base import (
    Call,
    HandlerBase,
    check_md5,
    copy_source,
    encoding_is_url,
)
from simulator.oss.payloads import parse_complete
from simulator.oss.records import ObjectRecord, ObjectType
from simulator.oss.requests import OssRequest
from simulator.oss.responses import Response
from simulator.oss.uploads import Assembled, check_part_number

_RANGE_PREFIX = "bytes="
DEFAULT_MAX_PARTS = 1000


class MultipartHandlers(HandlerBase):
    """InitiateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
    AbortMultipartUpload, ListParts."""

    async def initiate_multipart_upload(self, call: Call) -> Response:
        """POST /<bucket>/<key>?uploads — start an upload; the object gets its headers."""
        bucket, key = self._object_op(call)
        url = encoding_is_url(call.req.query)
        await call.req.drain(self._settings.max_drain_bytes)
        upload = await self._run(
            self._model.uploads.initiate,
            bucket.name,
            key,
            self._upload_fields(call, bucket, key),
            now=call.now,
        )
        return render.initiate_result(bucket.name, upload, url=url)

    async def upload_part(self, call: Call) -> Response:
        """PUT /<bucket>/<key>?partNumber=N&uploadId=U — store one part."""
        number = check_part_number(call.req.query.get("partNumber", ""))
        upload_id = call.req.query.get("uploadId", "")
        bucket, key = self._object_op(call)
        self._model.uploads.get(bucket.name, key, upload_id)
        body = await call.req.read_body_chunks(self._settings.max_object_size, require_length=True)
        part = await self._run(
            self._model.uploads.put_part,
            bucket.name,
            key,
            upload_id,
            number,
            body,
            now=call.now,
            content_md5=content_md5(call.req),
        )
        return Response(
            200,
            [
                (b"etag", f'"{part.etag}"'.encode("ascii")),
                (b"x-oss-hash-crc64ecma", str(part.crc64).encode("ascii")),
            ],
        )

    async def upload_part_copy(self, call: Call) -> Response:
        """PUT ...?partNumber=N&uploadId=U with x-oss-copy-source — a part from an object."""
        number = check_part_number(call.req.query.get("partNumber", ""))
        upload_id = call.req.query.get("uploadId", "")
        src_bucket_name, src_key = copy_source(call.req.headers)
        src_bucket = self._model.get_bucket(src_bucket_name)
        self._authorize(
            call, "oss:GetObject", self._object_arn(src_bucket, src_key), src_bucket.owner
        )
        bucket, key = self._object_op(call)
        self._model.uploads.get(bucket.name, key, upload_id)
        await call.req.drain(self._settings.max_drain_bytes)
        record, reader = self._model.open_object(src_bucket.name, src_key)
        try:
            if record.object_type is ObjectType.APPENDABLE:
                raise NoSuchKey(src_key)
            start, length = _copy_range(call.req.headers, record.size)
            data = reader.read(start, length)
        finally:
            reader.close()
        part = await self._run(
            self._model.uploads.put_part, bucket.name, key, upload_id, number, [data], now=call.now
        )
        return render.copy_part_result(part)

    async def complete_multipart_upload(self, call: Call) -> Response:
        """POST /<bucket>/<key>?uploadId=U — join the listed parts (or all of them)."""
        upload_id = call.req.query.get("uploadId", "")
        bucket, key = self._object_op(call)
        url = encoding_is_url(call.req.query)
        self._model.uploads.get(bucket.name, key, upload_id)
        body = await call.req.read_body(self._settings.max_xml_body)
        complete_all = call.req.headers.get("x-oss-complete-all", "").lower()
        if complete_all not in ("", "yes"):
            raise InvalidArgument(
                "x-oss-complete-all can only be yes.",
                name="x-oss-complete-all",
                value=complete_all,
            )
        listed: list[tuple[int, str]] | None = None
        if complete_all == "yes":
            if body.strip():
                raise InvalidArgument(
                    "Should not specify both the complete-all header and a part list.",
                    name="x-oss-complete-all",
                    value=complete_all,
                )
        else:
            check_md5(call.req, body)
            listed = parse_complete(body)
        forbid = call.req.headers.get("x-oss-forbid-overwrite", "false").lower() == "true"
        records: list[ObjectRecord] = []

        def commit(assembled: Assembled) -> None:
            records.append(
                self._model.put_multipart(
                    bucket.name, assembled, now=call.now, forbid_overwrite=forbid
                )
            )

        await self._run(self._model.uploads.complete, bucket.name, key, upload_id, listed, commit)
        location = f"http://{call.req.host}/{bucket.name}/{quote(key, safe='')}"
        return render.complete_result(bucket.name, records[0], location, url=url)

    async def abort_multipart_upload(self, call: Call) -> Response:
        """DELETE /<bucket>/<key>?uploadId=U — drop the upload and its parts."""
        bucket, key = self._object_op(call)
        await self._run(
            self._model.uploads.abort, bucket.name, key, call.req.query.get("uploadId", "")
        )
        return Response(204)

    async def list_parts(self, call: Call) -> Response:
        """GET /<bucket>/<key>?uploadId=U — the uploaded parts, from a part-number marker."""
        q = call.req.query
        bucket, key = self._object_op(call)
        url = encoding_is_url(q)
        marker = _number(q.get("part-number-marker"), "part-number-marker", 0, 0)
        max_parts = _number(q.get("max-parts"), "max-parts", DEFAULT_MAX_PARTS, 1)
        upload_id = q.get("uploadId", "")
        upload = self._model.uploads.get(bucket.name, key, upload_id)
        parts = [
            p for p in self._model.uploads.parts(bucket.name, key, upload_id) if p.number > marker
        ]
        page = parts[:max_parts]
        return render.list_parts_result(
            bucket.name,
            upload,
            page,
            marker=marker,
            max_parts=max_parts,
            truncated=len(parts) > max_parts,
            url=url,
        )


def content_md5(req: OssRequest) -> bytes | None:
    """The digest a Content-MD5 header names (None without one).

    Raises:
        InvalidDigest: the header is not the base64 of 16 bytes.
    """
    given = req.headers.get("content-md5")
    if given is None:
        return None
    try:
        digest = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest() from None
    if len(digest) != 16:
        raise InvalidDigest()
    return digest


def _number(text: str | None, name: str, default: int, minimum: int) -> int:
    if text is None or text == "":
        return default
    if not text.isdigit() or not minimum <= int(text) <= DEFAULT_MAX_PARTS * 10:
        raise InvalidArgument(f"{name} is invalid.", name=name, value=text)
    return int(text)


def _copy_range(headers: Mapping[str, str], size: int) -> tuple[int, int]:
    value = headers.get("x-oss-copy-source-range")
    if value is None:
        return 0, size
    first, sep, last = value.removeprefix(_RANGE_PREFIX).partition("-")
    if (
        not value.startswith(_RANGE_PREFIX)
        or not sep
        or not first.isdigit()
        or not (last.isdigit() or last == "")
    ):
        raise InvalidArgument(
            "The copy source range is invalid.", name="x-oss-copy-source-range", value=value
        )
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start > end:
        raise InvalidArgument(
            "The copy source range is invalid.", name="x-oss-copy-source-range", value=value
        )
    return start, end - start + 1
