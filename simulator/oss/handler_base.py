"""What every OSS operation handler shares: the call, authorisation, and running store I/O.

Authorisation: the only anonymous (unsigned) requests that get here are the reads in
:data:`ANONYMOUS_READS`, and they succeed only on an object whose ACL is public
(:mod:`simulator.oss.acl`); every other anonymous request is AccessDenied earlier. A principal may touch
a bucket only if its account owns the bucket; then the identity service evaluates the RAM
action on a concrete ARN ``acs:oss:<region>:<owner-account>:<bucket>[/<key>]`` (ListBuckets:
``acs:oss:<region>:<account>:*``), so policies written with ``*`` for region and account match.
The context carries ``acs:SourceIp``, ``acs:SecureTransport``, ``acs:CurrentTime`` and, for
listings, ``oss:Prefix`` and ``oss:Delimiter``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ParamSpec, TypeVar
from urllib.parse import unquote

from simulator.oss import acl as object_acl
from simulator.oss import responses as render
from simulator.oss.auth import Caller, IdentityService
from simulator.oss.errors import (
    AccessDenied,
    InternalError,
    InvalidArgument,
    InvalidDigest,
    NoSuchKey,
    NotImplementedByEmulator,
    OssError,
)
from simulator.oss.models import OssModel
from simulator.oss.names import check_bucket_name, check_object_key
from simulator.oss.payloads import check_tags
from simulator.oss.records import BucketRecord, ObjectFields
from simulator.oss.requests import OssRequest
from simulator.oss.settings import OssSettings
from simulator.oss.urls import Target

T = TypeVar("T")
P = ParamSpec("P")
DENIED = "You have no right to access this object because of bucket acl."
# The documented detail of a request no RAM policy allows.
POLICY_DENIED_EC = "0003-00000201"
# Operations an unsigned request may call, on objects whose ACL is public.
ANONYMOUS_READS = frozenset({"GetObject", "HeadObject"})


class _Nobody:
    """The principal of an unsigned request: it belongs to no account."""

    account_id = ""


# The caller of an unsigned request (see ANONYMOUS_READS).
ANONYMOUS = Caller(principal=_Nobody(), access_key_id="", scheme="anonymous")


@dataclass(slots=True)
class Call:
    """One authenticated request on its way through a handler.

    Attributes:
        op: the operation's name.
        action: the RAM action its declaration names (:mod:`simulator.oss.operations`).
    """

    op: str
    action: str
    req: OssRequest
    target: Target
    caller: Caller
    now: float


class HandlerBase:
    """State and helpers of the handlers.

    Args:
        model: the emulator state.
        identity: evaluates RAM policies.
        settings: limits and region.
    """

    def __init__(self, model: OssModel, identity: IdentityService, settings: OssSettings) -> None:
        self._model = model
        self._identity = identity
        self._settings = settings
        self._blocking = model.store.blocking
        self._time_second = -1
        self._time_text = ""

    def _current_time(self, now: float) -> str:
        # Formatted once per second: every request of that second shares the string.
        second = int(now)
        if second != self._time_second:
            self._time_second, self._time_text = second, render.iso8601(second)
        return self._time_text

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
            "acs:CurrentTime": self._current_time(call.now),
        }
        if extra:
            context.update(extra)
        if not self._identity.is_allowed(principal, action, resource, context):
            raise AccessDenied(DENIED, ec=POLICY_DENIED_EC)

    @staticmethod
    def _bucket_arn(bucket: BucketRecord) -> str:
        return f"acs:oss:{bucket.region}:{bucket.owner}:{bucket.name}"

    @staticmethod
    def _object_arn(bucket: BucketRecord, key: str) -> str:
        return f"acs:oss:{bucket.region}:{bucket.owner}:{bucket.name}/{key}"

    def _bucket_op(self, call: Call) -> BucketRecord:
        bucket = self._model.get_bucket(bucket_name(call))
        self._authorize(call, call.action, self._bucket_arn(bucket), bucket.owner)
        return bucket

    def _object_op(self, call: Call) -> tuple[BucketRecord, str]:
        bucket = self._model.get_bucket(bucket_name(call))
        key = object_key(call)
        if call.caller is ANONYMOUS and call.op in ANONYMOUS_READS:
            self._authorize_anonymous_read(bucket, key)
        else:
            self._authorize(call, call.action, self._object_arn(bucket, key), bucket.owner)
        return bucket, key

    def _authorize_anonymous_read(self, bucket: BucketRecord, key: str) -> None:
        # A missing key in a private bucket is AccessDenied for strangers, as on OSS: an
        # anonymous caller learns nothing about what the bucket holds.
        try:
            record = self._model.head_object(bucket.name, key)
        except NoSuchKey:
            raise AccessDenied(DENIED) from None
        if not object_acl.publicly_readable(
            record.acl, block_public_access=bucket.block_public_access
        ):
            raise AccessDenied(DENIED)

    def _set_acl_allowed(self, call: Call, bucket: BucketRecord, key: str, acl: str) -> None:
        """Refuse setting ``acl`` on the object unless the caller may and the bucket allows it.

        Setting an object ACL, by PutObjectAcl or by ``x-oss-object-acl`` on an upload, needs
        ``oss:PutObjectAcl`` (:mod:`simulator.oss.acl`), on top of the upload's own action.
        """
        self._authorize(call, "oss:PutObjectAcl", self._object_arn(bucket, key), bucket.owner)
        object_acl.check_not_blocked(acl, block_public_access=bucket.block_public_access)

    def _requested_acl(self, call: Call, bucket: BucketRecord, key: str) -> str:
        """The ACL an upload's ``x-oss-object-acl`` asks for (checked), else ``default``."""
        value = call.req.headers.get(object_acl.HEADER)
        if value is None:
            return object_acl.DEFAULT
        acl = object_acl.parse_acl(value)
        self._set_acl_allowed(call, bucket, key, acl)
        return acl

    def _upload_fields(self, call: Call, bucket: BucketRecord, key: str) -> ObjectFields:
        """What an upload stores besides the bytes, its requested ACL checked."""
        fields = stored_fields(call.req.headers)
        return replace(fields, acl=self._requested_acl(call, bucket, key))


