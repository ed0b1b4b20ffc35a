"""The seam to the OSS half of the emulator: its ASGI app and bucket creation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.base.asgi import ASGIApp


@dataclass(frozen=True)
class OssBackend:
    """What the server needs from the OSS emulator.

    Attributes:
        app: the OSS ASGI app.
        create_bucket: ``(name, owner_account_id)``; must not fail if the bucket exists.
        model: the OSS state object, for white-box assertions in tests.
        close: flushes and releases the store at shutdown.
        sweep: applies lifecycle rules at the emulator clock; returns how many objects expired.
    """

    app: ASGIApp
    create_bucket: Callable[[str, str], None]
    model: Any = None
    close: Callable[[], None] = lambda: None
    sweep: Callable[[], int] = lambda: 0
