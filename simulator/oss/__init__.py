"""A local OSS emulator that the real, unmodified ``oss2`` client cannot tell from Alibaba Cloud.

Build one with :class:`OssApp` (a plain ASGI callable) over a store::

    app = OssApp(iam, MemoryStore(), OssSettings(region="cn-hangzhou"), clock=clock)
    app.model.ensure_bucket("media", owner=account_id, region="cn-hangzhou", now=clock())

Module map: ``urls`` (addressing), ``requests`` (parsing, body limits), ``auth`` (V1/V4
signatures), ``dispatch`` (which operation), ``handlers`` (one per operation), ``responses``
(headers and XML), ``payloads`` (XML bodies), ``models`` (state and rules), ``listing``,
``ranges``, ``records``, ``storage`` (memory and durable stores), ``errors`` (wire errors),
``stats`` (counters), ``settings``.
"""

from simulator.oss.app import OssApp
from simulator.oss.auth import Caller, IdentityService, PrincipalLike
from simulator.oss.durable import DurableStore
from simulator.oss.errors import OssError
from simulator.oss.models import ObjectFields, OssModel
from simulator.oss.records import BucketRecord, LifecycleRule, ObjectRecord, ObjectType
from simulator.oss.settings import OssSettings
from simulator.oss.stats import Stats
from simulator.oss.storage import MemoryStore, ObjectStore

__all__ = [
    "BucketRecord",
    "Caller",
    "DurableStore",
    "IdentityService",
    "LifecycleRule",
    "MemoryStore",
    "ObjectFields",
    "ObjectRecord",
    "ObjectStore",
    "ObjectType",
    "OssApp",
    "OssError",
    "OssModel",
    "OssSettings",
    "PrincipalLike",
    "Stats",
]
