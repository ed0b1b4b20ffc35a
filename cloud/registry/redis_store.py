"""Redis device store: one registry shared by several responder processes or hosts."""

from __future__ import annotations

from typing import Any

import redis

from cloud.errors import DeviceExists, DeviceNotFound, RegistryUnavailable
from cloud.registry.models import DeviceRecord, DeviceStatus, StoredDevice

# Insert and update must not race a concurrent add of the same id, so each is one script.
_INSERT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
_DELETE = """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def _fields(device: StoredDevice) -> list[bytes | str | int]:
    r = device.record
    return [
        "status",
        r.status.value,
        "access",
        ",".join(sorted(r.access)),
        "secret_version",
        r.secret_version,
        "sealed_secret",
        device.sealed_secret,
        "created_at_ms",
        r.created_at_ms,
        "updated_at_ms",
        r.updated_at_ms,
    ]


def _decode(device_id: str, raw: dict[bytes, bytes]) -> StoredDevice:
    record = DeviceRecord(
        device_id=device_id,
        status=DeviceStatus(raw[b"status"].decode()),
        access=frozenset(a for a in raw[b"access"].decode().split(",") if a),
        secret_version=int(raw[b"secret_version"]),
        created_at_ms=int(raw[b"created_at_ms"]),
        updated_at_ms=int(raw[b"updated_at_ms"]),
    )
    return StoredDevice(record=record, sealed_secret=raw[b"sealed_secret"])


class RedisDeviceStore:
    """Devices as Redis hashes ``{prefix}:device:{id}`` plus an index set ``{prefix}:devices``.

    Args:
        client: a Redis client (bytes responses).
        key_prefix: prefix of every key.
    """

    def __init__(self, client: redis.Redis[bytes], *, key_prefix: str = "ossmedia") -> None:
        self._r = client
        self._prefix = key_prefix
        self._insert = client.register_script(_INSERT)
        self._update = client.register_script(_UPDATE)
        self._delete = client.register_script(_DELETE)

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str = "ossmedia") -> RedisDeviceStore:
        """Connect to the Redis server at ``url``.

        Socket waits are bounded, so a Redis that stops answering fails a lookup with
        :class:`~cloud.errors.RegistryUnavailable` instead of holding the caller.
        """
        client = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        return cls(client, key_prefix=key_prefix)

    def _key(self, device_id: str) -> str:
        return f"{self._prefix}:device:{device_id}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise RegistryUnavailable(f"redis registry: {type(exc).__name__}") from None

    def insert(self, device: StoredDevice) -> None:
        """Add a new device (raises :class:`DeviceExists` when the id is taken)."""
        device_id = device.record.device_id
        keys = [self._key(device_id), f"{self._prefix}:devices"]
        if not self._call(self._insert, keys=keys, args=[device_id, *_fields(device)]):
            raise DeviceExists(device_id)

    def get(self, device_id: str) -> StoredDevice | None:
        """The device's row, or ``None``."""
        raw: dict[bytes, bytes] = self._call(self._r.hgetall, self._key(device_id))
        return _decode(device_id, raw) if raw else None

    def update(self, device: StoredDevice) -> None:
        """Replace a device's row (raises :class:`DeviceNotFound` when absent)."""
        device_id = device.record.device_id
        if not self._call(self._update, keys=[self._key(device_id)], args=_fields(device)):
            raise DeviceNotFound(device_id)

    def delete(self, device_id: str) -> None:
        """Remove a device's row (raises :class:`DeviceNotFound` when absent)."""
        keys = [self._key(device_id), f"{self._prefix}:devices"]
        if not self._call(self._delete, keys=keys, args=[device_id]):
            raise DeviceNotFound(device_id)

    def get_meta(self, name: str) -> bytes | None:
        """A registry-wide value, or ``None``."""
        value: bytes | None = self._call(self._r.get, f"{self._prefix}:registry:{name}")
        return value

    def put_meta_if_absent(self, name: str, value: bytes) -> bytes:
        """Store a registry-wide value unless one is there; return the value now stored."""
        key = f"{self._prefix}:registry:{name}"
        self._call(self._r.set, key, value, nx=True)
        stored: bytes | None = self._call(self._r.get, key)
        return stored if stored is not None else value

    def list(self) -> list[DeviceRecord]:
        """Every device, sorted by id."""
        ids = sorted(m.decode() for m in self._call(self._r.smembers, f"{self._prefix}:devices"))
        records = []
        for device_id in ids:
            device = self.get(device_id)
            if device is not None:
                records.append(device.record)
        return records

    def close(self) -> None:
        """Close the connection pool."""
        self._r.close()
