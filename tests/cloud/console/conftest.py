"""Fixtures for console tests: a real console (uvicorn on a free port) over a real registry,
a real SQLite ledger and the real OSS emulator, and HTTP clients that log in like a browser."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import oss2
import pytest

from cloud.console import Console, ConsoleSettings, Ledger, RegistryDevices, hash_password
from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.registry.broker_accounts import CameraAccounts
from simulator.emulator.handle import EmulatorHandle, running_emulator
from tests.cloud.console.camera import TestCamera

OPERATOR = "operator"
PASSWORD = "correct horse battery staple"
# Low scrypt cost keeps logins fast in tests; the format and code path are the real ones.
PASSWORD_HASH = hash_password(PASSWORD, log2_n=10)
SESSION_SECRET = "test-session-secret-0123456789abcdef"


class TestClock:
    """A wall clock tests move by hand; starts at the real time so OSS links stay valid."""

    __test__ = False

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def console_settings(emulator: EmulatorHandle, **sections: dict[str, Any]) -> ConsoleSettings:
    """Settings for a console on a free port, against ``emulator``, without MQTT or a
    background reconciler (tests drive those explicitly); ``sections`` override fields."""
    data: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        # Every test client comes from 127.0.0.1 and the test clock stands still, so the
        # per-address sign-in bucket is opened wide here; its own tests set it explicitly.
        "session": {
            "secret": SESSION_SECRET,
            "max_login_failures": 3,
            "lockout_s": 60,
            "login_burst": 10_000,
            "login_global_burst": 10_000,
        },
        "operators": [{"username": OPERATOR, "password_hash": PASSWORD_HASH}],
        "mqtt": {"enabled": False},
        "oss": {
            "endpoint": emulator.oss_endpoint,
            "bucket": emulator.bucket,
            "region": emulator.region,
            "access_key_id": emulator.access_key_id,
            "access_key_secret": emulator.access_key_secret,
            "presign_ttl_s": 60,
        },
        "ledger": {"path": ":memory:"},
        "reconcile": {"enabled": False},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return ConsoleSettings.model_validate(data)


@pytest.fixture(scope="module")
def console_emulator() -> Iterator[EmulatorHandle]:
    """One OSS emulator for a test module (each test uses its own object keys)."""
    with running_emulator(access_log=False) as handle:
        yield handle


@pytest.fixture
def master_key() -> str:
    """The registry master key (text form), shared by the registry and the console."""
    return new_master_key()


@pytest.fixture
def registry(tmp_path: Path, master_key: str) -> Iterator[Registry]:
    """A real device registry (SQLite, encrypted secrets)."""
    reg = Registry(
        open_store(f"sqlite://{tmp_path / 'registry.db'}"), MasterKey.from_text(master_key)
    )
    yield reg
    reg.close()


@pytest.fixture
def root_bucket(console_emulator: EmulatorHandle) -> oss2.Bucket:
    """The emulator's bucket with its root key: for test uploads and tampering."""
    auth = oss2.AuthV4(console_emulator.access_key_id, console_emulator.access_key_secret)
    return oss2.Bucket(
        auth, console_emulator.oss_endpoint, console_emulator.bucket, region=console_emulator.region
    )


@dataclass
class Stack:
    """A running console and what it is wired to."""

    console: Console
    registry: Registry
    ledger: Ledger
    emulator: EmulatorHandle
    bucket: oss2.Bucket
    clock: TestClock

    @property
    def url(self) -> str:
        return self.console.url

    def camera(self, device_id: str) -> TestCamera:
        """Provision a camera in the registry the console uses."""
        camera = TestCamera.provision(self.registry, device_id, self.bucket)
        self.console.parts.service.sync_cameras()
        return camera

    def ingest(self, message: Any, topic: str | None = None) -> str:
        """Hand a camera message to the console's ingest, as the MQTT subscriber does."""
        from tests.cloud.console.camera import wire

        if topic is None:
            channel = "status" if message.kind == "status" else "events"
            topic = f"ossmedia/v1/{message.device_id}/{channel}"
        return self.console.parts.ingestor.handle(topic, wire(message)).value


