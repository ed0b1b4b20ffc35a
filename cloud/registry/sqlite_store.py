"""SQLite device store: the default registry for one responder host."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cloud.errors import DeviceExists, DeviceNotFound, RegistryError, RegistryUnavailable
from cloud.registry.models import DeviceRecord, DeviceStatus, StoredDevice

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    access TEXT NOT NULL,
    secret_version INTEGER NOT NULL,
    sealed_secret BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"""
LOCK_TIMEOUT_S = 10.0
_COLUMNS = "device_id, status, access, secret_version, sealed_secret, created_at_ms, updated_at_ms"


def _row_to_device(row: tuple[str, str, str, int, bytes, int, int]) -> StoredDevice:
    device_id, status, access, version, sealed, created, updated = row
    record = DeviceRecord(
        device_id=device_id,
        status=DeviceStatus(status),
        access=frozenset(a for a in access.split(",") if a),
        secret_version=version,
        created_at_ms=created,
        updated_at_ms=updated,
    )
    return StoredDevice(record=record, sealed_secret=bytes(sealed))


def _device_to_row(device: StoredDevice) -> tuple[str, str, str, int, bytes, int, int]:
    r = device.record
    return (
        r.device_id,
        r.status.value,
        ",".join(sorted(r.access)),
        r.secret_version,
        device.sealed_secret,
        r.created_at_ms,
        r.updated_at_ms,
    )


class SqliteDeviceStore:
    """Devices in one SQLite file (WAL mode, one connection per thread).

    The responder reads from many worker threads while ``ossmedia devices`` writes from
    another process; WAL lets those readers proceed during a write, and a revocation is seen
    by the very next request.

    Args:
        path: the database file (created with its directory), or ``:memory:``.
        lock_timeout_s: how long a write waits for another writer before giving up with
            :class:`~cloud.errors.RegistryUnavailable`.

    Raises:
        RegistryError: the file cannot be opened.
    """

    def __init__(self, path: str, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self._path = path
        self._lock_timeout_s = lock_timeout_s
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self._errors():
            conn = self._conn()
            conn.executescript(_SCHEMA)
            conn.commit()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        # sqlite3's own messages name no file and end in a traceback at the CLI; say what
        # happened and to which registry.
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegistryUnavailable(
                    f"registry {self._path} is locked by another writer "
                    f"(waited {self._lock_timeout_s:g} s); try again"
                ) from None
            raise RegistryUnavailable(f"registry {self._path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"registry {self._path} is not usable: {exc}") from None

    def _conn(self) -> sqlite3.Connection:
        if self._path == ":memory:":
            # One shared connection: a private in-memory database exists per connection.
            if self._memory is None:
                self._memory = sqlite3.connect(":memory:", check_same_thread=False)
            return self._memory
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self._path, timeout=self._lock_timeout_s)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise RegistryError(f"cannot open registry {self._path}: {exc}") from None
            self._local.conn = conn
        return conn

    def insert(self, device: StoredDevice) -> None:
        """Add a new device (raises :class:`DeviceExists` when the id is taken)."""
        with self._lock, self._errors():
            conn = self._conn()
            try:
                conn.execute(
                    f"INSERT INTO devices ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    _device_to_row(device),
                )
                conn.commit()
            except sqlite3.IntegrityError:
                conn.rollback()
                raise DeviceExists(device.record.device_id) from None

    def get(self, device_id: str) -> StoredDevice | None:
        """The device's row, or ``None``."""
        with self._errors():
            if self._path == ":memory:":
                with self._lock:
                    row = self._select_one(device_id)
            else:
                row = self._select_one(device_id)
        return _row_to_device(row) if row else None

    def _select_one(self, device_id: str) -> tuple[str, str, str, int, bytes, int, int] | None:
        cur = self._conn().execute(
            f"SELECT {_COLUMNS} FROM devices WHERE device_id = ?",  # noqa: S608
            (device_id,),
        )
        row: tuple[str, str, str, int, bytes, int, int] | None = cur.fetchone()
        return row

    def update(self, device: StoredDevice) -> None:
        """Replace a device's row (raises :class:`DeviceNotFound` when absent)."""
        row = _device_to_row(device)
        with self._lock, self._errors():
            conn = self._conn()
            cur = conn.execute(
                "UPDATE devices SET status = ?, access = ?, secret_version = ?, "
                "sealed_secret = ?, created_at_ms = ?, updated_at_ms = ? WHERE device_id = ?",
                (*row[1:], row[0]),
            )
            conn.commit()
            if cur.rowcount == 0:
                raise DeviceNotFound(device.record.device_id)

    def delete(self, device_id: str) -> None:
        """Remove a device's row (raises :class:`DeviceNotFound` when absent)."""
        with self._lock, self._errors():
            conn = self._conn()
            cur = conn.execute("DELETE FROM devices WHERE device_id = ?", (device_id,))
            conn.commit()
            if cur.rowcount == 0:
                raise DeviceNotFound(device_id)

    def list(self) -> list[DeviceRecord]:
        """Every device, sorted by id."""
        with self._lock, self._errors():
            rows = self._conn().execute(
                f"SELECT {_COLUMNS} FROM devices ORDER BY device_id"  # noqa: S608
            )
            return [_row_to_device(row).record for row in rows.fetchall()]

    def get_meta(self, name: str) -> bytes | None:
        """A registry-wide value, or ``None``."""
        with self._lock, self._errors():
            row = (
                self._conn()
                .execute("SELECT value FROM registry_meta WHERE name = ?", (name,))
                .fetchone()
            )
        return bytes(row[0]) if row else None

    def put_meta_if_absent(self, name: str, value: bytes) -> bytes:
        """Store a registry-wide value unless one is there; return the value now stored."""
        with self._lock, self._errors():
            conn = self._conn()
            conn.execute(
                "INSERT OR IGNORE INTO registry_meta (name, value) VALUES (?, ?)", (name, value)
            )
            conn.commit()
            row = conn.execute("SELECT value FROM registry_meta WHERE name = ?", (name,)).fetchone()
        return bytes(row[0])

    def backup(self, destination: Path) -> None:
        """Copy the registry to ``destination`` online (SQLite's backup API).

        The copy is consistent even while a responder reads and ``ossmedia devices`` writes,
        and it includes whatever is still in the write-ahead log.

        Raises:
            RegistryError: the copy failed.
        """
        with self._errors():
            target = sqlite3.connect(str(destination))
            try:
                self._conn().backup(target)
            finally:
                target.close()

    def close(self) -> None:
        """Close this thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None
