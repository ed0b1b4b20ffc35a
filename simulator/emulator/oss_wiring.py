"""Build the OSS emulator (``simulator.oss``) for an :class:`~simulator.emulator.server.Emulator`."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from simulator.emulator.oss_backend import OssBackend
from simulator.oss.app import OssApp
from simulator.oss.auth import IdentityService
from simulator.oss.settings import OssSettings
from simulator.oss.storage import DurableStore, MemoryStore, ObjectStore

if TYPE_CHECKING:
    from simulator.emulator.server import Emulator

OSS_DIR = "oss"


def build_oss_backend(emulator: Emulator) -> OssBackend:
    """The OSS app on the emulator's IAM and clock, in memory or under ``data_dir/oss``."""
    settings = emulator.settings
    overrides: dict[str, object] = {"region": settings.region}
    if settings.max_append_size is not None:
        overrides["max_append_object_size"] = settings.max_append_size
    oss_settings = OssSettings.model_validate(overrides)
    store: ObjectStore
    if settings.data_dir is not None:
        store = DurableStore(settings.data_dir / OSS_DIR, fsync=settings.fsync)
    else:
        store = MemoryStore()
    # OSS hands back to is_allowed only principals that Iam.resolve returned, so Iam's
    # narrower parameter type is safe here.
    identity = cast(IdentityService, emulator.iam)
    app = OssApp(identity, store, oss_settings, clock=emulator.clock)

    def create_bucket(name: str, owner: str) -> None:
        app.model.ensure_bucket(name, owner=owner, region=settings.region, now=emulator.clock())

    return OssBackend(
        app=app, create_bucket=create_bucket, model=app.model, close=app.close, sweep=app.sweep
    )
