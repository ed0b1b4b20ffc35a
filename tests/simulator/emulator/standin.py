"""A stand-in OSS backend: records what was applied, answers like OSS does for a write."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.base.asgi import ASGIReceive, ASGISend, Scope
from simulator.emulator.oss_backend import OssBackend
from simulator.emulator.server import Emulator


@dataclass
class StandInOss:
    """Counts requests it applied (body fully read) per method and path."""

    applied: list[tuple[str, str, bytes]] = field(default_factory=list)
    buckets: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.applied.append((scope["method"], scope["path"], body))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", b"0"),
                    (b"x-oss-next-append-position", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def factory(self, emulator: Emulator) -> OssBackend:
        del emulator
        return OssBackend(app=self, create_bucket=lambda n, a: self.buckets.append((n, a)))
