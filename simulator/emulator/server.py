"""The composition root: one :class:`Emulator` wires clock, IAM, STS, OSS, faults and admin.

It owns no HTTP server; :mod:`simulator.emulator.runner` serves :attr:`Emulator.app` with
uvicorn (in the foreground for the CLI, in a background thread for tests).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from schemas.durations import DEFAULT_SESSION_DURATION_S
from simulator.base.errors import EmulatorConfigError
from simulator.emulator.admin import AdminApp
from simulator.emulator.app import EmulatorApp
from simulator.emulator.clock import EmulatorClock
from simulator.emulator.config import EmulatorConfig, default_config, load_config
from simulator.emulator.faults import FaultConfig, FaultInjector
from simulator.emulator.middleware import EmulatorMiddleware
from simulator.emulator.oss_backend import OssBackend
from simulator.emulator.oss_wiring import build_oss_backend
from simulator.emulator.settings import EmulatorSettings
from simulator.emulator.stats import RequestStats
from simulator.iam.models import Iam
from simulator.iam.store import IamStore, atomic_write_json
from simulator.sts.models import StsService, StsSettings
from simulator.sts.responses import StsApp
from simulator.sts.urls import is_sts_request

logger = logging.getLogger(__name__)

CONFIG_FILE = "emulator-config.json"
BASE_HOST = "oss-cn-hangzhou.aliyuncs.com"

OssFactory = Callable[["Emulator"], OssBackend]


def url_host(host: str) -> str:
    """The host to put into URLs for a listen address (wildcards become loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping a wildcard to loopback, not binding
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    return host


class Emulator:
    """One OSS + STS emulator's state and ASGI app.

    Args:
        settings: how to run.
        base_clock: the real clock under the adjustable emulator clock.
        oss_factory: builds the OSS backend instead of the OSS emulator (a stand-in app for
            tests of the server itself, or one over an observed store).
    """

    def __init__(
        self,
        settings: EmulatorSettings,
        *,
        base_clock: Callable[[], float] = time.time,
        oss_factory: OssFactory | None = None,
    ) -> None:
        self.settings = settings
        self.clock = EmulatorClock(base_clock)
        self.rng: random.Random = (
            random.Random(settings.seed)  # noqa: S311 - seeded on request, for repeatable tests
            if settings.seed is not None
            else random.SystemRandom()
        )
        self.admin_token = settings.admin_token or secrets.token_urlsafe(24)
        store = None
        if settings.data_dir is not None:
            store = IamStore(settings.data_dir, fsync=settings.fsync)
        self.iam = Iam(clock=self.clock, rng=self.rng, store=store)
        self.config = self._resolve_config()
        self._apply_identities(self.config)
        self.sts = StsService(
            self.iam, StsSettings(rate_per_account=settings.sts_rate), clock=self.clock
        )
        self.oss = (
            oss_factory(self)
            if oss_factory is not None
            else build_oss_backend(settings, self.iam, self.clock)
        )
        for bucket in self.config.buckets:
            self.oss.create_bucket(bucket.name, self.config.bucket_owner(bucket))
        self.injector = FaultInjector(settings.faults, self.clock)
        self.request_stats = RequestStats()
        services = EmulatorMiddleware(
            oss=self.oss.app,
            sts=StsApp(self.sts),
            is_sts=is_sts_request,
            injector=self.injector,
            stats=self.request_stats,
            base_host=BASE_HOST,
            access_log=settings.access_log,
        )
        self.app = EmulatorApp(
            services=services,
            admin=AdminApp(self, self.admin_token),
            base_host=BASE_HOST,
            on_shutdown=self.close,
            clock=self.clock,
        )
        self.port: int | None = None
        self._closed = False

    # -- population ------------------------------------------------------------------------

    def _resolve_config(self) -> EmulatorConfig:
        if self.settings.config is not None:
            return self.settings.config
        data_dir = self.settings.data_dir
        if data_dir is not None and (data_dir / CONFIG_FILE).exists():
            return load_config(data_dir / CONFIG_FILE)
        config = default_config(self.rng)
        if data_dir is not None:
            atomic_write_json(data_dir / CONFIG_FILE, config.model_dump(mode="json"))
        return config

    def _apply_identities(self, config: EmulatorConfig) -> None:
        """Add the config's accounts, keys and roles; keys already present are kept."""
        for account in config.accounts:
            self.iam.add_account(account.id)
        for account in config.accounts:
            for key in account.access_keys:
                if self.iam.has_access_key(key.id):
                    continue
                self.iam.add_access_key(
                    account.id, key.id, key.secret, user=key.user, policies=key.policies
                )
            for role in account.roles:
                self.iam.add_role(
                    account.id,
                    role.name,
                    policies=role.policies,
                    trusted_accounts=role.trusted_accounts,
                    trust_policy=role.trust_policy,
                    max_session_duration=role.max_session_duration,
                )

    @property
    def account_id(self) -> str:
        """The first (default) account."""
        return self.config.accounts[0].id

    def create_bucket(self, name: str, account_id: str | None = None) -> None:
        """Create a bucket owned by ``account_id`` (default: the first account)."""
        self.oss.create_bucket(name, account_id or self.account_id)

    def create_role(
        self,
        name: str,
        policies: list[Any],
        *,
        account_id: str | None = None,
        trusted_accounts: list[str] | None = None,
        trust_policy: dict[str, Any] | str | None = None,
        max_session_duration: int = DEFAULT_SESSION_DURATION_S,
    ) -> str:
        """Create or replace a role; returns its ARN."""
        return self.iam.add_role(
            account_id or self.account_id,
            name,
            policies=policies,
            trusted_accounts=trusted_accounts,
            trust_policy=trust_policy,
            max_session_duration=max_session_duration,
        )

    def add_access_key(
        self,
        access_key_id: str,
        secret: str,
        *,
        account_id: str | None = None,
        user: str | None = None,
        policies: list[Any] | None = None,
    ) -> None:
        """Add a long-term key (``user`` None: a root key)."""
        account = account_id or self.account_id
        self.iam.add_account(account)
        self.iam.add_access_key(account, access_key_id, secret, user=user, policies=policies or [])

    def sweep_lifecycle(self) -> int:
        """Apply OSS lifecycle rules at the emulator clock; returns how many objects expired."""
        return self.oss.sweep()

    # -- faults, clock, statistics ---------------------------------------------------------

    def set_faults(self, faults: FaultConfig | Mapping[str, Any]) -> dict[str, Any]:
        """Replace the injected faults; returns the faults in force and the counters."""
        if not isinstance(faults, FaultConfig):
            faults = FaultConfig.parse(faults, source="admin")
        self.injector.configure(faults)
        return self.faults()

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        self.injector.configure(FaultConfig())

    def faults(self) -> dict[str, Any]:
        """The faults in force and what was injected so far."""
        return dict(self.injector.snapshot())

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator clock forward and apply lifecycle rules; returns the new offset."""
        offset = self.clock.advance(seconds)
        self.sweep_lifecycle()
        return offset

    def stats(self) -> dict[str, Any]:
        """Requests per operation and outcome (``requests``) and injected faults (``faults``)."""
        return {
            "requests": self.request_stats.snapshot(),
            "faults": self.injector.snapshot()["injected"],
        }

    def reset_stats(self) -> None:
        """Zero the request and fault counters."""
        self.request_stats.reset()
        self.injector.reset_counters()

    # -- what clients need -----------------------------------------------------------------

    def endpoint(self) -> str:
        """``http://host:port`` of the running server (OSS and STS share it)."""
        if self.port is None:
            raise EmulatorConfigError("the emulator is not listening yet")
        return f"http://{url_host(self.settings.host)}:{self.port}"

    def info(self) -> dict[str, Any]:
        """What a client needs: endpoints, region, root key, role ARN, bucket, admin token."""
        key = self.config.root_key()
        role_arn = None
        for account in self.config.accounts:
            if account.roles:
                role_arn = f"acs:ram::{account.id}:role/{account.roles[0].name.lower()}"
                break
        endpoint = self.endpoint()
        return {
            "oss_endpoint": endpoint,
            "sts_endpoint": endpoint,
            "region": self.settings.region,
            "account_id": self.account_id,
            "access_key_id": key.id if key else None,
            "access_key_secret": key.secret if key else None,
            "role_arn": role_arn,
            "bucket": self.config.buckets[0].name if self.config.buckets else None,
            "admin_token": self.admin_token,
        }

    def close(self) -> None:
        """Flush durable state and release the stores (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.iam.flush()
        self.oss.close()

    @property
    def data_dir(self) -> Path | None:
        """Where durable state lives, if anywhere."""
        return self.settings.data_dir
