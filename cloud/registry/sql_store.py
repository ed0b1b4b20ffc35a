"""The device registry in SQL: one implementation on SQLite (the default, one responder host)
and on PostgreSQL (a database of record shared by every responder and console).

Only sealed secrets are stored (:mod:`cloud.registry.secrets`); the master key never reaches
the database. The schema is kept by Alembic scripts in :mod:`cloud.registry.migrations`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
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
from cloud.errors import DeviceExists, DeviceNotFound, RegistryError
from cloud.registry.models import DeviceRecord, DeviceStatus, StoredDevice
from cloud.registry.store import SQL_SCHEMES

__all__ = ["MIGRATIONS", "SqlDeviceStore", "devices", "migrate_store"]

MIGRATIONS = Migrations(
    "cloud.registry:migrations", version_table="registry_schema_version", name="registry"
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

    def __init__(self, engine: Engine, *, migrate: bool) -> None:
        self._engine = engine
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
    def open(cls, url: str, *, migrate: bool | None = None) -> SqlDeviceStore:
        """Open the registry at ``url``.

        Args:
            url: a ``sqlite://`` or ``postgresql://`` URL.
            migrate: upgrade the schema at open; by default yes on SQLite (the embedded
                registry looks after itself) and no on PostgreSQL (``ossmedia devices
                migrate`` does it, with a role allowed to change the schema).
        """
        try:
            engine = make_engine(url)
        except DatabaseError as exc:
            raise RegistryError(exc.message) from None
        if migrate is None:
            migrate = not is_postgres(engine)
        return cls(engine, migrate=migrate)

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
            raise RegistryError(exc.message) from None
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            first = str(getattr(exc, "orig", exc)).splitlines()[0:1]
            raise RegistryError(
                f"registry {self._where}: {type(exc).__name__}: {first[0] if first else ''}"
            ) from None

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
