"""The operation table: maps an OSS API name to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from simulator.oss.auth import IdentityService
from simulator.oss.bucket_handlers import BucketHandlers
from simulator.oss.handler_base import DENIED, Call
from simulator.oss.models import OssModel
from simulator.oss.object_handlers import ObjectHandlers
from simulator.oss.responses import Response
from simulator.oss.settings import OssSettings

__all__ = ["DENIED", "Call", "Handlers"]


class Handlers:
    """Runs the handler of an operation.

    Args:
        model: the emulator state.
        identity: evaluates RAM policies.
        settings: limits and region.
    """

    def __init__(self, model: OssModel, identity: IdentityService, settings: OssSettings) -> None:
        buckets = BucketHandlers(model, identity, settings)
        objects = ObjectHandlers(model, identity, settings)
        self._table: dict[str, Callable[[Call], Awaitable[Response]]] = {
            "ListBuckets": buckets.list_buckets,
            "PutBucket": buckets.put_bucket,
            "DeleteBucket": buckets.delete_bucket,
            "GetBucketInfo": buckets.get_bucket_info,
            "GetBucketLocation": buckets.get_bucket_location,
            "ListObjects": buckets.list_objects,
            "ListObjectsV2": buckets.list_objects,
            "PutBucketLifecycle": buckets.put_bucket_lifecycle,
            "GetBucketLifecycle": buckets.get_bucket_lifecycle,
            "DeleteBucketLifecycle": buckets.delete_bucket_lifecycle,
            "PutBucketPublicAccessBlock": buckets.put_public_access_block,
            "GetBucketPublicAccessBlock": buckets.get_public_access_block,
            "DeleteBucketPublicAccessBlock": buckets.delete_public_access_block,
            "DeleteMultipleObjects": buckets.delete_multiple_objects,
            "PutObject": objects.put_object,
            "CopyObject": objects.copy_object,
            "AppendObject": objects.append_object,
            "GetObject": objects.get_object,
            "HeadObject": objects.head_object,
            "GetObjectMeta": objects.get_object_meta,
            "DeleteObject": objects.delete_object,
        }

    async def handle(self, call: Call) -> Response:
        """Run the handler of ``call.op``."""
        return await self._table[call.op](call)
