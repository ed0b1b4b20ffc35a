"""A private PostgreSQL server made by ``initdb`` in a temporary directory, on a free
loopback port (never the machine's own server on 5432), for tests and benchmarks.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the
``postgres`` account that Debian's package creates (``nobody`` where there is none), in a
directory that account owns.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

_START_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1
_SUPERUSER = "ossmedia_test"


def _die_with_parent() -> None:
    # Linux: if the test process is killed, the server goes with it instead of lingering.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


__all__ = ["PostgresServer", "postgres_bindir"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bindir() -> Path:
    """Where ``initdb`` and ``postgres`` live (Debian keeps them out of ``PATH``).

    Raises:
        RuntimeError: PostgreSQL is not installed.
    """
    found = shutil.which("initdb")
    if found is not None:
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise RuntimeError("PostgreSQL is not installed (scripts/setup.sh installs it)")
    return versions[-1].parent


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: ``None`` means this process's own."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account to run PostgreSQL")


class PostgresServer:
    """A throw-away PostgreSQL cluster: trust authentication on loopback, no fsync."""

    def __init__(self) -> None:
        bindir = postgres_bindir()
        account = _server_account()
        # Not under pytest's tmp_path: that is private to root, and the server account must
        # reach its data directory.
        self.workdir = Path(tempfile.mkdtemp(prefix="ossmedia-pg-"))
        data = self.workdir / "data"
        uid = gid = None
        groups: list[int] | None = None
        if account is not None:
            os.chown(self.workdir, account.pw_uid, account.pw_gid)
            uid, gid, groups = account.pw_uid, account.pw_gid, []
        log_path = self.workdir / "postgres.log"
        init = subprocess.run(  # noqa: S603 - fixed argument list
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                _SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        if init.returncode != 0:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {init.stderr.strip()[-500:]}")
        self.port = _free_port()
        self._log = log_path.open("ab")
        if account is not None:
            os.chown(log_path, account.pw_uid, account.pw_gid)
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argument list
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.workdir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        self._names = itertools.count(1)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start (see {log_path})")
            time.sleep(0.05)

    def url(self, database: str) -> str:
        """``postgresql://ossmedia_test@127.0.0.1:PORT/database``."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
