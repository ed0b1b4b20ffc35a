"""``ossmedia bench camera``: the camera bundle on emulated ARM boards next to native x86_64.

For each board (native x86_64 first, the baseline; then aarch64 and armv7l, each a Debian
bookworm root run through ``qemu-<arch>-static``) the benchmark builds the bundle for its
target, installs it offline on a read-only root (:func:`simulator.boards.install`) with
Debian's own ``python3`` for that architecture, and runs the installed agent in its bundle
configuration (``[oss] client = "http"``) recording a 4 Mbit/s test pattern and uploading it
through a local Mosquitto, responder and emulator process. It reports per board:

* bundle size (the ``.tar.gz``) and installed size (the release directory);
* install time;
* cold start to first append: from starting the process to the emulator's first
  successful ``AppendObject`` of that camera;
* resident memory while recording, sampled every 0.2 s after the first append: natively
  VmRSS; under qemu the resident size of the guest's own mappings (:class:`Board`), which is
  what the board would hold, and beside it the qemu process's VmRSS (translated-code
  cache and qemu's heap included); and the same board's bare interpreter
  (``python3 -c "sleep"``) measured the same way;
* CPU seconds per recorded hour, over the recording after the first append.

Exit status 0 when every board ran, uploaded and stayed within the 40 MB memory goal; 1
otherwise. Every figure of an emulated board is also given as a ratio to native x86_64
measured in the same run: qemu-user translates every instruction, so the ratios, not the absolute times, say
how the agent behaves on ARM; memory and sizes are comparable directly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import oss2

from device.bundle import BundleSpec, build_bundle, target
from simulator import lifetime
from simulator.bench.device import LocalStack, local_stack
from simulator.bench.procfs import process_cpu_s, status_kib
from simulator.boards import ARCHES, Layout, emulated_python, ensure_rootfs, install, unpack

__all__ = ["Board", "BoardFigures", "build_parser", "main"]

SOURCE_ROOT = Path(__file__).resolve().parents[2]
RECORDING_BPS = 4_000_000
RSS_GOAL_MB = 40.0
NATIVE_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class Board:
    """One place the camera runs: natively, or a Debian root under qemu-user.

    ``guest_below`` is where the guest's address space ends inside the qemu process: the
    guest's mappings (its interpreter, libraries, heap and stacks) lie below it, qemu's own
    (its binary, heap and translated-code buffer) above, so the resident size of the
    mappings below it is what the board itself would hold.
    """

    name: str
    target: str
    debian_arch: str | None  # None: natively, with this machine's python3
    guest_below: int = 0


BOARDS = (
    Board("x86_64 (native)", "linux-x86_64", None),
    # 64-bit guests get qemu's default mmap base (2**38 and up); qemu itself maps near the
    # top of the host's 47-bit space.
    Board("aarch64 (qemu)", "linux-aarch64", "arm64", 1 << 40),
    Board("armv7l (qemu)", "linux-armv7l", "armhf", 1 << 32),  # a 32-bit guest: 4 GiB
)


@dataclass(frozen=True)
class BoardFigures:
    """What one board measured."""

    board: str
    bundle_mb: float
    installed_mb: float
    install_s: float
    cold_start_s: float
    peak_rss_mb: float
    process_rss_mb: float
    median_rss_mb: float
    bare_rss_mb: float
    over_bare_mb: float
    cpu_s_per_hour: float
    uploaded_mb: float
    exit_code: int


def _rss_kib(pid: int) -> int:
    return status_kib(pid, ("VmRSS",))["VmRSS"]


def _guest_rss_kib(pid: int, below: int) -> int:
    """Resident KiB of the mappings of ``pid`` that end below ``below`` (from smaps)."""
    total, counting = 0, False
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        head = line.split(" ", 1)[0]
        if "-" in head and not head.endswith(":"):
            counting = int(head.split("-")[1], 16) <= below
        elif counting and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def _memory_kib(pid: int, board: Board) -> int:
    return _guest_rss_kib(pid, board.guest_below) if board.guest_below else _rss_kib(pid)


def _bare_rss_kib(command: list[str], board: Board) -> int:
    """Peak VmRSS of the board's bare interpreter (no imports) over one second."""
    idle = subprocess.Popen(  # noqa: S603 - fixed command line
        [*command, "-c", "import time; print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        process_group=lifetime.child_process_group(),
    )
    try:
        if idle.stdout is None or idle.stdout.readline().strip() != b"ready":
            raise RuntimeError("the bare interpreter did not start")
        pause = threading.Event()
        samples = []
        for _ in range(5):
            samples.append(_memory_kib(idle.pid, board))
            pause.wait(0.2)
        return max(samples)
    finally:
        idle.kill()
        idle.wait()


def _size_mb(path: Path) -> float:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


def _appends(stack: LocalStack) -> int:
    requests: dict[str, dict[str, int]] = stack.emulator.stats()["requests"]
    return requests.get("AppendObject", {}).get("200", 0)


def _uploaded_bytes(stack: LocalStack, device_id: str) -> int:
    emulator = stack.emulator
    bucket = oss2.Bucket(
        oss2.Auth(emulator.access_key_id, emulator.access_key_secret),
        emulator.oss_endpoint,
        emulator.bucket,
    )
    return sum(o.size for o in oss2.ObjectIteratorV2(bucket, prefix=f"videos/{device_id}/"))


def _config(stack: LocalStack, device_id: str, layout: Layout, seconds: float) -> None:
    _, secret = stack.registry.add(device_id)
    layout.config.write_text(
        "\n".join(
            [
                f'device_id = "{device_id}"',
                f'secret = "{secret}"',
                "[broker]",
                f'url = "mqtt://{stack.broker.host}:{stack.broker.port}"',
                "[spool]",
                f'dir = "{layout.data / "spool"}"',
                "[oss]",
                'client = "http"',
                "[source]",
                'kind = "pattern"',
                f"bitrate_bps = {RECORDING_BPS}",
                f"duration_s = {seconds}",
                "",
            ]
        )
    )


def run_board(board: Board, stack: LocalStack, workdir: Path, seconds: float) -> BoardFigures:
    """Build, install and run the camera on ``board``; return its figures."""
    base = workdir / board.target
    bundle = build_bundle(BundleSpec(target(board.target), "3.11", SOURCE_ROOT, base / "dist"))
    command_prefix: list[str] = []
    python = NATIVE_PYTHON
    if board.debian_arch is not None:
        root = ensure_rootfs(board.debian_arch)
        python = str(emulated_python(board.debian_arch, root, base / "python3"))
        command_prefix = [ARCHES[board.debian_arch].qemu, "-L", str(root)]
    layout = Layout.under(base / "camera")
    started = time.monotonic()
    result = install(unpack(bundle.archive, base / "bundle"), layout, python=python)
    install_s = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"install on {board.name} failed: {result.stderr.strip()}")
    bare_kib = _bare_rss_kib([*command_prefix, str(layout.python)], board)
    device_id = f"cam-bench-{board.target}"
    _config(stack, device_id, layout, seconds)
    before = _appends(stack)
    pause = threading.Event()
    started = time.monotonic()
    camera = subprocess.Popen(  # noqa: S603 - fixed command line
        layout.agent_command("--config", str(layout.config), "--until-drained",
                             "--log-level", "WARNING", emulator=command_prefix),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        process_group=lifetime.child_process_group(),
    )  # fmt: skip
    try:
        while _appends(stack) == before:
            if camera.poll() is not None or time.monotonic() - started > 300:
                raise RuntimeError(f"the camera on {board.name} never appended")
            pause.wait(0.02)
        first_append = time.monotonic()
        cold_start_s = first_append - started
        rss: list[int] = []
        process_rss: list[int] = []
        cpu_start, cpu_end = process_cpu_s(camera.pid), None
        window_start, window_end = first_append, first_append
        recording_ends = started + seconds
        while camera.poll() is None and time.monotonic() < recording_ends:
            rss.append(_memory_kib(camera.pid, board))
            process_rss.append(_rss_kib(camera.pid))
            cpu_end, window_end = process_cpu_s(camera.pid), time.monotonic()
            pause.wait(0.2)
        code = camera.wait(600)
    finally:
        if camera.poll() is None:
            camera.kill()
            camera.wait()
    samples = [r for r in rss if r] or [0]
    cpu_per_hour = 0.0
    if cpu_start is not None and cpu_end is not None and window_end > window_start:
        cpu_per_hour = (cpu_end - cpu_start) / (window_end - window_start) * 3600
    return BoardFigures(
        board=board.name,
        bundle_mb=round(bundle.archive.stat().st_size / 1e6, 2),
        installed_mb=round(_size_mb(layout.prefix / "releases"), 1),
        install_s=round(install_s, 1),
        cold_start_s=round(cold_start_s, 2),
        peak_rss_mb=round(max(samples) / 1024, 1),
        process_rss_mb=round(max(process_rss, default=0) / 1024, 1),
        median_rss_mb=round(statistics.median(samples) / 1024, 1),
        bare_rss_mb=round(bare_kib / 1024, 1),
        over_bare_mb=round((max(samples) - bare_kib) / 1024, 1),
        cpu_s_per_hour=round(cpu_per_hour, 0),
        uploaded_mb=round(_uploaded_bytes(stack, device_id) / 1e6, 2),
        exit_code=code,
    )


