"""Start-up checks and ``--check``: a responder with a broken dependency never subscribes.

Real Mosquitto, the real STS emulator, a real Redis (or the port of one that is not
running), and the real registry on SQLite.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.errors import MasterKeyMismatch, StartupRefused
from cloud.registry import Registry, new_master_key, open_registry
from cloud.responder.app import build_responder
from cloud.responder.cli import run
from cloud.settings import ResponderSettings
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.responder.harness import responder_settings

ROOT = Path(__file__).resolve().parents[3]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


class Setup:
    """Settings for one responder plus the same settings as an environment for the CLI."""

    def __init__(self, broker: MosquittoProcess, emulator: EmulatorHandle, tmp: Path) -> None:
        self.broker = broker
        self.emulator = emulator
        self.tmp = tmp
        self.master_key = new_master_key()

    def settings(self, **sections: Any) -> ResponderSettings:
        return responder_settings(
            self.broker, self.emulator, self.tmp, master_key=self.master_key, **sections
        )

    def env(self, **overrides: str) -> dict[str, str]:
        s = self.settings()
        env = {
            "OSSMEDIA_BROKER_URL": s.broker.url,
            "OSSMEDIA_STS_ENDPOINT": s.sts.endpoint,
            "OSSMEDIA_STS_REGION": s.sts.region,
            "OSSMEDIA_STS_ACCESS_KEY_ID": s.sts.access_key_id,
            "OSSMEDIA_STS_ACCESS_KEY_SECRET": s.sts.access_key_secret.get_secret_value(),
            "OSSMEDIA_STS_ROLE_ARN": s.sts.role_arn,
            "OSSMEDIA_REGISTRY_URL": s.registry.url,
            "OSSMEDIA_MASTER_KEY": self.master_key,
            "OSSMEDIA_SERVICE_METRICS_PORT": "0",
        }
        env.update(overrides)
        return {k: v for k, v in env.items() if v != "<unset>"}

    def registry(self, key: str | None = None) -> Registry:
        settings = self.settings(registry={"master_key": key or self.master_key})
        return open_registry(settings.registry)


@pytest.fixture
def setup(
    mosquitto_module: MosquittoProcess, cloud_emulator: EmulatorHandle, tmp_path: Path
) -> Setup:
    return Setup(mosquitto_module, cloud_emulator, tmp_path)


@pytest.fixture
def other_keyed_registry(setup: Setup) -> None:
    """The registry holds a device written under another master key."""
    registry = setup.registry(new_master_key())
    registry.add("cam-other")
    registry.close()


def _cli(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, env, out, err)
    return code, out.getvalue(), err.getvalue()


BROKEN = {
    "no state backend": (
        {"state": {"url": "redis://127.0.0.1:{closed}/0"}},
        "the state backend does not answer",
    ),
    "empty STS secret": ({"sts": {"access_key_secret": ""}}, "no STS AccessKey secret"),
    "a role STS refuses": (
        {"sts": {"role_arn": "acs:ram::1:role/no-such-role"}},
        "STS refused the responder's AccessKey or role (EntityNotExist.Role)",
    ),
    "a wrong STS secret": (
        {"sts": {"access_key_secret": "not-the-secret"}},
        "STS refused the responder's AccessKey or role",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_dependency_refuses_the_start_before_subscribing(setup: Setup, case: str) -> None:
    sections, reason = BROKEN[case]
    if "state" in sections:
        sections = {"state": {"url": f"redis://127.0.0.1:{_closed_port()}/0"}}
    responder = build_responder(setup.settings(**sections))
    with pytest.raises(StartupRefused) as refused:
        responder.start()
    assert any(reason in problem for problem in refused.value.problems), refused.value.problems
    # Nothing was started: no broker connection, no subscription, no health endpoint.
    _, details = responder.health()
    assert details["broker_connected"] is False
    assert not responder.service._thread.is_alive()
    responder.close()


def test_a_master_key_that_is_not_the_registrys_refuses_the_start(
    setup: Setup, other_keyed_registry: None
) -> None:
    responder = build_responder(setup.settings())
    with pytest.raises(StartupRefused, match="master key does not match this registry"):
        responder.start()
    assert not responder.service._thread.is_alive()
    responder.close()


def test_the_cli_exits_1_with_the_reason(setup: Setup) -> None:
    env = setup.env(OSSMEDIA_STATE_URL=f"redis://127.0.0.1:{_closed_port()}/0")
    code, _, err = _cli([], env)
    assert code == 1
    assert "cannot start: the state backend does not answer" in err


@pytest.mark.usefixtures("redis_url")
def test_check_accepts_a_sound_setup_and_records_nothing(setup: Setup, redis_url: str) -> None:
    registry = setup.registry()
    registry.add("cam-0001")
    registry.close()
    code, out, err = _cli(["--check"], setup.env(OSSMEDIA_STATE_URL=redis_url))
    assert (code, err) == (0, "")
    assert "the master key opens the registry" in out
    assert setup.master_key not in out


def _secret_file(tmp: Path, text: str) -> str:
    path = tmp / "secret"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("empty STS secret file", "no STS AccessKey secret"),
        ("no STS secret", "no STS AccessKey secret"),
        ("STS secret with a space", "STS AccessKey secret holds spaces"),
        ("malformed master key", "the master key"),
        ("another valid master key", "master key does not match this registry"),
        ("no state backend", "the state backend does not answer"),
        ("empty role", "sts.role_arn is empty"),
        ("empty quarantine password", "the quarantine password is empty"),
        ("unreadable quarantine CA", "quarantine.ca_file: cannot read"),
    ],
)
def test_check_refuses_each_broken_setup(setup: Setup, case: str, reason: str) -> None:
    registry = setup.registry()
    registry.add("cam-0001")
    registry.close()
    env = {
        "empty STS secret file": lambda: setup.env(
            OSSMEDIA_STS_ACCESS_KEY_SECRET="<unset>",
            OSSMEDIA_STS_ACCESS_KEY_SECRET_FILE=_secret_file(setup.tmp, "\n"),
        ),
        "no STS secret": lambda: setup.env(OSSMEDIA_STS_ACCESS_KEY_SECRET="<unset>"),
        "STS secret with a space": lambda: setup.env(OSSMEDIA_STS_ACCESS_KEY_SECRET="ab cd"),
        "malformed master key": lambda: setup.env(OSSMEDIA_MASTER_KEY="not-a-key"),
        "another valid master key": lambda: setup.env(OSSMEDIA_MASTER_KEY=new_master_key()),
        "no state backend": lambda: setup.env(
            OSSMEDIA_STATE_URL=f"redis://127.0.0.1:{_closed_port()}/0"
        ),
        "empty role": lambda: setup.env(OSSMEDIA_STS_ROLE_ARN=""),
        "empty quarantine password": lambda: setup.env(
            OSSMEDIA_QUARANTINE_URL="mqtt://127.0.0.1:1883", OSSMEDIA_QUARANTINE_PASSWORD=""
        ),
        "unreadable quarantine CA": lambda: setup.env(
            OSSMEDIA_QUARANTINE_URL="mqtt://127.0.0.1:1883",
            OSSMEDIA_QUARANTINE_PASSWORD="quarantine-password",
            OSSMEDIA_QUARANTINE_CA_FILE=str(setup.tmp / "missing-ca.pem"),
        ),
    }[case]()
    code, out, err = _cli(["--check"], env)
    assert code == 1
    assert reason in err
    assert "settings are valid" not in out
    for value in env.values():
        if len(value) > 20 and "/" not in value:
            assert value not in err + out  # no secret echoed


def test_the_registry_refuses_writes_under_another_key(setup: Setup) -> None:
    registry = setup.registry()
    registry.add("cam-0001")
    registry.close()
    wrong = setup.registry(new_master_key())
    for write in (lambda: wrong.add("cam-0002"), lambda: wrong.rotate("cam-0001")):
        with pytest.raises(MasterKeyMismatch):
            write()
    wrong.close()
    right = setup.registry()
    assert [r.device_id for r in right.list()] == ["cam-0001"]
    assert right.lookup("cam-0001") is not None
    right.close()


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while text not in log.read_text():
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.05)


def test_sighup_is_logged_and_ignored_and_sigterm_still_stops(setup: Setup) -> None:
    log = setup.tmp / "responder.log"
    env = {**os.environ, **setup.env()}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ossmedia_cli", "responder"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        _wait_for(log, '"msg": "started"', proc)
        proc.send_signal(signal.SIGHUP)
        _wait_for(log, "SIGHUP ignored", proc)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert '"msg": "stopped"' in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
