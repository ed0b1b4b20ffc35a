"""Object stores on a running emulator: root credentials, or camera-like STS credentials.

Every builder takes ``client``: ``"oss2"`` (:class:`OssObjectStore`) or ``"http"``
(:class:`HttpObjectStore`), signed with the same credentials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import oss2
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from cloud.responder.policy import session_policy
from device.clock import SystemClock
from device.osshttp import AccessKeys, HttpObjectStore, RequestSigner
from device.store import ObjectStore, OssObjectStore
from simulator.emulator.handle import EmulatorHandle

Client = Literal["oss2", "http"]
CLIENTS: tuple[Client, ...] = ("oss2", "http")


def keyed_store(
    client: Client,
    provider: oss2.credentials.CredentialsProvider,
    endpoint: str,
    bucket: str,
    *,
    timeout_s: float = 10.0,
) -> ObjectStore:
    """A store of the given client, signing every request with ``provider``'s credentials."""
    if client == "oss2":
        return OssObjectStore(oss2.ProviderAuth(provider), endpoint, bucket, timeout_s=timeout_s)

    def keys() -> AccessKeys:
        c = provider.get_credentials()
        return AccessKeys(c.access_key_id, c.access_key_secret, c.security_token)

    signer = RequestSigner(keys, SystemClock())
    return HttpObjectStore(signer, endpoint, bucket, timeout_s=timeout_s)


def static_keys(access_key_id: str, secret: str) -> oss2.credentials.CredentialsProvider:
    """A provider serving one permanent key."""
    return oss2.credentials.StaticCredentialsProvider(access_key_id, secret)


def root_store(
    emulator: EmulatorHandle, *, timeout_s: float = 10.0, client: Client = "oss2"
) -> ObjectStore:
    """A store signed with the account's root key (may do anything, delete included)."""
    provider = static_keys(emulator.access_key_id, emulator.access_key_secret)
    return keyed_store(
        client, provider, emulator.oss_endpoint, emulator.bucket, timeout_s=timeout_s
    )


@dataclass(frozen=True)
class StsKeys:
    access_key_id: str
    access_key_secret: str
    security_token: str


def assume_camera_role(
    emulator: EmulatorHandle, prefix: str, *, access: str = "append", duration_s: int = 900
) -> StsKeys:
    """Mint camera credentials the way the responder does (same session policy)."""
    client = AcsClient(
        emulator.access_key_id,
        emulator.access_key_secret,
        emulator.region,
        auto_retry=False,
        proxy={"http": None, "https": None},
    )
    request = AssumeRoleRequest()
    request.set_endpoint(emulator.sts_endpoint)
    request.set_RoleArn(emulator.role_arn)
    request.set_RoleSessionName("cam-test")
    request.set_DurationSeconds(duration_s)
    request.set_Policy(session_policy(bucket=emulator.bucket, prefix=prefix, access=access))
    creds = json.loads(client.do_action_with_exception(request))["Credentials"]
    return StsKeys(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])


class RotatingCameraCredentials(oss2.credentials.CredentialsProvider):  # type: ignore[misc]
    """A provider that holds one STS set and mints a new one on ``refresh()``."""

    def __init__(self, emulator: EmulatorHandle, prefix: str) -> None:
        self._emulator = emulator
        self._prefix = prefix
        self.refreshes = 0
        self._keys = assume_camera_role(emulator, prefix)

    def refresh(self) -> None:
        self.refreshes += 1
        self._keys = assume_camera_role(self._emulator, self._prefix)

    def get_credentials(self) -> oss2.credentials.Credentials:
        k = self._keys
        return oss2.credentials.Credentials(k.access_key_id, k.access_key_secret, k.security_token)


def camera_store(
    emulator: EmulatorHandle,
    prefix: str,
    provider: RotatingCameraCredentials | None = None,
    *,
    client: Client = "oss2",
) -> ObjectStore:
    """A store signed with camera credentials limited to ``prefix`` (no delete, no list)."""
    provider = provider or RotatingCameraCredentials(emulator, prefix)
    return keyed_store(client, provider, emulator.oss_endpoint, emulator.bucket)
