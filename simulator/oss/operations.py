"""Every OSS operation the emulator knows, each declared once in :data:`OPERATIONS`.

A declaration names the operation as the Alibaba Cloud API reference does, the level it works
on (service, bucket or object), the HTTP method and the sub-resources that select it, the RAM
action a caller needs, and the handler that serves it. Everything else derives from it:

- routing (:func:`select`): which operation a request is, or why it is refused;
- authorisation: the handler checks :attr:`Operation.action`, handed over in the call;
- fault classification and statistics (:func:`classify`): the emulator's fault rules and
  counters are keyed by the same names, including operations real OSS has but this emulator
  does not serve (declared with no handler; answered ``501 NotImplemented``).

Selection follows real OSS: query parameters that are not OSS sub-resources (``prefix``,
``max-keys``) never select anything; the set of selecting sub-resources must equal an
operation's own set; a sub-resource no served operation uses is ``501 NotImplemented``; two
sub-resources that select nothing together are ``400 InvalidArgument``; a method that makes no
sense on the target is ``405 MethodNotAllowed``.

Adding an operation (the moto rule: one declaration, next to nothing else) is three edits: its
handler method in ``bucket_handlers`` (service and bucket level) or ``object_handlers``, the
model change in ``models``, and its line here (or the handler added to its existing line).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.oss.bucket_handlers import BucketHandlers
from simulator.oss.errors import InvalidArgument, MethodNotAllowed, NotImplementedByEmulator
from simulator.oss.handler_base import Call
from simulator.oss.object_handlers import ObjectHandlers
from simulator.oss.responses import Response
from simulator.oss.subresources import MODIFIERS, SUBRESOURCES
from simulator.oss.urls import Level

# An unbound handler method: BucketHandlers.x for service and bucket level, ObjectHandlers.x
# for object level (checked when the handlers are bound).
Handler = Callable[[Any, Call], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One OSS API operation.

    Attributes:
        name: the API name (``AppendObject``); fault rules and statistics use it.
        level: ``service``, ``bucket`` or ``object``: what the request path addresses.
        method: the HTTP method.
        action: the RAM action a caller needs (``oss:PutObject``); empty for the one
            operation that needs no signature at all (the CORS preflight, ``Options``).
        handler: the method that serves it; None when the emulator does not (``501``).
        subresources: the sub-resources that select it, all of them and no other.
        header: a request header whose presence selects it over the operation with the same
            level, method and sub-resources (``x-oss-copy-source``: CopyObject, not PutObject).
        query: a ``(parameter, value)`` that selects it likewise (``list-type=2``).
    """

    name: str
    level: Level
    method: str
    action: str
    handler: Handler | None = None
    subresources: frozenset[str] = field(default_factory=frozenset)
    header: str | None = None
    query: tuple[str, str] | None = None

    @property
    def served(self) -> bool:
        """Whether the emulator implements it."""
        return self.handler is not None


def _op(
    name: str,
    level: Level,
    method: str,
    handler: Handler | None = None,
    *,
    sub: Sequence[str] = (),
    action: str | None = None,
    header: str | None = None,
    query: tuple[str, str] | None = None,
) -> Operation:
    # Most RAM actions are the operation's own name; the others are spelt out.
    return Operation(
        name,
        level,
        method,
        f"oss:{name}" if action is None else action,
        handler,
        frozenset(sub),
        header,
        query,
    )


BH, OH = BucketHandlers, ObjectHandlers
COPY_SOURCE = "x-oss-copy-source"

