"""Name the OSS or STS operation a request performs, from method, path, host and sub-resources.

The names are the ones the Alibaba Cloud API reference uses (``PutObject``, ``AppendObject``,
``ListObjectsV2``, ``AssumeRole`` ...); fault rules and statistics are keyed by them. Only the
first query parameter names are looked at, never values, so this is cheap enough for every
request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from simulator.base.asgi import Scope

_OBJECT_GET = (("acl", "GetObjectAcl"), ("uploadId", "ListParts"), ("objectMeta", "GetObjectMeta"),
               ("symlink", "GetSymlink"), ("tagging", "GetObjectTagging"))  # fmt: skip
_OBJECT_PUT = (("partNumber", "UploadPart"), ("acl", "PutObjectAcl"), ("symlink", "PutSymlink"),
               ("tagging", "PutObjectTagging"))  # fmt: skip
_OBJECT_POST = (("append", "AppendObject"), ("uploads", "InitiateMultipartUpload"),
                ("uploadId", "CompleteMultipartUpload"), ("restore", "RestoreObject"))  # fmt: skip
_OBJECT_DELETE = (("uploadId", "AbortMultipartUpload"), ("tagging", "DeleteObjectTagging"))
_BUCKET_GET = (("uploads", "ListMultipartUploads"), ("acl", "GetBucketAcl"),
               ("lifecycle", "GetBucketLifecycle"), ("location", "GetBucketLocation"),
               ("bucketInfo", "GetBucketInfo"), ("stat", "GetBucketStat"), ("list-type", "ListObjectsV2"))  # fmt: skip
_BUCKET_PUT = (("acl", "PutBucketAcl"), ("lifecycle", "PutBucketLifecycle"))
_BUCKET_DELETE = (("lifecycle", "DeleteBucketLifecycle"),)
_BUCKET_POST = (("delete", "DeleteMultipleObjects"),)


def _param_names(query_string: bytes) -> set[str]:
    if not query_string:
        return set()
    return {part.split(b"=", 1)[0].decode("latin-1") for part in query_string.split(b"&") if part}


def _first(names: set[str], table: Iterable[tuple[str, str]], default: str) -> str:
    for name, operation in table:
        if name in names:
            return operation
    return default


@lru_cache(maxsize=1024)
def _path_style(host: str, base_host: str) -> bool:
    if host in ("localhost", base_host) or host.startswith("["):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return not host.endswith("." + base_host)
    return True


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            text: str = value.decode("latin-1").lower()
            if text.startswith("["):
                return text.split("]", 1)[0] + "]"
            return text.rsplit(":", 1)[0]
    return ""


def is_path_style(scope: Scope, base_host: str) -> bool:
    """Whether the request addresses buckets in the path (IP, ``localhost`` or the base host)."""
    return _path_style(_host(scope), base_host)


def classify_oss(scope: Scope, base_host: str = "oss-cn-hangzhou.aliyuncs.com") -> str:
    """The OSS operation name of a request.

    Args:
        scope: the ASGI HTTP scope.
        base_host: the OSS endpoint host; ``<bucket>.<base_host>`` is virtual-host addressing.

    Returns:
        An operation name; ``"Unknown"`` for methods OSS does not serve.
    """
    method: str = scope["method"]
    path: str = scope["path"]
    if is_path_style(scope, base_host):
        parts = path[1:].split("/", 1)
        has_bucket = bool(parts[0])
        has_key = has_bucket and len(parts) == 2 and parts[1] != ""
    else:
        has_bucket, has_key = True, path not in ("", "/")
    names = _param_names(scope["query_string"])
    if method == "OPTIONS":
        return "OptionObject"
    if not has_bucket:
        return "ListBuckets" if method == "GET" else "Unknown"
    if has_key:
        if method in ("GET", "HEAD"):
            head_default = "HeadObject" if method == "HEAD" else "GetObject"
            return _first(names, _OBJECT_GET, head_default)
        if method == "PUT":
            if any(name == b"x-oss-copy-source" for name, _ in scope["headers"]):
                return "UploadPartCopy" if "partNumber" in names else "CopyObject"
            return _first(names, _OBJECT_PUT, "PutObject")
        if method == "POST":
            return _first(names, _OBJECT_POST, "PostObject")
        if method == "DELETE":
            return _first(names, _OBJECT_DELETE, "DeleteObject")
        return "Unknown"
    table = {"GET": (_BUCKET_GET, "ListObjects"), "HEAD": ((), "GetBucketInfo"),
             "PUT": (_BUCKET_PUT, "PutBucket"), "DELETE": (_BUCKET_DELETE, "DeleteBucket"),
             "POST": (_BUCKET_POST, "PostObject")}  # fmt: skip
    entry = table.get(method)
    return "Unknown" if entry is None else _first(names, entry[0], entry[1])


STS_ACTIONS = frozenset({"AssumeRole"})


def classify_sts(query_string: bytes) -> str:
    """The STS operation from the ``Action`` query value (``AssumeRole`` when it is in the body).

    Unknown actions are all named ``"Unknown"`` so statistics stay bounded.
    """
    for part in query_string.split(b"&"):
        if part.startswith(b"Action="):
            action = part[7:].decode("latin-1")
            return action if action in STS_ACTIONS else "Unknown"
    return "AssumeRole"
