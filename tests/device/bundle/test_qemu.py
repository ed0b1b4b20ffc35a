"""The ARM bundles on emulated boards: install offline into a Debian root, record, upload, crash.

Each architecture's bundle is installed with the network unreachable and the root file
system read-only (:func:`~tests.device.bundle.kit.install`) using Debian bookworm's own
``python3`` for that architecture, run by ``qemu-<arch>-static -L ROOT`` (no binfmt_misc,
no chroot). The installed agent then records files and uploads them through this host's
Mosquitto, responder and emulator over loopback; it is SIGKILLed mid-upload and restarted,
and the objects read back with root keys are exactly what it recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from device.spool import Journal, Spool
from simulator.boards import ARCHES, Layout, emulated_python, ensure_rootfs, install, unpack
from tests.device.agentkit import wait_until
from tests.device.bundle.conftest import Bundles
from tests.device.stack import Stack
from tests.device.toml_out import write_camera_toml

MACHINE = {"arm64": "aarch64", "armhf": "armv7l"}


def _appended(stack: Stack) -> int:
    requests: dict[str, dict[str, int]] = stack.emulator.stats()["requests"]
    return requests.get("AppendObject", {}).get("200", 0)


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first run downloads the root file system
@pytest.mark.parametrize("arch", ["arm64", "armhf"])
def test_arm_bundle_installs_offline_and_uploads_exactly_through_a_sigkill(
    arch: str, bundles: Bundles, stack: Stack, tmp_path: Path
) -> None:
    info = ARCHES[arch]
    root = ensure_rootfs(arch)
    bundle = unpack(bundles.get(info.target).archive, tmp_path / "bundle")
    python = emulated_python(arch, root, tmp_path / "python3")  # the camera's python3
    layout = Layout.under(tmp_path / "camera")
    result = install(bundle, layout, python=str(python))
    assert result.returncode == 0, result.stdout + result.stderr

    def camera(*args: str) -> list[str]:
        # The launcher the service runs (its exec line: -OO from the release's byte code).
        return layout.agent_command(*args, emulator=[info.qemu, "-L", str(root)])

    machine = subprocess.run(
        [info.qemu, "-L", str(root), str(layout.python), "-c",
         "import platform, importlib.util as u; "
         "print(platform.machine(), u.find_spec('oss2') is None, u.find_spec('cryptography') is None)"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert machine.stdout.split() == [MACHINE[arch], "True", "True"]

    device_id = f"cam-{arch}"
    first = tmp_path / "first.bin"
    first.write_bytes(os.urandom(1_500_000))
    spool_dir = layout.data / "spool"
    settings = stack.agent_settings(
        device_id,
        spool_dir,
        source={"kind": "file", "path": str(first), "bitrate_bps": 4_000_000},
        oss={"client": "http"},
    )
    write_camera_toml(settings, layout.config)
    # Slow appends keep the upload behind the recording, so the kill lands mid-upload.
    stack.emulator.set_faults({"rules": [{"operations": ["AppendObject"], "latency_ms": 400}]})
    agent = subprocess.Popen(
        camera("--config", str(layout.config)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: _appended(stack) >= 2 or agent.poll() is not None, 120, "appends")
    finally:
        agent.send_signal(signal.SIGKILL)
        _, stderr = agent.communicate(timeout=60)
    assert agent.returncode == -signal.SIGKILL, stderr[-3000:]
    stack.emulator.clear_faults()

    journal = Journal(spool_dir)
    spool = Spool(spool_dir, max_bytes=settings.spool.max_bytes,
                  done_through=journal.state.last_chunk_seq)  # fmt: skip
    uploaded, spooled = journal.state.counters.uploaded_bytes, spool.stats().bytes
    spool.close()
    assert uploaded > 0
    assert spooled > 0, "the kill did not land mid-upload"

    second = tmp_path / "second.bin"
    second.write_bytes(os.urandom(300_000))
    layout.config.write_text(layout.config.read_text().replace(str(first), str(second)))
    restart = subprocess.run(
        camera("--config", str(layout.config), "--until-drained",
               "--progress-interval", "2"),
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert restart.returncode == 0, restart.stderr[-3000:]
    stored = stack.stored(f"videos/{device_id}/")
    assert stored == first.read_bytes()[: uploaded + spooled] + second.read_bytes()
