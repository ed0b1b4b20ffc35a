"""A local OSS emulator that the real, unmodified ``oss2`` client cannot tell from Alibaba Cloud.

Build one with :class:`OssApp` (a plain ASGI callable) over a store::

    app = OssApp(iam, MemoryStore(), OssSettings(region="cn-hangzhou"), clock=clock)
    app.model.ensure_bucket("media", owner=account_id, region="cn-hangzhou", now=clock())

Module map:

- request path: ``urls`` (addressing), ``requests`` (parsing, body limits), ``auth`` (signature
  checks) and ``signing`` (the strings signed), ``operations`` (every operation, declared once),
  ``handlers`` → ``bucket_handlers`` / ``object_handlers`` / ``multipart_handlers`` (on
  ``handler_base``), ``responses`` and ``multipart_xml`` (headers, XML), ``payloads`` (XML bodies), ``ranges``, ``preconditions``;
- state: ``models`` (rules) on ``object_kinds`` (multipart objects, symlinks, tags) on
  ``object_index`` (indexes and locking), ``uploads`` (multipart uploads), ``listing``,
  ``records``, ``crc``, ``cors`` (bucket CORS rules, preflights and the headers they add);
- storage: ``storage`` (the seam and the memory store), ``buffers``, ``durable``;
- ``errors`` (wire errors), ``stats`` (counters), ``settings``, ``app`` (the ASGI callable).

The moto rule: each OSS operation is one declaration in
:data:`~simulator.oss.operations.OPERATIONS` (name, level, method, sub-resources, RAM action, handler), and routing, authorisation, the
emulator's fault classification and statistics all derive from it. Adding an operation is its
handler, its model change and its declaration; no other table names it.
"""

from simulator.oss.app import OssApp
from simulator.oss.auth import Caller, IdentityService, PrincipalLike
from simulator.oss.durable import DurableStore
from simulator.oss.errors import OssError
from simulator.oss.models import OssModel
from simulator.oss.records import (
    BucketRecord,
    LifecycleRule,
    ObjectFields,
    ObjectRecord,
    ObjectType,
)
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
