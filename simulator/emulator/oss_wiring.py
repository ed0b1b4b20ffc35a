"""Build the OSS emulator (``simulator.oss``) on the emulator's IAM and clock.

It takes the pieces it needs rather than the :class:`~simulator.emulator.server.Emulator`, so
the server imports it directly and nothing here imports the server back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from simulator.emulator.oss_backend import OssBackend
from simulator.emulator.settings import EmulatorSettings
from simulator.iam.models import Iam
from simulator.oss.app import OssApp
from simulator.oss.auth import IdentityService
from simulator.oss.settings import OssSettings
from simulator.oss.storage import DurableStore, MemoryStore, ObjectStore

OSS_DIR = "oss"


def build_oss_backend(
    settings: EmulatorSettings,
    iam: Iam,
    clock: Callable[[], float],
    *,
    store: ObjectStore | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> OssBackend:
    """The OSS app in memory or under ``data_dir/oss``.

    Args:
        settings: the emulator's settings (region, append limit, durable directory, fsync).
        iam: resolves keys and evaluates RAM policies.
        clock: the emulator clock.
        store: an object store to use instead (tests observe writes through one).
        overrides: :class:`~simulator.oss.settings.OssSettings` fields to set.
    """
    values: dict[str, Any] = {"region": settings.region}
    if settings.max_append_size is not None:
        values["max_append_object_size"] = settings.max_append_size
    values.update(overrides or {})
    oss_settings = OssSettings.model_validate(values)
    if store is None:
        if settings.data_dir is not None:
            store = DurableStore(settings.data_dir / OSS_DIR, fsync=settings.fsync)
        else:
            store = MemoryStore()
    # OSS hands back to is_allowed only principals that Iam.resolve returned, so Iam's
    # narrower parameter type is safe here.
    app = OssApp(cast(IdentityService, iam), store, oss_settings, clock=clock)

    def create_bucket(name: str, owner: str) -> None:
        app.model.ensure_bucket(name, owner=owner, region=oss_settings.region, now=clock())

    return OssBackend(
        app=app, create_bucket=create_bucket, model=app.model, close=app.close, sweep=app.sweep
    )