StackFactory = Callable[..., Stack]


@contextlib.contextmanager
def _stacks(
    emulator: EmulatorHandle, registry: Registry, bucket: oss2.Bucket, master_key: str
) -> Iterator[StackFactory]:
    started: list[Console] = []

    def start(accounts: CameraAccounts | None = None, **sections: dict[str, Any]) -> Stack:
        clock = TestClock()
        ledger = Ledger(":memory:")
        sections = {
            **sections,
            "registry": {"master_key": master_key, **sections.get("registry", {})},
        }
        console = Console(
            console_settings(emulator, **sections),
            devices=RegistryDevices(registry),
            ledger=ledger,
            clock=clock,
            accounts=accounts,
        )
        started.append(console)
        console.start()
        return Stack(console, registry, ledger, emulator, bucket, clock)

    try:
        yield start
    finally:
        for console in started:
            console.stop()
            console.parts.ledger.close()


@pytest.fixture
def stack_factory(
    console_emulator: EmulatorHandle, registry: Registry, root_bucket: oss2.Bucket, master_key: str
) -> Iterator[StackFactory]:
    """Start consoles: ``stack_factory(session={...})`` overrides settings sections."""
    with _stacks(console_emulator, registry, root_bucket, master_key) as start:
        yield start


@pytest.fixture
def stack(stack_factory: StackFactory) -> Stack:
    """A running console with default test settings."""
    return stack_factory()


@pytest.fixture(scope="module")
def shared_stack(
    console_emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One console for a whole module, for tests that change nothing (refused requests)."""
    path = tmp_path_factory.mktemp("registry") / "registry.db"
    master = new_master_key()
    reg = Registry(open_store(f"sqlite://{path}"), MasterKey.from_text(master))
    auth = oss2.AuthV4(console_emulator.access_key_id, console_emulator.access_key_secret)
    bucket = oss2.Bucket(
        auth, console_emulator.oss_endpoint, console_emulator.bucket, region=console_emulator.region
    )
    with _stacks(console_emulator, reg, bucket, master) as start:
        shared = start()
        shared.camera("cam-1")
        yield shared
    reg.close()


def login(http: httpx.Client, username: str = OPERATOR, password: str = PASSWORD) -> str:
    """Log in through the API as a browser script would; returns the session's CSRF token."""
    token = http.get("/api/session").json()["csrf_token"]
    reply = http.post(
        "/api/session",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": token},
    )
    assert reply.status_code == 200, reply.text
    csrf: str = reply.json()["csrf_token"]
    return csrf


@pytest.fixture
def anon(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client that has not logged in."""
    with httpx.Client(base_url=stack.url, timeout=10, follow_redirects=False) as http:
        yield http


@dataclass
class Operator:
    """A logged-in HTTP client and its CSRF token."""

    http: httpx.Client
    csrf: str

    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


@pytest.fixture
def operator(stack: Stack) -> Iterator[Operator]:
    """An HTTP client logged in as the test operator."""
    with httpx.Client(base_url=stack.url, timeout=10, follow_redirects=False) as http:
        yield Operator(http, login(http))


@pytest.fixture(scope="module")
def shared_anon(shared_stack: Stack) -> Iterator[httpx.Client]:
    """A client of the shared console that has not logged in."""
    with httpx.Client(base_url=shared_stack.url, timeout=10, follow_redirects=False) as http:
        yield http


@pytest.fixture(scope="module")
def shared_operator(shared_stack: Stack) -> Iterator[Operator]:
    """A logged-in client of the shared console."""
    with httpx.Client(base_url=shared_stack.url, timeout=10, follow_redirects=False) as http:
        yield Operator(http, login(http))