# fmt: off
OPERATIONS: tuple[Operation, ...] = (
    _op("ListBuckets", "service", "GET", BH.list_buckets),
    _op("PutBucket", "bucket", "PUT", BH.put_bucket),
    _op("DeleteBucket", "bucket", "DELETE", BH.delete_bucket),
    _op("ListObjects", "bucket", "GET", BH.list_objects),
    _op("ListObjectsV2", "bucket", "GET", BH.list_objects, query=("list-type", "2"), action="oss:ListObjects"),
    _op("GetBucketInfo", "bucket", "GET", BH.get_bucket_info, sub=["bucketInfo"]),
    _op("GetBucketLocation", "bucket", "GET", BH.get_bucket_location, sub=["location"]),
    _op("PutBucketLifecycle", "bucket", "PUT", BH.put_bucket_lifecycle, sub=["lifecycle"]),
    _op("GetBucketLifecycle", "bucket", "GET", BH.get_bucket_lifecycle, sub=["lifecycle"]),
    _op("DeleteBucketLifecycle", "bucket", "DELETE", BH.delete_bucket_lifecycle, sub=["lifecycle"]),
    _op("PutBucketPublicAccessBlock", "bucket", "PUT", BH.put_public_access_block, sub=["publicAccessBlock"]),
    _op("GetBucketPublicAccessBlock", "bucket", "GET", BH.get_public_access_block, sub=["publicAccessBlock"]),
    _op("DeleteBucketPublicAccessBlock", "bucket", "DELETE", BH.delete_public_access_block, sub=["publicAccessBlock"]),
    # A batch delete needs oss:DeleteObject on every key it names.
    _op("DeleteMultipleObjects", "bucket", "POST", BH.delete_multiple_objects, sub=["delete"], action="oss:DeleteObject"),
    _op("PutObject", "object", "PUT", OH.put_object),
    # Also needs oss:GetObject on the source, which the handler checks.
    _op("CopyObject", "object", "PUT", OH.copy_object, header=COPY_SOURCE, action="oss:PutObject"),
    _op("AppendObject", "object", "POST", OH.append_object, sub=["append"], action="oss:PutObject"),
    _op("GetObject", "object", "GET", OH.get_object),
    _op("HeadObject", "object", "HEAD", OH.head_object, action="oss:GetObject"),
    _op("GetObjectMeta", "object", "HEAD", OH.get_object_meta, sub=["objectMeta"], action="oss:GetObject"),
    _op("DeleteObject", "object", "DELETE", OH.delete_object),
    _op("PutSymlink", "object", "PUT", OH.put_symlink, sub=["symlink"], action="oss:PutObject"),
    _op("GetSymlink", "object", "GET", OH.get_symlink, sub=["symlink"], action="oss:GetObject"),
    _op("PutObjectTagging", "object", "PUT", OH.put_object_tagging, sub=["tagging"]),
    _op("GetObjectTagging", "object", "GET", OH.get_object_tagging, sub=["tagging"]),
    _op("DeleteObjectTagging", "object", "DELETE", OH.delete_object_tagging, sub=["tagging"]),
    _op("InitiateMultipartUpload", "object", "POST", OH.initiate_multipart_upload, sub=["uploads"], action="oss:PutObject"),
    _op("UploadPart", "object", "PUT", OH.upload_part, sub=["partNumber", "uploadId"], action="oss:PutObject"),
    # Also needs oss:GetObject on the source, which the handler checks.
    _op("UploadPartCopy", "object", "PUT", OH.upload_part_copy, sub=["partNumber", "uploadId"], header=COPY_SOURCE, action="oss:PutObject"),
    _op("CompleteMultipartUpload", "object", "POST", OH.complete_multipart_upload, sub=["uploadId"], action="oss:PutObject"),
    _op("AbortMultipartUpload", "object", "DELETE", OH.abort_multipart_upload, sub=["uploadId"]),
    _op("ListParts", "object", "GET", OH.list_parts, sub=["uploadId"], action="oss:ListParts"),
    _op("PutBucketCors", "bucket", "PUT", BH.put_bucket_cors, sub=["cors"]),
    _op("GetBucketCors", "bucket", "GET", BH.get_bucket_cors, sub=["cors"]),
    _op("DeleteBucketCors", "bucket", "DELETE", BH.delete_bucket_cors, sub=["cors"]),
    # A browser's CORS preflight: never signed, answered from the bucket's CORS rules.
    _op("Options", "object", "OPTIONS", OH.options, action=""),
    # Known to OSS, not served here: named in statistics and fault rules, answered 501.
    _op("GetBucketAcl", "bucket", "GET", sub=["acl"]),
    _op("PutBucketAcl", "bucket", "PUT", sub=["acl"]),
    _op("GetBucketStat", "bucket", "GET", sub=["stat"]),
    _op("ListMultipartUploads", "bucket", "GET", BH.list_multipart_uploads, sub=["uploads"]),
    _op("GetObjectAcl", "object", "GET", OH.get_object_acl, sub=["acl"]),
    _op("PutObjectAcl", "object", "PUT", OH.put_object_acl, sub=["acl"]),
    _op("RestoreObject", "object", "POST", sub=["restore"]),
)
# fmt: on

BY_NAME: Mapping[str, Operation] = {op.name: op for op in OPERATIONS}
# (level, method, selecting sub-resources) -> the operations sharing them, variants first.
_INDEX: dict[tuple[str, str, frozenset[str]], list[Operation]] = {}
for _declared in OPERATIONS:
    _INDEX.setdefault((_declared.level, _declared.method, _declared.subresources), []).append(
        _declared
    )
for _candidates in _INDEX.values():
    _candidates.sort(key=lambda op: op.header is None and op.query is None)
# Sub-resources that select some operation the emulator serves.
SERVED_SELECTORS = frozenset(name for op in OPERATIONS if op.served for name in op.subresources)


def _selectors(query_names: Sequence[str]) -> list[str]:
    return [n for n in query_names if n in SUBRESOURCES and n not in MODIFIERS]


def _match(
    level: Level,
    method: str,
    selectors: Sequence[str],
    headers: Mapping[str, str] | frozenset[str],
    query: Mapping[str, str],
) -> Operation | None:
    candidates = _INDEX.get((level, method, frozenset(selectors)))
    if candidates is None:
        return None
    for op in candidates:
        if op.header is not None and op.header not in headers:
            continue
        if op.query is not None and query.get(op.query[0]) != op.query[1]:
            continue
        return op
    return None


def select(
    level: Level, method: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> Operation:
    """The operation a request asks for, as the OSS app serves it.

    Args:
        level: what the path addresses (:func:`~simulator.oss.urls.level_of`).
        method: the HTTP method.
        query: decoded query parameters, in request order.
        headers: request headers, lower-case names.

    Raises:
        NotImplemented: an operation or sub-resource the emulator does not serve.
        InvalidArgument: sub-resources that select no operation together.
        MethodNotAllowed: the method does not apply to the target.
    """
    selectors = _selectors(list(query))
    op = _match(level, method, selectors, headers, query)
    if op is not None:
        if op.served:
            return op
        raise NotImplementedByEmulator(f"The operation {op.name}")
    unserved = [n for n in selectors if n not in SERVED_SELECTORS]
    if unserved:
        raise NotImplementedByEmulator(f"The sub-resource '{unserved[0]}'")
    if len(set(selectors)) > 1:
        raise InvalidArgument(
            "Only one sub-resource may select the operation.", name=selectors[1], value=""
        )
    raise MethodNotAllowed(method, level.capitalize())


def classify(
    level: Level, method: str, query: Mapping[str, str], header_names: frozenset[str]
) -> str:
    """The operation name for fault rules and statistics; ``"Unknown"`` when none is declared.

    Unlike :func:`select` it never raises and names unserved operations too.
    """
    op = _match(level, method, _selectors(list(query)), header_names, query)
    return "Unknown" if op is None else op.name
