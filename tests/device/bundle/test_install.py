"""The x86_64 bundle installed on this machine: offline, read-only root, refusals, upgrade."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from device.spool import Journal, Spool
from simulator.boards import Layout, install, tree, unpack
from tests.device.agentkit import wait_until
from tests.device.bundle.conftest import Bundles
from tests.device.stack import Stack
from tests.device.toml_out import write_camera_toml

HOST_PYTHON = "/usr/bin/python3"  # Debian's, as a camera has it (not this venv's)


@pytest.fixture
def host_bundle(bundles: Bundles, tmp_path: Path) -> Path:
    return unpack(bundles.get("linux-x86_64").archive, tmp_path / "bundle")


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def test_offline_install_on_a_read_only_root(host_bundle: Path, tmp_path: Path) -> None:
    layout = Layout.under(tmp_path / "camera")
    result = install(host_bundle, layout, python=HOST_PYTHON)
    _ok(result)
    assert f"wrote {layout.config} (0600)" in result.stdout
    mode = stat.S_IMODE(layout.config.stat().st_mode)
    assert mode == 0o600
    config = layout.config.read_text()
    assert 'client = "http"' in config
    assert f'dir = "{layout.data}/spool"' in config
    assert (layout.data / "spool").is_dir()
    # The venv runs the agent; neither oss2 nor cryptography is installed.
    probe = subprocess.run(
        [str(layout.python), "-c",
         "import importlib.util as u, ossmedia_cli, device.agent.cli; "
         "print([m for m in ('oss2', 'cryptography', 'crcmod') if u.find_spec(m)])"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert probe.stdout.strip() == "[]"
    version = subprocess.run(
        [str(layout.python), "-m", "ossmedia_cli", "--version"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert version.stdout.strip() == "ossmedia 0.1.0"
    manifest = json.loads((layout.prefix / "current" / "MANIFEST.json").read_text())
    assert manifest["target"] == "linux-x86_64"
    unit = (layout.prefix / "current" / "share" / "ossmedia-camera.service").read_text()
    assert f"ReadWritePaths={layout.data}\n" in unit
    assert f"--config {layout.config} --progress-interval 60\n" in unit
    assert f"ExecStart={layout.launcher} " in unit


# Run by the launcher's interpreter and flags: every module the agent imports, the standard
# library's included, must come from the release's -OO byte-code cache, not be compiled again.
_FROM_CACHE = """
import importlib.util, sys
import device.agent.cli, device.agent.hls_mode, device.osshttp
missing = [
    name for name, module in sorted(sys.modules.items())
    if (origin := getattr(getattr(module, "__spec__", None), "origin", None) or "").endswith(".py")
    and not __import__("os").path.exists(importlib.util.cache_from_source(origin))
]
print(sys.flags.optimize, sys.pycache_prefix is not None, len(sys.modules), missing)
"""


def test_the_launcher_runs_the_agent_from_optimised_byte_code(
    host_bundle: Path, tmp_path: Path
) -> None:
    layout = Layout.under(tmp_path / "camera")
    _ok(install(host_bundle, layout, python=HOST_PYTHON))
    assert os.access(layout.launcher, os.X_OK)
    command = layout.agent_command()
    assert command[-3:] == ["-m", "ossmedia_cli", "camera"]
    assert "-OO" in command
    probe = subprocess.run(
        [*command[:-3], "-c", _FROM_CACHE],
        capture_output=True, text=True, check=True, timeout=60, cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    optimize, prefixed, count, missing = probe.stdout.strip().split(" ", 3)
    assert (optimize, prefixed, missing) == ("2", "True", "[]")
    assert int(count) > 200
    # The launcher itself starts the agent (its --help needs no configuration).
    helped = subprocess.run(
        [str(layout.launcher), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert helped.returncode == 0, helped.stderr
    assert "--config" in helped.stdout


def test_oss2_client_without_oss2_is_a_clear_configuration_error(
    host_bundle: Path, tmp_path: Path
) -> None:
    layout = Layout.under(tmp_path / "camera")
    _ok(install(host_bundle, layout, python=HOST_PYTHON))
    config = layout.config.read_text()
    config = config.replace('device_id = "cam-0001"', 'device_id = "cam-0042"')
    config = config.replace('client = "http"', 'client = "oss2"')
    secret = 'secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"'
    config = "\n".join(
        secret if line.startswith("secret =") else line for line in config.split("\n")
    )
    config = config.replace('kind = "directory"', 'kind = "pattern"')
    layout.config.write_text(config)
    run = subprocess.run(
        [str(layout.launcher), "--config", str(layout.config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert 'client = "oss2" needs the oss2 package' in run.stderr
    assert "Traceback" not in run.stderr


def test_systemd_unit_passes_systemd_analyze_verify(host_bundle: Path, tmp_path: Path) -> None:
    layout = Layout.under(tmp_path / "camera")
    _ok(install(host_bundle, layout, python=HOST_PYTHON))
    unit = layout.prefix / "current" / "share" / "ossmedia-camera.service"
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    assert "ossmedia-camera.service" not in verify.stderr, verify.stderr
    text = unit.read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "NoNewPrivileges=yes",
                 "ProtectSystem=strict"):  # fmt: skip
        assert f"{line}\n" in text
    # The same check refuses a unit whose program is missing (the check can fail).
    broken = tmp_path / "ossmedia-camera.service"
    broken.write_text(text.replace(str(layout.prefix), str(tmp_path / "nowhere")))
    refused = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(broken)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0


@pytest.mark.parametrize("case", ["wrong_arch", "older_python", "no_data", "read_only_data"])
def test_refusals_leave_nothing_behind(
    bundles: Bundles, host_bundle: Path, tmp_path: Path, case: str
) -> None:
    bundle = host_bundle
    if case == "wrong_arch":
        bundle = unpack(bundles.get("linux-aarch64").archive, tmp_path / "arm")
    elif case == "older_python":
        bundle = unpack(bundles.get("linux-x86_64", "3.12").archive, tmp_path / "py312")
    base = tmp_path / "camera"
    layout = Layout.under(base)
    writable = None
    if case == "no_data":
        layout.data.rmdir()
    elif case == "read_only_data":
        writable = (layout.prefix.parent, layout.conf.parent)
    before = tree(base)
    result = install(bundle, layout, python=HOST_PYTHON, writable=writable)
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert "Traceback" not in message
    expected = {
        "wrong_arch": "this bundle is for linux-aarch64; this machine is x86_64",
        "older_python": "this bundle needs Python 3.12; /usr/bin/python3 is Python 3.11, "
        "which is older",
        "no_data": f"the data partition {layout.data} is missing or not writable",
        "read_only_data": f"the data partition {layout.data} is missing or not writable",
    }[case]
    assert expected in message
    assert tree(base) == before


def test_failed_install_keeps_the_installed_release(host_bundle: Path, tmp_path: Path) -> None:
    layout = Layout.under(tmp_path / "camera")
    _ok(install(host_bundle, layout, python=HOST_PYTHON))
    before = tree(layout.prefix)
    # A bundle that lost a wheel (and its manifest entry): pip fails half-way.
    manifest_path = host_bundle / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    wheel = next(name for name in manifest["files"] if "pydantic_core" in name)
    (host_bundle / wheel).unlink()
    del manifest["files"][wheel]
    manifest_path.write_text(json.dumps(manifest))
    result = install(host_bundle, layout, python=HOST_PYTHON)
    assert result.returncode == 2
    assert "pip could not install the bundled wheels" in result.stderr
    assert "nothing was changed" in result.stderr
    assert tree(layout.prefix) == before


def test_upgrade_in_place_keeps_config_and_spool_and_uploads_the_old_spool(
    host_bundle: Path, stack: Stack, tmp_path: Path
) -> None:
    layout = Layout.under(tmp_path / "camera")
    _ok(install(host_bundle, layout, python=HOST_PYTHON))
    first_release = os.readlink(layout.prefix / "current")
    device_id = "cam-upgrade"
    recording = tmp_path / "before.bin"
    recording.write_bytes(os.urandom(300_000))
    spool_dir = layout.data / "spool"
    settings = stack.agent_settings(
        device_id,
        spool_dir,
        source={"kind": "file", "path": str(recording), "bitrate_bps": 8_000_000},
        oss={"client": "http"},
    )
    write_camera_toml(settings, layout.config)
    layout.config.chmod(0o600)
    # OSS is down: the old version records into the spool and cannot upload.
    stack.emulator.set_faults({"outages": [{"after_s": 0, "mode": "error"}]})
    old = subprocess.Popen(
        [str(layout.launcher), "--config", str(layout.config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: len(list(spool_dir.glob("**/*"))) > 3, 60, "spooled chunks")
        wait_until(lambda: bool(stack.emulator.faults()["injected"]), 60, "a refused upload")
    finally:
        old.send_signal(signal.SIGTERM)
        _, stderr = old.communicate(timeout=90)
    assert old.returncode == 0, stderr[-2000:]
    journal = Journal(spool_dir)
    spool = Spool(spool_dir, max_bytes=settings.spool.max_bytes,
                  done_through=journal.state.last_chunk_seq)  # fmt: skip
    spooled = spool.stats().bytes
    spool.close()
    assert spooled > 0
    assert journal.state.counters.uploaded_bytes == 0
    config_before = layout.config.read_bytes()
    spool_before = tree(spool_dir)

    _ok(install(host_bundle, layout, python=HOST_PYTHON))  # the upgrade

    assert os.readlink(layout.prefix / "current") != first_release
    assert layout.config.read_bytes() == config_before
    assert stat.S_IMODE(layout.config.stat().st_mode) == 0o600
    assert tree(spool_dir) == spool_before
    # The new release uploads what the old one spooled, then records a new file.
    stack.emulator.clear_faults()
    after = tmp_path / "after.bin"
    after.write_bytes(os.urandom(100_000))
    text = layout.config.read_text().replace(str(recording), str(after))
    layout.config.write_text(text)
    drained = subprocess.run(
        [str(layout.launcher), "--config", str(layout.config),
         "--until-drained"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert drained.returncode == 0, drained.stderr[-3000:]
    stored = stack.stored(f"videos/{device_id}/")
    assert stored == recording.read_bytes()[:spooled] + after.read_bytes()


def test_sysv_init_script_starts_supervises_and_stops(
    host_bundle: Path, stack: Stack, tmp_path: Path
) -> None:
    layout = Layout.under(tmp_path / "camera")
    _ok(install(host_bundle, layout, python=HOST_PYTHON))
    settings = stack.agent_settings(
        "cam-sysv",
        layout.data / "spool",
        source={"kind": "pattern", "bitrate_bps": 500_000, "duration_s": None},
        oss={"client": "http"},
    )
    write_camera_toml(settings, layout.config)
    init = str(layout.prefix / "current" / "share" / "ossmedia-camera.init")

    def run(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", init, action], capture_output=True, text=True, timeout=120, check=False
        )

    _ok(run("start"))
    agent_pid_file = layout.data / "run" / "agent.pid"
    try:
        assert run("status").returncode == 0
        wait_until(agent_pid_file.is_file, 30, "the agent's pid file")
        first = int(agent_pid_file.read_text())
        wait_until(lambda: bool(stack.objects(f"videos/{settings.device_id}/")), 60, "an upload")
        # The supervisor restarts an agent that dies, as Restart=always does.
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: agent_pid_file.is_file() and agent_pid_file.read_text().strip() != str(first),
            30,
            "a restarted agent",
        )
        second = int(agent_pid_file.read_text())
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert run("status").returncode == 3
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)
    assert "camera cam-sysv" in (layout.data / "ossmedia-camera.log").read_text()
