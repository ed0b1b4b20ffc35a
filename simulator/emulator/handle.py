"""Run an emulator for a test or a script: in this process or as a separate process.

Both :func:`running_emulator` and :func:`spawned_emulator` yield an :class:`EmulatorHandle`
with the same client-facing fields and admin helpers, so one test can run against either.
The in-process handle also exposes the model objects (:attr:`EmulatorHandle.emulator`,
:attr:`EmulatorHandle.iam`) for white-box assertions.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from schemas.durations import DEFAULT_SESSION_DURATION_S
from simulator.base.errors import EmulatorError
from simulator.emulator.control import ENDPOINTS
from simulator.emulator.faults import FaultConfig
from simulator.emulator.runner import ServerThread
from simulator.emulator.server import Emulator, OssFactory
from simulator.emulator.settings import EmulatorSettings
from simulator.iam.models import Iam
from simulator.lifetime import child_process_group

_SPAWN_TIMEOUT_S = 30.0


class AdminClient:
    """Calls the emulator's ``/__admin`` API (stdlib HTTP, proxies bypassed).

    Args:
        endpoint: ``http://host:port`` of the emulator.
        token: the admin bearer token.
        timeout_s: per-call timeout.
    """

    def __init__(self, endpoint: str, token: str, *, timeout_s: float = 10.0) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"AdminClient({self._endpoint!r})"

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        """One admin call; returns the decoded JSON reply.

        Raises:
            EmulatorError: the call failed (the reply's error text is included).
        """
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - the URL is the emulator's own http endpoint
            f"{self._endpoint}/__admin{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise EmulatorError(f"admin {method} {path} failed: {exc.code} {detail}") from None
        except OSError as exc:
            raise EmulatorError(f"admin {method} {path} failed: {exc}") from None


@dataclass
class EmulatorHandle:
    """A running emulator as a client sees it, plus admin helpers.

    Attributes:
        oss_endpoint: ``http://127.0.0.1:PORT`` for oss2 (path-style addressing).
        sts_endpoint: the same server, for ``AssumeRoleRequest.set_endpoint``.
        region: the region to configure clients with.
        account_id: the default account.
        access_key_id: the default account's root key id.
        access_key_secret: its secret.
        role_arn: the default role (``camera-writer``) ARN.
        bucket: the default bucket.
        admin_token: bearer token of the admin API.
        admin: client of the admin API.
        emulator: the model objects (in-process handles only).
        pid: the server process id (spawned handles only).
    """

    oss_endpoint: str
    sts_endpoint: str
    region: str
    account_id: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    role_arn: str
    bucket: str
    admin_token: str = field(repr=False)
    admin: AdminClient
    emulator: Emulator | None = None
    pid: int | None = None

    @classmethod
    def from_info(
        cls, info: Mapping[str, Any], *, emulator: Emulator | None = None, pid: int | None = None
    ) -> EmulatorHandle:
        """Build a handle from the emulator's info document (what ``--json`` prints)."""
        return cls(
            oss_endpoint=info["oss_endpoint"],
            sts_endpoint=info["sts_endpoint"],
            region=info["region"],
            account_id=info["account_id"],
            access_key_id=info["access_key_id"],
            access_key_secret=info["access_key_secret"],
            role_arn=info["role_arn"],
            bucket=info["bucket"],
            admin_token=info["admin_token"],
            admin=AdminClient(info["oss_endpoint"], info["admin_token"]),
            emulator=emulator,
            pid=pid,
        )

    @property
    def port(self) -> int:
        """The TCP port of the server."""
        return int(self.oss_endpoint.rsplit(":", 1)[1])

    @property
    def iam(self) -> Iam:
        """The IAM model (in-process handles only).

        Raises:
            EmulatorError: the emulator runs in another process.
        """
        if self.emulator is None:
            raise EmulatorError("the emulator runs in another process; use the admin API")
        return self.emulator.iam

    # -- the control surface (simulator.emulator.control.Control), over the admin API ----

    def _call(self, operation: str, body: object | None = None, **path: str) -> Any:
        method, route = ENDPOINTS[operation]
        return self.admin.call(method, route.format(**path), body)

    def info(self) -> dict[str, Any]:
        """What a client needs: endpoints, region, root key, role ARN, bucket, admin token."""
        reply: dict[str, Any] = self._call("info")
        return reply

    def set_faults(self, faults: FaultConfig | Mapping[str, Any]) -> dict[str, Any]:
        """Replace the injected faults; returns the faults in force and the counters."""
        if isinstance(faults, FaultConfig):
            faults = faults.model_dump(mode="json")
        reply: dict[str, Any] = self._call("set_faults", dict(faults))
        return reply

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        self._call("clear_faults")

    def faults(self) -> dict[str, Any]:
        """The faults in force and what was injected so far."""
        reply: dict[str, Any] = self._call("faults")
        return reply

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator clock forward and apply lifecycle rules; returns the new offset."""
        reply = self._call("advance_clock", {"advance_s": seconds})
        return float(reply["offset_s"])

    def sweep_lifecycle(self) -> int:
        """Apply OSS lifecycle rules at the emulator clock; returns how many objects expired."""
        return int(self._call("sweep_lifecycle")["expired"])

    def stats(self) -> dict[str, Any]:
        """Requests per operation and outcome (``requests``) and injected faults (``faults``)."""
        reply: dict[str, Any] = self._call("stats")
        return reply

    def reset_stats(self) -> None:
        """Zero the request and fault counters."""
        self._call("reset_stats")

    def create_bucket(self, name: str, account_id: str | None = None) -> None:
        """Create a bucket owned by ``account_id`` (default: the first account)."""
        self._call("create_bucket", {"account": account_id}, name=name)

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
        body = {"name": name, "policies": policies, "account": account_id,
                "trusted_accounts": trusted_accounts, "trust_policy": trust_policy,
                "max_session_duration": max_session_duration}  # fmt: skip
        return str(self._call("create_role", body)["arn"])

    def add_access_key(
        self,
        access_key_id: str,
        secret: str,
        *,
        account_id: str | None = None,
        user: str | None = None,
        policies: list[Any] | None = None,
    ) -> None:
        """Add a long-term key (``user`` None makes it a root key of the account)."""
        body = {"id": access_key_id, "secret": secret, "account": account_id, "user": user,
                "policies": policies or []}  # fmt: skip
        self._call("add_access_key", body)


@contextlib.contextmanager
def running_emulator(
    settings: EmulatorSettings | None = None,
    *,
    oss_factory: OssFactory | None = None,
    **overrides: Any,
) -> Iterator[EmulatorHandle]:
    """Run an emulator in a background thread of this process.

    Args:
        settings: defaults to in-memory on a free loopback port, without access log.
        oss_factory: replaces the OSS backend (a stand-in app for tests of the server itself).
        **overrides: fields of :class:`EmulatorSettings` to change (``sts_rate=5`` ...).

    Yields:
        The handle; the server stops (and durable state is flushed) on exit.
    """
    base = settings or EmulatorSettings(port=0, access_log=False)
    if overrides:
        base = EmulatorSettings.model_validate({**base.model_dump(), **overrides})
    emulator = Emulator(base, oss_factory=oss_factory)
    server = ServerThread(emulator)
    server.start()
    try:
        yield EmulatorHandle.from_info(emulator.info(), emulator=emulator)
    finally:
        server.stop()


@contextlib.contextmanager
def spawned_emulator(
    *args: str, data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Iterator[EmulatorHandle]:
    """Run ``ossmedia emulator --json --port 0`` as a separate process.

    Args:
        *args: further command-line arguments (``--sts-rate``, ``--faults FILE`` ...).
        data_dir: run in durable mode with this directory (default: ``--memory``).
        env: environment of the child (default: this process's).

    Yields:
        The handle (``pid`` set, no model objects); the process gets SIGTERM on exit.

    Raises:
        EmulatorError: the process exited or printed no JSON line in time.
    """
    command = [sys.executable, "-m", "ossmedia_cli", "emulator", "--json", "--port", "0"]
    command += ["--data-dir", str(data_dir)] if data_dir is not None else ["--memory"]
    command += list(args)
    # stderr (logs) goes to a file: a pipe nobody drains would block the child when full.
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(  # noqa: S603 - fixed command line built above
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=dict(env) if env is not None else dict(os.environ),
            process_group=child_process_group(),
        )
        try:
            info = _read_info(process, stderr)
            yield EmulatorHandle.from_info(info, pid=process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _read_info(process: subprocess.Popen[str], stderr: IO[str]) -> dict[str, Any]:
    stdout = process.stdout
    if stdout is None:
        raise EmulatorError("the emulator process has no stdout")
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=_SPAWN_TIMEOUT_S)
    line = stdout.readline() if ready else ""
    if not line:
        process.terminate()
        process.wait(timeout=10)
        stderr.seek(0)
        raise EmulatorError(f"the emulator process did not start: {stderr.read()[-2000:].strip()}")
    info: dict[str, Any] = json.loads(line)
    return info
