"""Which OSS operation a request is, from its method, target level and sub-resource.

Query parameters that are not OSS sub-resources (``foo=bar``, ``prefix``, ``max-keys``) never
select anything, as on real OSS. A sub-resource real OSS knows but this emulator does not
serve (``acl``, ``tagging``, ``uploads`` ...) is answered ``501 NotImplemented``; a method that
makes no sense on the target is ``405 MethodNotAllowed``.
"""

from __future__ import annotations

from simulator.oss.errors import InvalidArgument, MethodNotAllowed, NotImplementedByEmulator
from simulator.oss.requests import OssRequest
from simulator.oss.subresources import MODIFIERS, SERVED, SUBRESOURCES
from simulator.oss.urls import Target

_TABLE: dict[tuple[str, str, str | None], str] = {
    ("service", "GET", None): "ListBuckets",
    ("bucket", "PUT", None): "PutBucket",
    ("bucket", "DELETE", None): "DeleteBucket",
    ("bucket", "GET", None): "ListObjects",
    ("bucket", "GET", "bucketInfo"): "GetBucketInfo",
    ("bucket", "GET", "location"): "GetBucketLocation",
    ("bucket", "PUT", "lifecycle"): "PutBucketLifecycle",
    ("bucket", "GET", "lifecycle"): "GetBucketLifecycle",
    ("bucket", "DELETE", "lifecycle"): "DeleteBucketLifecycle",
    ("bucket", "PUT", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("bucket", "GET", "publicAccessBlock"): "GetBucketPublicAccessBlock",
    ("bucket", "DELETE", "publicAccessBlock"): "DeleteBucketPublicAccessBlock",
    ("bucket", "POST", "delete"): "DeleteMultipleObjects",
    ("object", "PUT", None): "PutObject",
    ("object", "POST", "append"): "AppendObject",
    ("object", "GET", None): "GetObject",
    ("object", "HEAD", None): "HeadObject",
    ("object", "HEAD", "objectMeta"): "GetObjectMeta",
    ("object", "DELETE", None): "DeleteObject",
}


def level_of(target: Target) -> str:
    """``service``, ``bucket`` or ``object``."""
    if target.bucket is None:
        return "service"
    return "bucket" if target.key is None else "object"


def select_operation(req: OssRequest, target: Target) -> str:
    """Name the operation a request asks for.

    Returns:
        The OSS API name (``AppendObject``, ``ListObjectsV2``, ``CopyObject`` ...).

    Raises:
        NotImplemented: an OSS sub-resource the emulator does not serve.
        InvalidArgument: two operation-selecting sub-resources in one request.
        MethodNotAllowed: the method does not apply to the target.
    """
    selector: str | None = None
    for name in req.query:
        if name not in SUBRESOURCES or name in MODIFIERS:
            continue
        if name not in SERVED:
            raise NotImplementedByEmulator(f"The sub-resource '{name}'")
        if selector is not None:
            raise InvalidArgument(
                "Only one sub-resource may select the operation.", name=name, value=""
            )
        selector = name
    level = level_of(target)
    op = _TABLE.get((level, req.method, selector))
    if op is None:
        raise MethodNotAllowed(req.method, level.capitalize())
    if op == "ListObjects" and req.query.get("list-type") == "2":
        return "ListObjectsV2"
    if op == "PutObject" and "x-oss-copy-source" in req.headers:
        return "CopyObject"
    return op