FIGURES = (
    ("bundle_mb", "bundle (MB)"),
    ("installed_mb", "installed (MB)"),
    ("install_s", "install (s)"),
    ("cold_start_s", "cold start to first append (s)"),
    ("peak_rss_mb", "peak RSS at 4 Mbit/s, the board's own (MB)"),
    ("median_rss_mb", "median RSS, the board's own (MB)"),
    ("process_rss_mb", "peak RSS of the process, qemu included (MB)"),
    ("bare_rss_mb", "bare interpreter RSS (MB)"),
    ("over_bare_mb", "agent peak over bare interpreter (MB)"),
    ("cpu_s_per_hour", "CPU s per recorded hour"),
    ("uploaded_mb", "uploaded (MB)"),
)


def table(figures: list[BoardFigures]) -> str:
    """A Markdown table: one row per figure, one column per board, ratios to the first."""
    native = figures[0]
    header = "| figure | " + " | ".join(f.board for f in figures) + " |"
    lines = [header, "|" + " --- |" * (len(figures) + 1)]
    for key, label in FIGURES:
        cells = []
        base = float(getattr(native, key))
        for board in figures:
            value = float(getattr(board, key))
            ratio = f" ({value / base:.1f}x)" if board is not native and base else ""
            cells.append(f"{value:g}{ratio}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``ossmedia bench camera``."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench camera",
        description=(
            "Build, install and run the camera bundle natively and on emulated aarch64 and "
            "armv7l boards; report sizes, cold start, memory and CPU, with ratios to native. "
            "Ctrl-C or SIGTERM lets the board in progress finish and skips the others."
        ),
        epilog=lifetime.exit_status_help(
            "every board ran and peaked at 40 MB or less", "a board failed or missed the goal"
        ),
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="recording length per board (default: 60)"
    )
    parser.add_argument(
        "--board",
        action="append",
        choices=[b.target for b in BOARDS],
        help="boards to run after the native baseline (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser


def main(argv: list[str]) -> int:
    """Run ``ossmedia bench camera``."""
    args = build_parser().parse_args(argv)
    chosen = [BOARDS[0], *(b for b in BOARDS[1:] if not args.board or b.target in args.board)]
    figures: list[BoardFigures] = []
    with lifetime.command_lifetime(
        "ossmedia bench camera", draining="finishing the board in progress"
    ) as shutdown:
        try:
            with (
                lifetime.workdir("ossmedia-bench-camera-") as workdir,
                local_stack(workdir) as stack,
            ):
                for board in chosen:
                    if shutdown.requested:
                        break
                    figures.append(run_board(board, stack, workdir, args.seconds))
        except lifetime.DrainSkipped as skipped:
            print("ossmedia bench camera: stopped at once; no results", file=sys.stderr)
            return lifetime.signal_status(skipped.signum)
    if len(figures) < len(chosen):
        print(f"stopped early: {len(figures)} of {len(chosen)} boards measured", file=sys.stderr)
        if not figures:
            return 1
    if args.json:
        print(json.dumps([f.__dict__ for f in figures], indent=2))
    else:
        print(table(figures))
        for measured in figures:
            verdict = "met" if measured.peak_rss_mb <= RSS_GOAL_MB else "not met"
            print(f"goal: peak RSS <= {RSS_GOAL_MB:g} MB on {measured.board}: {verdict}")
    if len(figures) < len(chosen) or any(f.exit_code != 0 or f.uploaded_mb == 0 for f in figures):
        return 1
    return 0 if all(f.peak_rss_mb <= RSS_GOAL_MB for f in figures) else 1
