"""Binds each served operation of :data:`~simulator.oss.operations.OPERATIONS` to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from simulator.oss.auth import IdentityService
from simulator.oss.bucket_handlers import BucketHandlers
from simulator.oss.handler_base import DENIED, Call, HandlerBase
from simulator.oss.models import OssModel
from simulator.oss.object_handlers import ObjectHandlers
from simulator.oss.operations import OPERATIONS, Operation
from simulator.oss.responses import Response
from simulator.oss.settings import OssSettings

__all__ = ["DENIED", "Call", "Handlers"]


class Handlers:
    """Runs the handler of an operation.

    Args:
        model: the emulator state.
        identity: evaluates RAM policies.
        settings: limits and region.
        operations: the declarations to serve.

    Raises:
        TypeError: a declaration names a handler that is not a method of its level's class
            (:class:`BucketHandlers` for service and bucket level, :class:`ObjectHandlers`
            for object level); caught when the app is built, not on the first request.
    """

    def __init__(
        self,
        model: OssModel,
        identity: IdentityService,
        settings: OssSettings,
        *,
        operations: Sequence[Operation] = OPERATIONS,
    ) -> None:
        buckets = BucketHandlers(model, identity, settings)
        objects = ObjectHandlers(model, identity, settings)
        self._table: dict[str, Callable[[Call], Awaitable[Response]]] = {}
        for op in operations:
            if op.handler is None:
                continue
            owner: HandlerBase = objects if op.level == "object" else buckets
            name = op.handler.__name__
            if getattr(type(owner), name, None) is not op.handler:
                raise TypeError(f"{op.name}: {name} is not a method of {type(owner).__name__}")
            self._table[op.name] = getattr(owner, name)

    async def handle(self, call: Call) -> Response:
        """Run the handler of ``call.op``."""
        return await self._table[call.op](call)
