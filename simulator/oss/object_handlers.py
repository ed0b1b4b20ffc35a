"""Handlers of object-level operations: put, append, copy, get, head, meta, ACL, delete."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from urllib.parse import quote, unquote

from simulator.oss import acl as object_acl
from simulator.oss import cors
from simulator.oss import responses as render
from simulator.oss.errors import InvalidArgument, OssError
from simulator.oss.handler_base import Call, bucket_name, check_md5, copy_source, stored_fields
from simulator.oss.multipart_handlers import MultipartHandlers
from simulator.oss.names import check_object_key
from simulator.oss.payloads import parse_tagging
from simulator.oss.preconditions import check_preconditions
from simulator.oss.ranges import select_range
from simulator.oss.requests import OssRequest
from simulator.oss.responses import Header, Response
from simulator.oss.storage import ObjectReader

_OVERRIDES = {
    "response-content-type": b"content-type",
    "response-content-language": b"content-language",
    "response-expires": b"expires",
    "response-cache-control": b"cache-control",
    "response-content-disposition": b"content-disposition",
    "response-content-encoding": b"content-encoding",
}


class ObjectHandlers(MultipartHandlers):
    """PutObject, AppendObject, CopyObject, GetObject, HeadObject, GetObjectMeta, DeleteObject
    (and the multipart operations it inherits)."""

    async def put_object(self, call: Call) -> Response:
        """PUT /<bucket>/<key> — store a Normal object."""
        bucket, key = self._object_op(call)
        fields = self._upload_fields(call, bucket, key)
        body = await call.req.read_body(self._settings.max_object_size, require_length=True)
        check_md5(call.req, body)
        record = await self._run(
            self._model.put_object,
            bucket.name,
            key,
            body,
            fields,
            now=call.now,
            forbid_overwrite=_forbid_overwrite(call.req),
        )
        return Response(
            200,
            [
                (b"etag", f'"{record.etag}"'.encode("ascii")),
                (b"x-oss-hash-crc64ecma", str(record.crc64).encode("ascii")),
                (b"content-md5", base64.b64encode(bytes.fromhex(record.etag))),
            ],
        )

    async def append_object(self, call: Call) -> Response:
        """POST /<bucket>/<key>?append&position=N — append at the object's current length."""
        position_text = call.req.query.get("position")
        if position_text is None:
            raise InvalidArgument(
                "The position parameter is missing.",
                name="position",
                value="",
                ec="0016-00000501",
            )
        if not position_text.isdigit():
            raise InvalidArgument(
                "The position parameter is invalid.",
                name="position",
                value=position_text,
                ec="0016-00000502",
            )
        bucket, key = self._object_op(call)
        # Only the append that creates the object applies the ACL; any append naming one
        # still needs the right to set it.
        fields = self._upload_fields(call, bucket, key)
        body = await call.req.read_body(self._settings.max_append_object_size, require_length=True)
        check_md5(call.req, body)
        record = await self._run(
            self._model.append_object,
            bucket.name,
            key,
            int(position_text),
            body,
            fields,
            now=call.now,
        )
        return Response(
            200,
            [
                (b"etag", f'"{record.etag}"'.encode("ascii")),
                (b"x-oss-next-append-position", str(record.size).encode("ascii")),
                (b"x-oss-hash-crc64ecma", str(record.crc64).encode("ascii")),
            ],
        )

    async def copy_object(self, call: Call) -> Response:
        """PUT /<bucket>/<key> with x-oss-copy-source — copy a Normal object (same account)."""
        src_bucket_name, src_key = copy_source(call.req.headers)
        directive = call.req.headers.get("x-oss-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise InvalidArgument(
                "Invalid metadata directive.", name="x-oss-metadata-directive", value=directive
            )
        src_bucket = self._model.get_bucket(src_bucket_name)
        self._authorize(
            call, "oss:GetObject", self._object_arn(src_bucket, src_key), src_bucket.owner
        )
        bucket, key = self._object_op(call)
        acl = self._requested_acl(call, bucket, key)
        await call.req.drain(self._settings.max_drain_bytes)
        record = await self._run(
            self._model.copy_object,
            src_bucket.name,
            src_key,
            bucket.name,
            key,
            fields=None if directive == "COPY" else stored_fields(call.req.headers),
            now=call.now,
            forbid_overwrite=_forbid_overwrite(call.req),
            acl=acl,
        )
        return render.copy_result(record)

    async def get_object(self, call: Call) -> Response:
        """GET /<bucket>/<key> — the object, or one byte range of it."""
        bucket, key = self._object_op(call)
        record, reader = self._model.open_object(bucket.name, key)
        headers = _with_overrides(render.object_headers(record), call.req.query)
        standard = call.req.headers.get("x-oss-range-behavior", "").lower() == "standard"
        try:
            check_preconditions(call.req.headers, record)
            span = select_range(call.req.headers.get("range"), record.size, standard=standard)
        except OssError:
            reader.close()
            raise
        status = 200
        start, length = 0, record.size
        if span is not None:
            status = 206
            start, length = span[0], span[1] - span[0] + 1
            headers.append(
                (b"content-range", f"bytes {span[0]}-{span[1]}/{record.size}".encode("ascii"))
            )
        if length <= self._settings.read_chunk_size:
            try:
                body = reader.read(start, length)
            finally:
                reader.close()
            return Response(status, headers, body)
        return Response(
            status,
            headers,
            stream=_chunks(reader, start, length, self._settings.read_chunk_size),
            length=length,
        )

    async def head_object(self, call: Call) -> Response:
        """HEAD /<bucket>/<key> — the object's headers."""
        bucket, key = self._object_op(call)
        record = self._model.follow(bucket.name, self._model.head_object(bucket.name, key))
        check_preconditions(call.req.headers, record)
        return Response(200, render.object_headers(record), length=record.size)

    async def get_object_meta(self, call: Call) -> Response:
        """HEAD /<bucket>/<key>?objectMeta — ETag, size and modification time only."""
        bucket, key = self._object_op(call)
        record = self._model.head_object(bucket.name, key)
        headers: list[Header] = [
            (b"etag", f'"{record.etag}"'.encode("ascii")),
            (b"last-modified", render.http_date(record.mtime).encode("ascii")),
        ]
        return Response(200, headers, length=record.size)

    async def options(self, call: Call) -> Response:
        """OPTIONS /<bucket>/<key> — a CORS preflight, answered from the bucket's rules."""
        bucket = self._model.get_bucket(bucket_name(call))
        return Response(200, cors.preflight(bucket.cors, call.req.headers))

    async def put_symlink(self, call: Call) -> Response:
        """PUT /<bucket>/<key>?symlink with x-oss-symlink-target — a symlink in the bucket."""
        raw_target = call.req.headers.get("x-oss-symlink-target", "")
        target = unquote(raw_target)
        try:
            check_object_key(target)
        except OssError:
            raise InvalidArgument(
                "The symlink target is invalid.", name="x-oss-symlink-target", value=raw_target
            ) from None
        bucket, key = self._object_op(call)
        fields = self._upload_fields(call, bucket, key)
        await call.req.drain(self._settings.max_drain_bytes)
        record = await self._run(
            self._model.put_symlink,
            bucket.name,
            key,
            target,
            fields,
            now=call.now,
        )
        return Response(200, [(b"etag", f'"{record.etag}"'.encode("ascii"))])

    async def get_symlink(self, call: Call) -> Response:
        """GET /<bucket>/<key>?symlink — where a symlink points."""
        bucket, key = self._object_op(call)
        record = self._model.get_symlink(bucket.name, key)
        target = quote(record.symlink_target or "", safe="")
        return Response(
            200,
            [
                (b"x-oss-symlink-target", target.encode("ascii")),
                (b"etag", f'"{record.etag}"'.encode("ascii")),
                (b"last-modified", render.http_date(record.mtime).encode("ascii")),
            ],
        )

    async def put_object_tagging(self, call: Call) -> Response:
        """PUT /<bucket>/<key>?tagging — replace the object's tags."""
        bucket, key = self._object_op(call)
        body = await call.req.read_body(self._settings.max_xml_body)
        check_md5(call.req, body)
        await self._run(self._model.set_tags, bucket.name, key, parse_tagging(body))
        return Response(200)

    async def get_object_tagging(self, call: Call) -> Response:
        """GET /<bucket>/<key>?tagging — the object's tags."""
        bucket, key = self._object_op(call)
        return render.tagging(self._model.head_object(bucket.name, key).tags)

    async def delete_object_tagging(self, call: Call) -> Response:
        """DELETE /<bucket>/<key>?tagging — remove the object's tags."""
        bucket, key = self._object_op(call)
        await self._run(self._model.set_tags, bucket.name, key, {})
        return Response(204)

    async def put_object_acl(self, call: Call) -> Response:
        """PUT /<bucket>/<key>?acl with x-oss-object-acl — set the object's ACL."""
        bucket, key = self._object_op(call)
        acl = object_acl.parse_acl(call.req.headers.get(object_acl.HEADER))
        object_acl.check_not_blocked(acl, block_public_access=bucket.block_public_access)
        await call.req.drain(self._settings.max_drain_bytes)
        await self._run(self._model.set_acl, bucket.name, key, acl)
        return Response(200)

    async def get_object_acl(self, call: Call) -> Response:
        """GET /<bucket>/<key>?acl — the object's ACL (``default`` when it follows the bucket)."""
        bucket, key = self._object_op(call)
        return render.object_acl(bucket.owner, self._model.head_object(bucket.name, key).acl)

    async def delete_object(self, call: Call) -> Response:
        """DELETE /<bucket>/<key> — 204 whether or not the key existed."""
        bucket, key = self._object_op(call)
        await self._run(self._model.delete_object, bucket.name, key)
        return Response(204)


def _forbid_overwrite(req: OssRequest) -> bool:
    return req.headers.get("x-oss-forbid-overwrite", "false").lower() == "true"


def _with_overrides(headers: list[Header], query: Mapping[str, str]) -> list[Header]:
    overrides = {_OVERRIDES[name]: value for name, value in query.items() if name in _OVERRIDES}
    if not overrides:
        return headers
    kept = [(n, v) for n, v in headers if n not in overrides]
    kept.extend((n, v.encode("latin-1", "replace")) for n, v in overrides.items())
    return kept


def _chunks(reader: ObjectReader, start: int, length: int, chunk: int) -> Iterator[bytes]:
    try:
        position, remaining = start, length
        while remaining > 0:
            data = reader.read(position, min(chunk, remaining))
            if not data:
                return
            yield data
            position += len(data)
            remaining -= len(data)
    finally:
        reader.close()