def bucket_name(call: Call) -> str:
    # The dispatcher only routes bucket and object operations here.
    if call.target.bucket is None:
        raise InternalError()
    return call.target.bucket


def object_key(call: Call) -> str:
    if call.target.key is None:
        raise InternalError()
    return call.target.key


def check_md5(req: OssRequest, body: bytes) -> None:
    given = req.headers.get("content-md5")
    if given is None:
        return
    try:
        expected = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest() from None
    if len(expected) != 16 or expected != hashlib.md5(body, usedforsecurity=False).digest():
        raise InvalidDigest()


_STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)


def stored_fields(headers: Mapping[str, str]) -> ObjectFields:
    """What a Put, Append or InitiateMultipartUpload stores besides the bytes.

    Raises:
        InvalidArgument: ``x-oss-tagging`` breaks OSS's tag rules.
    """
    meta = {name[11:]: value for name, value in headers.items() if name.startswith("x-oss-meta-")}
    stored = {name: headers[name] for name in _STORED_HEADERS if name in headers}
    tagging = headers.get("x-oss-tagging")
    tags: dict[str, str] = {}
    if tagging:
        # Query-string form, each key and value URL-encoded (``a=1&b=x%20y``).
        pairs = [
            (unquote(k), unquote(v))
            for k, _, v in (item.partition("=") for item in tagging.split("&") if item)
        ]
        tags = check_tags(pairs, source="x-oss-tagging")
    return ObjectFields(headers.get("content-type") or None, meta, stored, tags)


def encoding_is_url(query: Mapping[str, str]) -> bool:
    """Whether ``encoding-type=url`` was asked for.

    Raises:
        InvalidArgument: another encoding type.
    """
    encoding = query.get("encoding-type")
    if encoding is None or encoding == "":
        return False
    if encoding != "url":
        raise InvalidArgument(
            "encoding-type can only be url.", name="encoding-type", value=encoding
        )
    return True


def copy_source(headers: Mapping[str, str]) -> tuple[str, str]:
    """The (bucket, key) an ``x-oss-copy-source`` header names (``/bucket/url-encoded-key``).

    Raises:
        NotImplemented: a version id is asked for.
        InvalidArgument: not a valid bucket and key.
    """
    source = headers["x-oss-copy-source"]
    if "?" in source:
        raise NotImplementedByEmulator("Copying a specific object version")
    src_bucket, _, src_key = unquote(source).removeprefix("/").partition("/")
    try:
        check_bucket_name(src_bucket)
        check_object_key(src_key)
    except OssError:
        raise InvalidArgument(
            "The copy source is invalid.", name="x-oss-copy-source", value=source
        ) from None
    return src_bucket, src_key
