"""Object stores on a running emulator: root credentials, or camera-like STS credentials."""

from __future__ import annotations

import json
from dataclasses import dataclass

import oss2
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from cloud.responder.policy import session_policy
from device.store import OssObjectStore
from simulator.emulator.handle import EmulatorHandle


def root_store(emulator: EmulatorHandle, *, timeout_s: float = 10.0) -> OssObjectStore:
    """A store signed with the account's root key (may do anything, delete included)."""
    auth = oss2.Auth(emulator.access_key_id, emulator.access_key_secret)
    return OssObjectStore(auth, emulator.oss_endpoint, emulator.bucket, timeout_s=timeout_s)


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
    emulator: EmulatorHandle, prefix: str, provider: RotatingCameraCredentials | None = None
) -> OssObjectStore:
    """A store signed with camera credentials limited to ``prefix`` (no delete, no list)."""
    provider = provider or RotatingCameraCredentials(emulator, prefix)
    return OssObjectStore(
        oss2.ProviderAuth(provider), emulator.oss_endpoint, emulator.bucket, timeout_s=10.0
    )
