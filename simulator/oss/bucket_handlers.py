"""Handlers of service- and bucket-level operations: buckets, lifecycle, listings, batch delete.

A batch delete needs ``oss:DeleteObject`` on every key and is refused as a whole otherwise.
"""

from __future__ import annotations

from simulator.oss import cors, multipart_xml
from simulator.oss import responses as render
from simulator.oss.errors import AccessDenied, InvalidArgument, InvalidDigest
from simulator.oss.handler_base import (
    DENIED,
    Call,
    HandlerBase,
    bucket_name,
    check_md5,
    encoding_is_url,
)
from simulator.oss.listing import decode_token, encode_token
from simulator.oss.payloads import (
    parse_create_bucket,
    parse_delete,
    parse_lifecycle,
    parse_public_access_block,
)
from simulator.oss.responses import Response

_ACLS = ("private", "public-read", "public-read-write")


class BucketHandlers(HandlerBase):
    """ListBuckets, Put/Delete/GetBucketInfo/Location, lifecycle, Block Public Access,
    ListObjects(V2), batch delete."""

    async def list_buckets(self, call: Call) -> Response:
        """GET / — the caller's account's buckets."""
        account = call.caller.principal.account_id
        self._authorize(call, call.action, f"acs:oss:{self._settings.region}:{account}:*", None)
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
        name = bucket_name(call)
        account = call.caller.principal.account_id
        region = self._settings.region
        self._authorize(call, call.action, f"acs:oss:{region}:{account}:{name}", None)
        acl = call.req.headers.get("x-oss-acl", "private")
        if acl not in _ACLS:
            raise InvalidArgument("Unsupported ACL.", name="x-oss-acl", value=acl)
        body = await call.req.read_body(self._settings.max_xml_body)
        check_md5(call.req, body)
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
        bucket = self._bucket_op(call)
        await self._run(self._model.delete_bucket, bucket.name)
        return Response(204)

    async def get_bucket_info(self, call: Call) -> Response:
        """GET /<bucket>/?bucketInfo."""
        return render.bucket_info(self._bucket_op(call))

    async def get_bucket_location(self, call: Call) -> Response:
        """GET /<bucket>/?location."""
        return render.bucket_location(self._bucket_op(call))

    async def put_bucket_lifecycle(self, call: Call) -> Response:
        """PUT /<bucket>/?lifecycle — replace the expiration rules."""
        bucket = self._bucket_op(call)
        body = await call.req.read_body(self._settings.max_xml_body)
        check_md5(call.req, body)
        await self._run(self._model.put_lifecycle, bucket.name, parse_lifecycle(body))
        return Response(200)

    async def get_bucket_lifecycle(self, call: Call) -> Response:
        """GET /<bucket>/?lifecycle."""
        bucket = self._bucket_op(call)
        return render.lifecycle(self._model.get_lifecycle(bucket.name))

    async def delete_bucket_lifecycle(self, call: Call) -> Response:
        """DELETE /<bucket>/?lifecycle."""
        bucket = self._bucket_op(call)
        await self._run(self._model.delete_lifecycle, bucket.name)
        return Response(204)

    async def put_public_access_block(self, call: Call) -> Response:
        """PUT /<bucket>/?publicAccessBlock — turn Block Public Access on or off."""
        bucket = self._bucket_op(call)
        body = await call.req.read_body(self._settings.max_xml_body)
        check_md5(call.req, body)
        block = parse_public_access_block(body)
        await self._run(self._model.put_public_access_block, bucket.name, block=block)
        return Response(200)

    async def get_public_access_block(self, call: Call) -> Response:
        """GET /<bucket>/?publicAccessBlock."""
        bucket = self._bucket_op(call)
        return render.public_access_block(bucket.block_public_access)

    async def delete_public_access_block(self, call: Call) -> Response:
        """DELETE /<bucket>/?publicAccessBlock — back to the default (off)."""
        bucket = self._bucket_op(call)
        await self._run(self._model.put_public_access_block, bucket.name, block=False)
        return Response(204)

    async def put_bucket_cors(self, call: Call) -> Response:
        """PUT /<bucket>/?cors — replace the CORS rules."""
        bucket = self._bucket_op(call)
        body = await call.req.read_body(self._settings.max_xml_body)
        check_md5(call.req, body)
        await self._run(self._model.put_cors, bucket.name, cors.parse(body))
        return Response(200)

    async def get_bucket_cors(self, call: Call) -> Response:
        """GET /<bucket>/?cors."""
        bucket = self._bucket_op(call)
        if bucket.cors is None:
            raise cors.NoSuchCORSConfiguration(bucket.name)
        return render.xml_response(cors.render(bucket.cors))

    async def delete_bucket_cors(self, call: Call) -> Response:
        """DELETE /<bucket>/?cors — remove the CORS rules (no error when there are none)."""
        bucket = self._bucket_op(call)
        await self._run(self._model.put_cors, bucket.name, None)
        return Response(204)

    async def list_objects(self, call: Call) -> Response:
        """GET /<bucket>/ — ListObjects (V1) or, with ``list-type=2``, ListObjectsV2."""
        q = call.req.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        max_keys = _max_keys(q.get("max-keys"))
        url = encoding_is_url(q)
        bucket = self._model.get_bucket(bucket_name(call))
        self._authorize(
            call,
            call.action,
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
        url = encoding_is_url(call.req.query)
        bucket = self._model.get_bucket(bucket_name(call))
        if bucket.owner != call.caller.principal.account_id:
            raise AccessDenied(DENIED)
        body = await call.req.read_body(self._settings.max_xml_body, require_length=True)
        if "content-md5" not in call.req.headers:
            raise InvalidDigest("Missing required header for this request: Content-MD5.")
        check_md5(call.req, body)
        quiet, keys = parse_delete(body)
        for key in keys:
            self._authorize(call, call.action, self._object_arn(bucket, key), bucket.owner)
        for key in keys:
            await self._run(self._model.delete_object, bucket.name, key)
        return render.delete_result([] if quiet else keys, url=url)

    async def list_multipart_uploads(self, call: Call) -> Response:
        """GET /<bucket>?uploads — uploads in progress, by key and upload id markers."""
        bucket = self._bucket_op(call)
        q = call.req.query
        url = encoding_is_url(q)
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        key_marker, upload_id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
        max_uploads = _max_keys(q.get("max-uploads"), name="max-uploads", default=1000)
        page = self._model.uploads.list_uploads(
            bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
        return multipart_xml.list_uploads_result(
            bucket.name,
            page,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
            url=url,
        )


def _max_keys(value: str | None, *, name: str = "max-keys", default: int = 100) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise InvalidArgument(f"{name} must be an integer from 1 to 1000.", name=name, value=value)
    return int(value)
