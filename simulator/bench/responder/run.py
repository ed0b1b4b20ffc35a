"""Set up broker, emulator, registry, responder and echo; run the phases; report."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from schemas.keys import DeviceKeys
from simulator import lifetime
from simulator.bench.responder.client import Device
from simulator.bench.responder.phases import describe, parallel_throughput, round_trip, storm
from simulator.broker import MosquittoSettings, pick_free_port, running_mosquitto
from simulator.emulator.handle import EmulatorHandle, spawned_emulator

ECHO_PREFIX = "echo"
PREFIX = "ossmedia"


def emulator_sections(
    broker_url: str, prefix: str, emulator: EmulatorHandle, *, broker_lines: str = ""
) -> str:
    """The responder config's ``[broker]``, ``[sts]`` and ``[grant]`` tables pointing it at
    ``broker_url`` under topic ``prefix`` and the emulator (the STS secret goes in through the
    environment); ``broker_lines`` are more ``[broker]`` settings (TOML lines)."""
    return f"""[broker]
url = "{broker_url}"
topic_prefix = "{prefix}"
{broker_lines}

[sts]
endpoint = "{emulator.sts_endpoint}"
region = "{emulator.region}"
access_key_id = "{emulator.access_key_id}"
role_arn = "{emulator.role_arn}"

[grant]
bucket = "{emulator.bucket}"
oss_endpoint = "{emulator.oss_endpoint}"
region = "{emulator.region}"
"""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia bench responder`` parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench responder",
        description=(
            "Measure the credential responder next to a raw paho echo responder on the same "
            "Mosquitto: round trip (p50/p99), throughput with concurrent devices, and a boot "
            "storm against the STS emulator's call cap. Ctrl-C or SIGTERM lets the phase in "
            "progress finish and skips the others; the results hold the completed phases."
        ),
        epilog=lifetime.exit_status_help("every goal met", "a goal missed"),
    )
    parser.add_argument(
        "--samples", type=int, default=2000, help="round trips per side (default: %(default)s)"
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=100,
        help="concurrent devices for throughput (default: %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds per throughput run (default: %(default)s)",
    )
    parser.add_argument(
        "--storm-devices",
        type=int,
        default=5000,
        help="devices in the boot storm (default: %(default)s; 0 skips it)",
    )
    parser.add_argument(
        "--sts-cap",
        type=float,
        default=100.0,
        help="the emulator's AssumeRole calls/s (default: %(default)s)",
    )
    parser.add_argument(
        "--sts-share",
        type=float,
        default=0.98,
        help="responder cap as a share of --sts-cap (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="throughput runs per side, alternating (default: %(default)s)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="client processes sharing the throughput devices (default: %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=8, help="responder worker threads (default: %(default)s)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser  # fmt: skip


def _responder_config(
    path: Path,
    *,
    broker_url: str,
    emulator: EmulatorHandle,
    registry: Path,
    metrics_port: int,
    sts_cap: float,
    workers: int,
) -> None:
    path.write_text(
        f"""
{emulator_sections(broker_url, PREFIX, emulator)}
[limits]
# The bench's devices ask far more often than cameras do; the per-device limit would
# otherwise measure itself.
device_requests_per_minute = 100000000
device_burst = 100000000
sts_calls_per_second = {sts_cap}

[registry]
url = "sqlite://{registry}"

