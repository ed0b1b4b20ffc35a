"""The device registry in SQL: one implementation on SQLite (the default, one responder host)
and on PostgreSQL (a database of record shared by every responder and console).

Only sealed secrets are stored (:mod:`cloud.registry.secrets`); the master key never reaches
the database. The schema is kept by Alembic scripts in :mod:`cloud.registry.migrations`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from cloud.database import (
    DatabaseError,
    Migrations,
    describe_url,
    is_postgres,
    make_engine,
    write_options,
)
from cloud.errors import DeviceExists, DeviceNotFound, RegistryError, RegistryUnavailable
from cloud.registry.models import DeviceRecord, DeviceStatus, StoredDevice
from cloud.registry.store import SQL_SCHEMES

__all__ = ["LOCK_TIMEOUT_S", "MIGRATIONS", "SqlDeviceStore", "devices", "migrate_store"]

LOCK_TIMEOUT_S = 10.0

MIGRATIONS = Migrations(
    "cloud.registry:migrations",
    version_table="registry_schema_version",
    name="registry",
    command="ossmedia devices migrate",
)

_metadata = sa.MetaData()
devices = sa.Table(
    "devices",
    _metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("access", sa.Text, nullable=False),
    sa.Column("secret_version", sa.Integer, nullable=False),
    sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)
registry_meta = sa.Table(
    "registry_meta",
    _metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)


def _to_device(row: sa.Row[tuple[str, str, str, int, bytes, int, int]]) -> StoredDevice:
    record = DeviceRecord(
        device_id=row.device_id,
        status=DeviceStatus(row.status),
        access=frozenset(a for a in row.access.split(",") if a),
        secret_version=row.secret_version,
        created_at_ms=row.created_at_ms,
        updated_at_ms=row.updated_at_ms,
    )
    return StoredDevice(record=record, sealed_secret=bytes(row.sealed_secret))


def _values(device: StoredDevice) -> dict[str, object]:
    r = device.record
    return {
        "status": r.status.value,
        "access": ",".join(sorted(r.access)),
        "secret_version": r.secret_version,
        "sealed_secret": device.sealed_secret,
        "created_at_ms": r.created_at_ms,
        "updated_at_ms": r.updated_at_ms,
    }


class SqlDeviceStore:
    """Devices in one table of a SQLite file or a PostgreSQL database.

    On SQLite the responder reads from many worker threads while ``ossmedia devices`` writes
    from another process; WAL lets those readers proceed during a write. On PostgreSQL every
    read is a fresh statement, so a revocation is seen by the very next lookup.

    Args:
        engine: from :func:`cloud.database.make_engine`.
        migrate: bring the schema up to date first; otherwise a schema that is not this
            release's is refused.

    Raises:
        RegistryError: the database cannot be reached or its schema is not current.
    """

    def __init__(
        self, engine: Engine, *, migrate: bool, lock_timeout_s: float = LOCK_TIMEOUT_S
    ) -> None:
        self._engine = engine
        self._lock_timeout_s = lock_timeout_s
        self._where = describe_url(str(engine.url))
        # A StaticPool is one connection (an in-memory database): one thread at a time.
        self._lock: AbstractContextManager[object] = (
            threading.Lock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )
        with self._errors():
            if migrate:
                MIGRATIONS.upgrade(engine)
            else:
                MIGRATIONS.require_current(engine)

    @classmethod
    def open(
        cls, url: str, *, migrate: bool | None = None, lock_timeout_s: float = LOCK_TIMEOUT_S
    ) -> SqlDeviceStore:
        """Open the registry at ``url``.

        Args:
            url: a ``sqlite://`` or ``postgresql://`` URL.
            migrate: upgrade the schema at open; by default yes on SQLite (the embedded
                registry looks after itself) and no on PostgreSQL (``ossmedia devices
                migrate`` does it, with a role allowed to change the schema).
        """
        try:
            engine = make_engine(url, busy_timeout_s=lock_timeout_s)
        except DatabaseError as exc:
            raise RegistryError(exc.message) from None
        if migrate is None:
            migrate = not is_postgres(engine)
        return cls(engine, migrate=migrate, lock_timeout_s=lock_timeout_s)

    @property
    def engine(self) -> Engine:
        """The engine (migrations, health checks)."""
        return self._engine

    @contextmanager
    def _errors(self) -> Iterator[None]:
        # Driver messages name no database and end in a traceback at the CLI; say what
        # happened and to which registry, without the password of its URL.
        try:
            with self._lock:
                yield
        except DatabaseError as exc:
            raise RegistryUnavailable(exc.message) from None
        except sa.exc.IntegrityError:
            raise
        except sa.exc.OperationalError as exc:
            text = str(exc.orig).strip()
            if "locked" in text or "busy" in text:
                raise RegistryUnavailable(
                    f"registry {self._where} is locked by another writer "
                    f"(waited {self._lock_timeout_s:g} s); try again"
                ) from None
            first = text.splitlines()[0] if text else type(exc.orig).__name__
            raise RegistryUnavailable(f"registry {self._where}: {first}") from None
        except sa.exc.SQLAlchemyError as exc:
            lines = str(getattr(exc, "orig", exc)).strip().splitlines()
            reason = lines[0] if lines else type(exc).__name__
            raise RegistryError(f"registry {self._where} is not usable: {reason}") from None

    def insert(self, device: StoredDevice) -> None:
        """Add a new device (raises :class:`DeviceExists` when the id is taken)."""
        device_id = device.record.device_id
        try:
            with self._errors(), self._write() as conn:
                conn.execute(devices.insert().values(device_id=device_id, **_values(device)))
        except sa.exc.IntegrityError:
            raise DeviceExists(device_id) from None

    def get(self, device_id: str) -> StoredDevice | None:
        """The device's row, or ``None``."""
        with self._errors(), self._engine.connect() as conn:
            row = conn.execute(sa.select(devices).where(devices.c.device_id == device_id)).first()
        return _to_device(row) if row is not None else None

    def update(self, device: StoredDevice) -> None:
        """Replace a device's row (raises :class:`DeviceNotFound` when absent)."""
        device_id = device.record.device_id
        with self._errors(), self._write() as conn:
            done = conn.execute(
                devices.update().where(devices.c.device_id == device_id).values(**_values(device))
            )
        if done.rowcount == 0:
            raise DeviceNotFound(device_id)

    def delete(self, device_id: str) -> None:
        """Remove a device's row (raises :class:`DeviceNotFound` when absent)."""
        with self._errors(), self._write() as conn:
            done = conn.execute(devices.delete().where(devices.c.device_id == device_id))
        if done.rowcount == 0:
            raise DeviceNotFound(device_id)

    def get_meta(self, name: str) -> bytes | None:
        """A registry-wide value, or ``None``."""
        with self._errors(), self._engine.connect() as conn:
            value = conn.execute(
                sa.select(registry_meta.c.value).where(registry_meta.c.name == name)
            ).scalar()
        return bytes(value) if value is not None else None

    def put_meta_if_absent(self, name: str, value: bytes) -> bytes:
        """Store a registry-wide value unless one is there; return the value now stored."""
        query = sa.select(registry_meta.c.value).where(registry_meta.c.name == name)
        with self._errors(), self._write() as conn:
            # Read first, then insert: two writers racing both end with the first one's value
            # (the loser's insert fails on the key and it reads again).
            stored = conn.execute(query).scalar()
            if stored is None:
                try:
                    with conn.begin_nested():
                        conn.execute(registry_meta.insert().values(name=name, value=value))
                except sa.exc.IntegrityError:
                    pass
                stored = conn.execute(query).scalar()
        return bytes(stored) if stored is not None else value

    def backup(self, destination: Path) -> None:
        """Copy a SQLite registry to ``destination`` online (SQLite's backup API).

        The copy is consistent even while a responder reads and ``ossmedia devices`` writes,
        and it includes whatever is still in the write-ahead log. A PostgreSQL registry is
        backed up with the database's own tools (``pg_dump``).

        Raises:
            RegistryError: not SQLite, or the copy failed.
        """
        if is_postgres(self._engine):
            raise RegistryError("back up a PostgreSQL registry with pg_dump")
        with self._errors(), self._engine.connect() as conn:
            source = conn.connection.driver_connection
            assert isinstance(source, sqlite3.Connection)  # noqa: S101 - checked above
            target = sqlite3.connect(str(destination))
            try:
                source.backup(target)
            finally:
                target.close()

    def list(self) -> list[DeviceRecord]:
        """Every device, sorted by id."""
        with self._errors(), self._engine.connect() as conn:
            rows = conn.execute(sa.select(devices).order_by(devices.c.device_id)).all()
        return [_to_device(row).record for row in rows]

    def ping(self) -> None:
        """Check the database answers (raises :class:`RegistryError` when not)."""
        with self._errors(), self._engine.connect() as conn:
            conn.execute(sa.select(sa.literal(1)))

    def close(self) -> None:
        """Close the pool's connections."""
        self._engine.dispose()

    def _write(self) -> AbstractContextManager[sa.Connection]:
        return self._engine.execution_options(**write_options()).begin()


def migrate_store(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade (or downgrade) the registry schema at ``url`` to ``revision``.

    A registry written before the schema had revisions is adopted with its rows.

    Returns:
        The revisions before and after.

    Raises:
        RegistryError: not a SQL registry, or the migration failed.
    """
    if urlsplit(url).scheme not in SQL_SCHEMES:
        raise RegistryError("a Redis registry has no schema to migrate")
    try:
        engine = make_engine(url)
        try:
            return MIGRATIONS.go_to(engine, revision)
        finally:
            engine.dispose()
    except DatabaseError as exc:
        raise RegistryError(exc.message) from None
    except sa.exc.SQLAlchemyError as exc:
        raise RegistryError(f"registry {describe_url(url)}: {type(exc).__name__}") from None
