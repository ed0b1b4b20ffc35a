"""A whole system for device integration tests: Mosquitto, the emulator, the real responder.

``stack`` (fixture in ``tests/device/conftest.py``) starts a broker and an in-process OSS + STS
emulator, builds the responder from the cloud package against both, and provisions devices
in its registry. ``Stack.agent_settings`` returns camera settings pointing at all of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oss2
from pydantic import SecretStr

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.responder.app import Responder, build_responder
from cloud.settings import (
    BrokerSettings as ResponderBroker,
)
from cloud.settings import (
    GrantSettings,
    Limits,
    RegistrySettings,
    ResponderSettings,
    ServiceSettings,
    StsSettings,
)
from device.settings import AgentSettings
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle


class Stack:
    """Broker, emulator and responder, ready for cameras.

    Args:
        broker: a running Mosquitto.
        emulator: a running emulator.
        workdir: where the registry lives.
        limits: responder admission limits.
    """

    def __init__(
        self,
        broker: MosquittoProcess,
        emulator: EmulatorHandle,
        workdir: Path,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.broker = broker
        self.emulator = emulator
        self.workdir = workdir
        master = new_master_key()
        registry_url = f"sqlite:///{workdir / 'registry.db'}"
        self.registry = Registry(open_store(registry_url), MasterKey.from_text(master))
        self.settings = ResponderSettings(
            broker=ResponderBroker(
                url=f"mqtt://{broker.host}:{broker.port}",
                keepalive_s=10,
                reconnect_initial_s=0.1,
                reconnect_max_s=1.0,
            ),
            sts=StsSettings(
                endpoint=emulator.sts_endpoint,
                region=emulator.region,
                access_key_id=emulator.access_key_id,
                access_key_secret=SecretStr(emulator.access_key_secret),
                role_arn=emulator.role_arn,
                max_duration_s=3600,
            ),
            grant=GrantSettings(
                bucket=emulator.bucket, oss_endpoint=emulator.oss_endpoint, region=emulator.region
            ),
            limits=limits or Limits(device_requests_per_minute=600, device_burst=50),
            registry=RegistrySettings(url=registry_url, master_key=SecretStr(master)),
            service=ServiceSettings(metrics_port=-1, workers=4),
        )
        self.responder: Responder = build_responder(self.settings, with_http=False)
        self.responder.start()
        if not self.responder.service.wait_connected(10):
            raise RuntimeError("responder did not connect to the broker")

    def close(self) -> None:
        self.responder.stop()
        self.registry.close()

    def provision(self, device_id: str) -> str:
        """Add a device to the registry; return its secret."""
        _, secret = self.registry.add(device_id)
        return secret

    def agent_settings(self, device_id: str, spool_dir: Path, **overrides: Any) -> AgentSettings:
        """Camera settings for ``device_id`` (provisioned on first use) against this stack."""
        secret = overrides.pop("secret", None) or self.provision(device_id)
        data: dict[str, Any] = {
            "device_id": device_id,
            "secret": secret,
            "broker": {
                "url": f"mqtt://{self.broker.host}:{self.broker.port}",
                "reconnect_initial_s": 0.1,
                "reconnect_max_s": 1.0,
            },
            "credentials": {"request_timeout_s": 3.0, "retry_initial_s": 0.1, "retry_max_s": 1.0},
            "spool": {"dir": str(spool_dir), "chunk_bytes": 64 * 1024, "chunk_max_age_s": 0.2},
            "upload": {
                "outage_initial_s": 0.1,
                "outage_max_s": 0.5,
                "status_interval_s": 0.5,
                "retry": {"attempts": 4, "initial_s": 0.02, "max_s": 0.2, "request_timeout_s": 5},
            },
            "source": {"kind": "pattern", "bitrate_bps": 4_000_000, "duration_s": 1.0},
        }
        for section, values in overrides.items():
            if isinstance(values, dict) and isinstance(data.get(section), dict):
                data[section] = _merge(data[section], values)
            else:
                data[section] = values
        return AgentSettings.model_validate(data)

    def bucket(self) -> oss2.Bucket:
        """The emulator bucket with root credentials (to inspect what cameras stored)."""
        auth = oss2.Auth(self.emulator.access_key_id, self.emulator.access_key_secret)
        return oss2.Bucket(auth, self.emulator.oss_endpoint, self.emulator.bucket)

    def objects(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every object under ``prefix``, in key order, with its content."""
        bucket = self.bucket()
        keys = sorted(obj.key for obj in oss2.ObjectIteratorV2(bucket, prefix=prefix))
        return [(key, bucket.get_object(key).read()) for key in keys]

    def stored(self, prefix: str) -> bytes:
        """The concatenation of every object under ``prefix`` in key order."""
        return b"".join(data for _, data in self.objects(prefix))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


StackFactory = Callable[..., Stack]