[service]
workers = {workers}
metrics_port = {metrics_port}
log_level = "WARNING"
""",
        encoding="utf-8",
    )


@contextlib.contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as handle:
        proc = subprocess.Popen(  # noqa: S603 - our own modules
            command,
            env=env,
            stdout=handle,
            stderr=handle,
            process_group=lifetime.child_process_group(),
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the responder exited:\n" + log.read_text()[-2000:])
        try:
            with opener.open(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError("the responder did not become healthy:\n" + log.read_text()[-2000:])


def _wait_ready(log: Path, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "ready" in log.read_text():
            return
        if proc.poll() is not None:
            raise RuntimeError("the echo responder exited:\n" + log.read_text()[-2000:])
        time.sleep(0.05)
    raise RuntimeError("the echo responder did not subscribe")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _provision(registry: Registry, names: list[str]) -> list[Device]:
    return [Device(name, DeviceKeys.from_secret(registry.add(name)[1])) for name in names]


class _Stopped(Exception):
    """A stop signal arrived: the phases not yet started are skipped."""


def _next_phase(shutdown: lifetime.Shutdown | None) -> None:
    if shutdown is not None and shutdown.requested:
        raise _Stopped


def run(args: argparse.Namespace, shutdown: lifetime.Shutdown | None = None) -> dict[str, Any]:
    """Run every phase and return the results.

    Args:
        args: the parsed command line.
        shutdown: once it is requested, the phase in progress completes and the others are
            skipped (the results then hold the completed phases only).
    """
    results: dict[str, Any] = {
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    }
    with contextlib.suppress(_Stopped):
        _run_phases(args, results, shutdown)
    return results


def _run_phases(
    args: argparse.Namespace, results: dict[str, Any], shutdown: lifetime.Shutdown | None
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    with lifetime.workdir("ossmedia-bench-responder-") as work:
        settings = MosquittoSettings(max_inflight_messages=1000, max_queued_messages=100_000)
        _say("starting Mosquitto and the STS emulator ...")
        with (
            running_mosquitto(settings, work / "mosquitto") as broker,
            spawned_emulator("--quiet", "--sts-rate", str(args.sts_cap), env=env) as emulator,
        ):
            master_key = new_master_key()
            registry = Registry(
                open_store(f"sqlite://{work / 'registry.db'}"), MasterKey.from_text(master_key)
            )
            _say(f"provisioning {1 + args.devices + args.storm_devices} devices ...")
            rt_device = _provision(registry, ["bench-rt"])[0]
            tp_devices = _provision(registry, [f"bench-tp-{n:04d}" for n in range(args.devices)])
            storm_devices = _provision(
                registry, [f"bench-st-{n:05d}" for n in range(args.storm_devices)]
            )
            registry.close()
            metrics_port = pick_free_port()
            config = work / "responder.toml"
            _responder_config(
                config,
                broker_url=broker.url,
                emulator=emulator,
                registry=work / "registry.db",
                metrics_port=metrics_port,
                sts_cap=args.sts_cap * args.sts_share,
                workers=args.workers,
            )
            child_env = {
                **env,
                "OSSMEDIA_MASTER_KEY": master_key,
                "OSSMEDIA_STS_ACCESS_KEY_SECRET": emulator.access_key_secret,
            }
            host, port = broker.host, broker.port
            with (
                _process(
                    [sys.executable, "-m", "ossmedia_cli", "responder", "--config", str(config)],
                    child_env,
                    work / "responder.log",
                ) as responder,
                _process(
                    [
                        sys.executable,
                        "-m",
                        "simulator.bench.responder.echo",
                        host,
                        str(port),
                        ECHO_PREFIX,
                    ],
                    env,
                    work / "echo.log",
                ) as echo,
            ):
                _wait_http(
                    f"http://127.0.0.1:{metrics_port}/healthz", responder, work / "responder.log"
                )
                _wait_ready(work / "echo.log", echo)
                metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

                _say(f"round trip: {args.samples} sequential requests, echo then responder ...")
                echo_rt = describe(
                    round_trip(
                        host, port, rt_device, args.samples, prefix=ECHO_PREFIX, unseal=False
                    )
                )
                resp_rt = describe(
                    round_trip(host, port, rt_device, args.samples, prefix=PREFIX, unseal=True)
                )
                ratio = resp_rt["p50_ms"] / echo_rt["p50_ms"]
                results["round_trip"] = {
                    "echo": echo_rt,
                    "responder": resp_rt,
                    "p50_ratio": round(ratio, 2),
                }
                _say(
                    f"  echo p50 {echo_rt['p50_ms']:.3f} ms p99 {echo_rt['p99_ms']:.3f} ms | "
                    f"responder p50 {resp_rt['p50_ms']:.3f} ms p99 {resp_rt['p99_ms']:.3f} ms | "
                    f"p50 ratio {ratio:.2f} (goal <= 3)"
                )

                _next_phase(shutdown)
                _say(
                    f"throughput: {args.devices} devices, {args.repeat} x {args.duration:g} s "
                    "each side, alternating echo and responder ..."
                )
                # Cache hits are what is measured: every device gets its credentials first
                # (at the STS cap, honouring retry_after_ms).
                storm(
                    host,
                    port,
                    tp_devices,
                    prefix=PREFIX,
                    metrics_url=metrics_url,
                    timeout_s=60,
                    progress=lambda _: None,
                )
                window = args.duration + 3.3  # the measured window plus start-up and warm-up
                runs: list[dict[str, float]] = []
                for n in range(args.repeat):
                    _next_phase(shutdown)
                    row: dict[str, float] = {}
                    for side, pid, prefix, expect_ok in (
                        ("echo", echo.pid, ECHO_PREFIX, False),
                        ("responder", responder.pid, PREFIX, True),
                    ):
                        cpu = _cpu(pid)
                        row[f"{side}_per_s"] = round(
                            parallel_throughput(
                                host,
                                port,
                                tp_devices,
                                args.duration,
                                prefix=prefix,
                                expect_ok=expect_ok,
                                processes=args.client_processes,
                            )
                        )
                        # CPU seconds the server used per second of the run (1.0 = a core).
                        row[f"{side}_cpu"] = round((_cpu(pid) - cpu) / window, 2)
                    row["share"] = round(row["responder_per_s"] / row["echo_per_s"], 3)
                    runs.append(row)
                    _say(
                        f"  run {n + 1}: echo {row['echo_per_s']:.0f}/s (server CPU "
                        f"{row['echo_cpu']:.2f}) | responder {row['responder_per_s']:.0f}/s "
                        f"(server CPU {row['responder_cpu']:.2f}) | {row['share']:.0%} of echo"
                    )
                share = statistics.median(r["share"] for r in runs)
                results["throughput"] = {
                    "echo_per_s": statistics.median(r["echo_per_s"] for r in runs),
                    "responder_per_s": statistics.median(r["responder_per_s"] for r in runs),
                    "share": round(share, 3),
                    "runs": runs,
                }
                _say(f"  median share {share:.0%} of echo (goal >= 60%)")

                _next_phase(shutdown)
                if storm_devices:
                    cap = args.sts_cap
                    goal = 1.2 * len(storm_devices) / cap
                    _say(
                        f"boot storm: {len(storm_devices)} devices, empty cache, STS emulator capped at "
                        f"{cap:g}/s (goal: last credentials within {goal:.0f} s) ..."
                    )
                    emulator.reset_stats()
                    result = storm(
                        host,
                        port,
                        storm_devices,
                        prefix=PREFIX,
                        metrics_url=metrics_url,
                        timeout_s=goal * 2,
                        progress=_say,
                    )
                    assume = emulator.stats()["requests"].get("AssumeRole", {})
                    results["storm"] = {
                        "devices": result.devices,
                        "with_credentials": result.done,
                        "last_s": round(result.last_s, 2),
                        "median_s": round(result.p50_s, 2),
                        "goal_s": round(goal, 1),
                        "requests": result.requests,
                        "sts_throttled_replies": result.throttled_replies,
                        "other_error_replies": result.other_errors,
                        "sts_calls": int(result.sts_calls),
                        "max_sts_calls_per_s": round(result.max_sts_rate, 1),
                        "emulator_assume_role": assume,
                    }
                    _say(
                        f"  {result.done}/{result.devices} devices got credentials; last after "
                        f"{result.last_s:.1f} s, median {result.p50_s:.1f} s; {result.requests} requests, "
                        f"{result.throttled_replies} sts_throttled replies; {int(result.sts_calls)} STS calls, "
                        f"max {result.max_sts_rate:.0f}/s; emulator AssumeRole outcomes {assume}"
                    )


def main(argv: list[str]) -> int:
    """Entry point of ``ossmedia bench responder``."""
    args = build_parser().parse_args(argv)
    with lifetime.command_lifetime(
        "ossmedia bench responder", draining="finishing the phase in progress"
    ) as shutdown:
        try:
            results = run(args, shutdown)
        except lifetime.DrainSkipped as skipped:
            _say("ossmedia bench responder: stopped at once; no results")
            return lifetime.signal_status(skipped.signum)
    results["stopped_by"] = shutdown.signal_name
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    wanted = ["round_trip", "throughput"] + (["storm"] if args.storm_devices else [])
    if any(phase not in results for phase in wanted):
        _say(f"stopped early by {shutdown.signal_name}: a phase that did not run met no goal")
        return 1
    storm_ok = True
    if "storm" in results:
        s = results["storm"]
        storm_ok = (
            s["with_credentials"] == s["devices"]
            and s["last_s"] <= s["goal_s"]
            and set(s["emulator_assume_role"]) <= {"200"}
        )
    goals = (
        results["round_trip"]["p50_ratio"] <= 3
        and results["throughput"]["share"] >= 0.6
        and storm_ok
    )
    _say("all goals met" if goals else "some goals were missed (see above)")
    return 0 if goals else 1
