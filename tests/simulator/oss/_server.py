"""Run the OSS emulator for tests, in this process or as a separate ``ossmedia emulator`` process.

:class:`OssEnv` wraps any running emulator handle: endpoint, region, credentials and a fresh
bucket, plus helpers to build real oss2 clients (V1, V4, STS) and to mint STS credentials
through the real STS SDK (admin API calls work on both kinds of emulator).
:func:`start_emulator` starts either kind with the same settings; :func:`running_oss` starts an
in-process emulator whose OSS app gets a custom store or custom :class:`OssSettings` (cases no
command-line flag reaches: a failing store, tiny body limits).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oss2
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from simulator.emulator.handle import EmulatorHandle, running_emulator, spawned_emulator
from simulator.emulator.oss_backend import OssBackend
from simulator.emulator.oss_wiring import build_oss_backend
from simulator.emulator.runner import ServerThread
from simulator.emulator.server import BASE_HOST, Emulator, OssFactory
from simulator.emulator.settings import EmulatorSettings
from simulator.oss import ObjectStore, OssApp

_names = itertools.count(1)


def unique_bucket(prefix: str = "t") -> str:
    """A bucket name no other test of this run uses."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


@dataclass(frozen=True)
class StsCredentials:
    """Temporary credentials minted by AssumeRole."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)


@dataclass
class OssEnv:
    """Everything a test needs to talk to the OSS emulator.

    Attributes:
        handle: the running emulator.
        bucket: a bucket owned by the default account, fresh for the test.
        app: the OSS app (in-process runs only), for white-box checks.
    """

    handle: EmulatorHandle
    bucket: str
    app: OssApp | None = None

    @classmethod
    def from_handle(cls, handle: EmulatorHandle, *, bucket: str | None = None) -> OssEnv:
        """Wrap a running emulator; creates a fresh bucket unless one is given."""
        name = bucket or unique_bucket()
        handle.create_bucket(name)
        app = None
        if handle.emulator is not None and isinstance(handle.emulator.oss.app, OssApp):
            app = handle.emulator.oss.app
        return cls(handle, name, app)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.handle.oss_endpoint

    @property
    def region(self) -> str:
        """The emulator's region."""
        return self.handle.region

    @property
    def account_id(self) -> str:
        """The default account."""
        return self.handle.account_id

    def auth(self, version: str = "v1") -> Any:
        """An oss2 auth object for the root key: ``v1`` (Auth) or ``v4`` (AuthV4)."""
        if version == "v4":
            return oss2.AuthV4(self.handle.access_key_id, self.handle.access_key_secret)
        return oss2.Auth(self.handle.access_key_id, self.handle.access_key_secret)

    def sts_auth(self, creds: StsCredentials, version: str = "v1") -> Any:
        """An oss2 StsAuth for temporary credentials."""
        return oss2.StsAuth(
            creds.access_key_id,
            creds.access_key_secret,
            creds.security_token,
            auth_version=oss2.AUTH_VERSION_4 if version == "v4" else oss2.AUTH_VERSION_1,
        )

    def bucket_client(
        self, auth: Any = None, bucket: str | None = None, **kwargs: Any
    ) -> oss2.Bucket:
        """A real oss2 Bucket (V4-capable: the region is always set)."""
        return oss2.Bucket(
            auth if auth is not None else self.auth(),
            self.endpoint,
            bucket or self.bucket,
            region=self.region,
            **kwargs,
        )

    def service(self, auth: Any = None) -> oss2.Service:
        """A real oss2 Service (ListBuckets)."""
        return oss2.Service(
            auth if auth is not None else self.auth(), self.endpoint, region=self.region
        )

    def assume_role(
        self,
        *,
        policies: list[Mapping[str, Any]] | None = None,
        session_policy: Mapping[str, Any] | None = None,
        session_name: str = "cam-0001",
        duration_s: int = 900,
    ) -> StsCredentials:
        """Mint STS credentials through the real STS SDK.

        Args:
            policies: the role's policies; None uses the default camera-writer role.
            session_policy: an AssumeRole ``Policy`` narrowing the role.
            session_name: the RoleSessionName.
            duration_s: DurationSeconds.
        """
        role_arn = self.handle.role_arn
        if policies is not None:
            role_arn = self.handle.create_role(f"r{next(_names)}", list(policies))
        client = AcsClient(
            self.handle.access_key_id,
            self.handle.access_key_secret,
            self.region,
            proxy={"http": None, "https": None},
        )
        request = AssumeRoleRequest()
        request.set_RoleArn(role_arn)
        request.set_RoleSessionName(session_name)
        request.set_DurationSeconds(duration_s)
        if session_policy is not None:
            request.set_Policy(json.dumps(session_policy))
        request.set_endpoint(self.handle.sts_endpoint)
        creds = json.loads(client.do_action_with_exception(request))["Credentials"]
        return StsCredentials(
            creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]
        )


def oss_factory(
    *, store: ObjectStore | None = None, settings: Mapping[str, Any] | None = None
) -> OssFactory:
    """An ``oss_factory`` for :class:`Emulator` with a custom store or OSS settings."""

    def build(emulator: Emulator) -> OssBackend:
        overrides = {"base_host": BASE_HOST, **(settings or {})}
        return build_oss_backend(
            emulator.settings, emulator.iam, emulator.clock, store=store, overrides=overrides
        )

    return build


@contextlib.contextmanager
def running_oss(
    *,
    data_dir: Path | None = None,
    fsync: bool = False,
    oss_settings: Mapping[str, Any] | None = None,
    store: ObjectStore | None = None,
    **emulator_settings: Any,
) -> Iterator[OssEnv]:
    """Run an emulator with the OSS app in a background thread.

    Args:
        data_dir: durable mode (objects under ``data_dir/oss``).
        fsync: flush every acknowledged write.
        oss_settings: fields of :class:`OssSettings` to override.
        store: the object store to use (default: memory, or durable with ``data_dir``).
        **emulator_settings: fields of :class:`EmulatorSettings` to override.

    Yields:
        The environment (with a fresh bucket); the server stops on exit.
    """
    settings = EmulatorSettings(
        port=0, access_log=False, data_dir=data_dir, fsync=fsync, **emulator_settings
    )
    emulator = Emulator(settings, oss_factory=oss_factory(store=store, settings=oss_settings))
    server = ServerThread(emulator)
    server.start()
    try:
        handle = EmulatorHandle.from_info(emulator.info(), emulator=emulator)
        yield OssEnv.from_handle(handle)
    finally:
        server.stop()


MODES = ["inprocess", "process"]


@contextlib.contextmanager
def start_emulator(
    mode: str,
    *,
    data_dir: Path | None = None,
    fsync: bool = False,
    max_append_size: int | None = None,
) -> Iterator[EmulatorHandle]:
    """Start an emulator in this process (``inprocess``) or as a child process (``process``)."""
    if mode == "inprocess":
        overrides: dict[str, Any] = {
            "data_dir": data_dir,
            "fsync": fsync,
            "max_append_size": max_append_size,
        }
        with running_emulator(**overrides) as handle:
            yield handle
        return
    args = ["--quiet"]
    if fsync:
        args.append("--fsync")
    if max_append_size is not None:
        args += ["--max-append-size", str(max_append_size)]
    with spawned_emulator(*args, data_dir=data_dir) as handle:
        yield handle
