"""One handler per OSS operation: authorise, read the body, call the model, render.

Authorisation: anonymous requests never get here (AccessDenied earlier). A principal may touch
a bucket only if its account owns the bucket; then the identity service evaluates the RAM
action on a concrete ARN ``acs:oss:<region>:<owner-account>:<bucket>[/<key>]`` (ListBuckets:
``acs:oss:<region>:<account>:*``), so policies written with ``*`` for region and account match.
A batch delete needs ``oss:DeleteObject`` on every key and is refused as a whole otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote

from simulator.oss import responses as render
from simulator.oss.auth import Caller, IdentityService
from simulator.oss.errors import (
    AccessDenied,
    InternalError,
    InvalidArgument,
    InvalidDigest,
    NotImplementedByEmulator,
    OssError,
)
from simulator.oss.listing import decode_token, encode_token
from simulator.oss.models import ObjectFields, OssModel
from simulator.oss.names import check_bucket_name, check_object_key
from simulator.oss.payloads import parse_create_bucket, parse_delete, parse_lifecycle
from simulator.oss.preconditions import check_preconditions
from simulator.oss.ranges import select_range
from simulator.oss.records import BucketRecord
from simulator.oss.requests import OssRequest
from simulator.oss.responses import Header, Response
from simulator.oss.settings import OssSettings
from simulator.oss.storage import ObjectReader
from simulator.oss.urls import Target

T = TypeVar("T")
P = ParamSpec("P")
_STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)
_OVERRIDES = {
    "response-content-type": b"content-type",
    "response-content-language": b"content-language",
    "response-expires": b"expires",
    "response-cache-control": b"cache-control",
    "response-content-disposition": b"content-disposition",
    "response-content-encoding": b"content-encoding",
}
_ACLS = ("private", "public-read", "public-read-write")
DENIED = "You have no right to access this object because of bucket acl."


@dataclass(slots=True)
class Call:
    """One authenticated request on its way through a handler."""

    op: str
    req: OssRequest
    target: Target
    caller: Caller
    now: float


class Handlers:
    """The operation handlers.

    Args:
        model: the emulator state.
        identity: evaluates RAM policies.
        settings: limits and region.
    """

    def __init__(
        self, model: OssModel, identity: IdentityService[Any], settings: OssSettings
    ) -> None:
        self._model = model
        self._identity = identity
        self._settings = settings
        self._blocking = model.store.blocking
        self._table: dict[str, Callable[[Call], Awaitable[Response]]] = {
            "ListBuckets": self.list_buckets,
            "PutBucket": self.put_bucket,
            "DeleteBucket": self.delete_bucket,
            "GetBucketInfo": self.get_bucket_info,
            "GetBucketLocation": self.get_bucket_location,
            "ListObjects": self.list_objects,
            "ListObjectsV2": self.list_objects,
            "PutBucketLifecycle": self.put_bucket_lifecycle,
            "GetBucketLifecycle": self.get_bucket_lifecycle,
            "DeleteBucketLifecycle": self.delete_bucket_lifecycle,
            "DeleteMultipleObjects": self.delete_multiple_objects,
            "PutObject": self.put_object,
            "CopyObject": self.copy_object,
            "AppendObject": self.append_object,
            "GetObject": self.get_object,
            "HeadObject": self.head_object,
            "GetObjectMeta": self.get_object_meta,
            "DeleteObject": self.delete_object,
        }

    async def handle(self, call: Call) -> Response:
        """Run the handler of ``call.op``."""
        return await self._table[call.op](call)

    # ---- helpers --------------------------------------------------------------------------

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # A store that fsyncs would stall the event loop: run its writes in a worker thread.
        # The model's per-key locks keep position checks atomic across threads.
        if not self._blocking:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    def _authorize(
        self,
        call: Call,
        action: str,
        resource: str,
        owner: str | None,
        extra: Mapping[str, str | Sequence[str]] | None = None,
    ) -> None:
        principal = call.caller.principal
        if owner is not None and principal.account_id != owner:
            raise AccessDenied(DENIED)
        context: dict[str, str | Sequence[str]] = {
            "acs:SourceIp": call.req.client_ip,
            "acs:SecureTransport": "true" if call.req.secure else "false",
            "acs:CurrentTime": render.iso8601(call.now),
        }
        if extra:
            context.update(extra)
        if not self._identity.is_allowed(principal, action, resource, context):
            raise AccessDenied(DENIED)

    @staticmethod
    def _bucket_arn(bucket: BucketRecord) -> str:
        return f"acs:oss:{bucket.region}:{bucket.owner}:{bucket.name}"

    @staticmethod
    def _object_arn(bucket: BucketRecord, key: str) -> str:
        return f"acs:oss:{bucket.region}:{bucket.owner}:{bucket.name}/{key}"

    def _bucket_op(self, call: Call, action: str) -> BucketRecord:
        bucket = self._model.get_bucket(_bucket_name(call))
        self._authorize(call, action, self._bucket_arn(bucket), bucket.owner)
        return bucket

    def _object_op(self, call: Call, action: str) -> tuple[BucketRecord, str]:
        bucket = self._model.get_bucket(_bucket_name(call))
        key = _key(call)
        self._authorize(call, action, self._object_arn(bucket, key), bucket.owner)
        return bucket, key

    # ---- service and buckets --------------------------------------------------------------

    async def list_buckets(self, call: Call) -> Response:
        """GET / — the caller's account's buckets."""
        account = call.caller.principal.account_id
        self._authorize(
            call, "oss:ListBuckets", f"acs:oss:{self._settings.region}:{account}:*", None
        )
        q = call.req.query
        prefix, marker = q.get("prefix", ""), q.get("marker", "")
        max_keys = _max_keys(q.get("max-keys"))
        buckets, truncated = self._model.list_buckets(
            account, prefix=prefix, marker=marker, max_keys=max_keys
        )
        return render.list_buckets(
            account, buckets, prefix=prefix, marker=marker, max_keys=max_keys, truncated=truncated
        )

    async def put_bucket(self, call: Call) -> Response:
        """PUT /<bucket>/ — create a bucket owned by the caller's account."""
        name = _bucket_name(call)
        account = call.caller.principal.account_id
        region = self._settings.region
        self._authorize(call, "oss:PutBucket", f"acs:oss:{region}:{account}:{name}", None)
        acl = call.req.headers.get("x-oss-acl", "private")
        if acl not in _ACLS:
            raise InvalidArgument("Unsupported ACL.", name="x-oss-acl", value=acl)
        body = await call.req.read_body(self._settings.max_xml_body)
        _check_md5(call.req, body)
        storage_class = parse_create_bucket(body)
        await self._run(
            self._model.create_bucket,
            name,
            owner=account,
            region=region,
            now=call.now,
            storage_class=storage_class,
        )
        return Response(200, [(b"location", f"/{name}".encode())])

    async def delete_bucket(self, call: Call) -> Response:
        """DELETE /<bucket>/ — delete an empty bucket."""
        bucket = self._bucket_op(call, "oss:DeleteBucket")
        await self._run(self._model.delete_bucket, bucket.name)
        return Response(204)

    async def get_bucket_info(self, call: Call) -> Response:
        """GET /<bucket>/?bucketInfo."""
        return render.bucket_info(self._bucket_op(call, "oss:GetBucketInfo"))

    async def get_bucket_location(self, call: Call) -> Response:
        """GET /<bucket>/?location."""
        return render.bucket_location(self._bucket_op(call, "oss:GetBucketLocation"))

    async def put_bucket_lifecycle(self, call: Call) -> Response:
        """PUT /<bucket>/?lifecycle — replace the expiration rules."""
        bucket = self._bucket_op(call, "oss:PutBucketLifecycle")
        body = await call.req.read_body(self._settings.max_xml_body)
        _check_md5(call.req, body)
        await self._run(self._model.put_lifecycle, bucket.name, parse_lifecycle(body))
        return Response(200)

    async def get_bucket_lifecycle(self, call: Call) -> Response:
        """GET /<bucket>/?lifecycle."""
        bucket = self._bucket_op(call, "oss:GetBucketLifecycle")
        return render.lifecycle(self._model.get_lifecycle(bucket.name))

    async def delete_bucket_lifecycle(self, call: Call) -> Response:
        """DELETE /<bucket>/?lifecycle."""
        bucket = self._bucket_op(call, "oss:DeleteBucketLifecycle")
        await self._run(self._model.delete_lifecycle, bucket.name)
        return Response(204)

    async def list_objects(self, call: Call) -> Response:
        """GET /<bucket>/ — ListObjects (V1) or, with ``list-type=2``, ListObjectsV2."""
        q = call.req.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        max_keys = _max_keys(q.get("max-keys"))
        url = _encoding_is_url(q)
        bucket = self._model.get_bucket(_bucket_name(call))
        self._authorize(
            call,
            "oss:ListObjects",
            self._bucket_arn(bucket),
            bucket.owner,
            {"oss:Prefix": prefix, "oss:Delimiter": delimiter},
        )
        if call.op == "ListObjects":
            marker = q.get("marker", "")
            page = self._model.list_objects(
                bucket.name, prefix=prefix, delimiter=delimiter, after=marker, max_keys=max_keys
            )
            return render.list_objects_v1(
                bucket,
                page,
                prefix=prefix,
                marker=marker,
                delimiter=delimiter,
                max_keys=max_keys,
                url=url,
            )
        token = q.get("continuation-token", "")
        start_after = q.get("start-after", "")
        after = decode_token(token) if token else start_after
        fetch_owner = q.get("fetch-owner", "false").lower()
        if fetch_owner not in ("true", "false"):
            raise InvalidArgument(
                "fetch-owner must be true or false.", name="fetch-owner", value=fetch_owner
            )
        page = self._model.list_objects(
            bucket.name, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )
        return render.list_objects_v2(
            bucket,
            page,
            prefix=prefix,
            delimiter=delimiter,
            start_after=start_after,
            token=token,
            next_token=encode_token(page.next_marker)
            if page.truncated and page.next_marker
            else None,
            max_keys=max_keys,
            url=url,
            fetch_owner=fetch_owner == "true",
        )

    async def delete_multiple_objects(self, call: Call) -> Response:
        """POST /<bucket>/?delete — delete up to 1000 keys."""
        url = _encoding_is_url(call.req.query)
        bucket = self._model.get_bucket(_bucket_name(call))
        if bucket.owner != call.caller.principal.account_id:
            raise AccessDenied(DENIED)
        body = await call.req.read_body(self._settings.max_xml_body, require_length=True)
        if "content-md5" not in call.req.headers:
            raise InvalidDigest("Missing required header for this request: Content-MD5.")
        _check_md5(call.req, body)
        quiet, keys = parse_delete(body)
        for key in keys:
            self._authorize(call, "oss:DeleteObject", self._object_arn(bucket, key), bucket.owner)
        for key in keys:
            await self._run(self._model.delete_object, bucket.name, key)
        return render.delete_result([] if quiet else keys, url=url)

    # ---- objects --------------------------------------------------------------------------

    async def put_object(self, call: Call) -> Response:
        """PUT /<bucket>/<key> — store a Normal object."""
        bucket, key = self._object_op(call, "oss:PutObject")
        body = await call.req.read_body(self._settings.max_object_size, require_length=True)
        _check_md5(call.req, body)
        record = await self._run(
            self._model.put_object,
            bucket.name,
            key,
            body,
            _fields(call.req.headers),
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
            raise InvalidArgument("The position parameter is missing.", name="position", value="")
        if not position_text.isdigit():
            raise InvalidArgument(
                "The position parameter is invalid.", name="position", value=position_text
            )
        bucket, key = self._object_op(call, "oss:PutObject")
        body = await call.req.read_body(self._settings.max_append_object_size, require_length=True)
        _check_md5(call.req, body)
        record = await self._run(
            self._model.append_object,
            bucket.name,
            key,
            int(position_text),
            body,
            _fields(call.req.headers),
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
        source = call.req.headers["x-oss-copy-source"]
        if "?" in source:
            raise NotImplementedByEmulator("Copying a specific object version")
        src_path = unquote(source)
        src_bucket_name, _, src_key = src_path.removeprefix("/").partition("/")
        try:
            check_bucket_name(src_bucket_name)
            check_object_key(src_key)
        except OssError:
            raise InvalidArgument(
                "The copy source is invalid.", name="x-oss-copy-source", value=source
            ) from None
        directive = call.req.headers.get("x-oss-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise InvalidArgument(
                "Invalid metadata directive.", name="x-oss-metadata-directive", value=directive
            )
        src_bucket = self._model.get_bucket(src_bucket_name)
        self._authorize(
            call, "oss:GetObject", self._object_arn(src_bucket, src_key), src_bucket.owner
        )
        bucket, key = self._object_op(call, "oss:PutObject")
        await call.req.drain(self._settings.max_drain_bytes)
        record = await self._run(
            self._model.copy_object,
            src_bucket.name,
            src_key,
            bucket.name,
            key,
            fields=None if directive == "COPY" else _fields(call.req.headers),
            now=call.now,
            forbid_overwrite=_forbid_overwrite(call.req),
        )
        return render.copy_result(record)

    async def get_object(self, call: Call) -> Response:
        """GET /<bucket>/<key> — the object, or one byte range of it."""
        bucket, key = self._object_op(call, "oss:GetObject")
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
        bucket, key = self._object_op(call, "oss:GetObject")
        record = self._model.head_object(bucket.name, key)
        check_preconditions(call.req.headers, record)
        return Response(200, render.object_headers(record), length=record.size)

    async def get_object_meta(self, call: Call) -> Response:
        """HEAD /<bucket>/<key>?objectMeta — ETag, size and modification time only."""
        bucket, key = self._object_op(call, "oss:GetObject")
        record = self._model.head_object(bucket.name, key)
        headers: list[Header] = [
            (b"etag", f'"{record.etag}"'.encode("ascii")),
            (b"last-modified", render.http_date(record.mtime).encode("ascii")),
        ]
        return Response(200, headers, length=record.size)

    async def delete_object(self, call: Call) -> Response:
        """DELETE /<bucket>/<key> — 204 whether or not the key existed."""
        bucket, key = self._object_op(call, "oss:DeleteObject")
        await self._run(self._model.delete_object, bucket.name, key)
        return Response(204)


def _bucket_name(call: Call) -> str:
    # The dispatcher only routes bucket and object operations here.
    if call.target.bucket is None:
        raise InternalError()
    return call.target.bucket


def _key(call: Call) -> str:
    if call.target.key is None:
        raise InternalError()
    return call.target.key


def _fields(headers: Mapping[str, str]) -> ObjectFields:
    meta = {name[11:]: value for name, value in headers.items() if name.startswith("x-oss-meta-")}
    stored = {name: headers[name] for name in _STORED_HEADERS if name in headers}
    return ObjectFields(headers.get("content-type") or None, meta, stored)


def _forbid_overwrite(req: OssRequest) -> bool:
    return req.headers.get("x-oss-forbid-overwrite", "false").lower() == "true"


def _check_md5(req: OssRequest, body: bytes) -> None:
    given = req.headers.get("content-md5")
    if given is None:
        return
    try:
        expected = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest() from None
    if len(expected) != 16 or expected != hashlib.md5(body, usedforsecurity=False).digest():
        raise InvalidDigest()


def _max_keys(value: str | None) -> int:
    if value is None or value == "":
        return 100
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise InvalidArgument(
            "max-keys must be an integer from 1 to 1000.", name="max-keys", value=value
        )
    return int(value)


def _encoding_is_url(query: Mapping[str, str]) -> bool:
    encoding = query.get("encoding-type")
    if encoding is None or encoding == "":
        return False
    if encoding != "url":
        raise InvalidArgument(
            "encoding-type can only be url.", name="encoding-type", value=encoding
        )
    return True


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
