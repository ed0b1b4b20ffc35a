"""``ossmedia bench console-login``: a sign-in flood against a real ``ossmedia console``.

The console runs as its own process with an operator whose password hash has the default
scrypt cost (32 MiB per check). After the operator has signed in once (the baseline round
trip, and the address the console then knows), ``--threads`` attackers post ``--attempts``
sign-ins each with random user names, every thread from its own loopback address
(127.0.0.2, 127.0.0.3, ...), while the operator signs in again from their usual address.
Reported: the console's resident memory before and at its peak during the flood (goal: less
than +100 MB), the attackers' answers, and the operator's sign-in status and round trip
during the flood next to the baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from cloud.console.passwords import hash_password
from cloud.registry import new_master_key
from simulator import lifetime
from simulator.bench.procfs import status_kib
from simulator.bench.report import say, submit
from simulator.bench.responder.run import _process
from simulator.emulator.handle import spawned_emulator

GOAL_RSS_GROWTH_KIB = 100 * 1000  # +100 MB
OPERATOR = "operator"
OPERATOR_ADDRESS = "127.0.0.1"


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia bench console-login`` parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bench console-login",
        description=(
            "Flood a real console's sign-in with random user names from many addresses; "
            "measure its memory and a real operator's sign-in during the flood."
        ),
        epilog=lifetime.exit_status_help("every goal met", "a goal missed"),
    )
    parser.add_argument("--threads", type=int, default=48, help="attackers (%(default)s)")
    parser.add_argument(
        "--attempts", type=int, default=3, help="sign-ins per attacker (%(default)s)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser


def _config(work: Path, emulator: Any, password_hash: str) -> Path:
    (work / "oss.secret").write_text(emulator.access_key_secret + "\n", encoding="utf-8")
    config = work / "console.toml"
    config.write_text(
        f"""
[http]
port = 0
[[operators]]
username = "{OPERATOR}"
password_hash = "{password_hash}"
[mqtt]
enabled = false
[oss]
endpoint = "{emulator.oss_endpoint}"
bucket = "{emulator.bucket}"
region = "{emulator.region}"
access_key_id = "{emulator.access_key_id}"
access_key_secret_file = "{work / "oss.secret"}"
[ledger]
path = "{work / "ledger.db"}"
[registry]
url = "sqlite://{work / "registry.db"}"
[reconcile]
enabled = false
""",
        encoding="utf-8",
    )
    return config


def _serving_url(log: Path, proc: Any, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "serving on http://" in line:
                return line.rsplit(" ", 1)[1].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError("the console did not start:\n" + log.read_text()[-2000:])


def _client(url: str, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=120, trust_env=False)


def _sign_in(http: httpx.Client, username: str, password: str) -> tuple[int, float]:
    """One sign-in as a browser script does it: (status, round trip of the POST in ms)."""
    token = http.get("/api/session").json()["csrf_token"]
    start = time.perf_counter()
    reply = http.post(
        "/api/session",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": token},
    )
    return reply.status_code, (time.perf_counter() - start) * 1000


class _RssSampler:
    """Samples a process's VmRSS every 20 ms and keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now_kib(self) -> int:
        return status_kib(self.pid, ["VmRSS"])["VmRSS"]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, self.now_kib())
            self._stop.wait(0.02)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _flood(url: str, threads: int, attempts: int, started: threading.Barrier) -> dict[str, int]:
    answers: dict[str, int] = {}
    lock = threading.Lock()

    def attacker(n: int) -> None:
        with _client(url, f"127.0.0.{2 + n}") as http:
            started.wait(60)
            for _ in range(attempts):
                try:
                    status, _ms = _sign_in(http, f"user-{uuid.uuid4().hex}", "guess")
                    key = str(status)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                with lock:
                    answers[key] = answers.get(key, 0) + 1

    workers = [threading.Thread(target=attacker, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    return answers


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the flood and return the results."""
    if not 1 <= args.threads <= 250:
        raise SystemExit("ossmedia bench console-login: --threads must be 1 to 250")
    password = uuid.uuid4().hex
    results: dict[str, Any] = {"parameters": {"threads": args.threads, "attempts": args.attempts}}
    with (
        lifetime.workdir("ossmedia-bench-console-login-") as work,
        spawned_emulator("--quiet") as emulator,
    ):
        config = _config(work, emulator, hash_password(password))
        env = {
            **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
            "OSSMEDIA_MASTER_KEY": new_master_key(),
        }
        command = [sys.executable, "-m", "ossmedia_cli", "console", "--config", str(config)]
        log = work / "console.log"
        with _process(command, env, log) as console:
            url = _serving_url(log, console)
            # Each sign-in from a fresh browser (no session cookie), same address.
            with _client(url, OPERATOR_ADDRESS) as operator:
                status0, base_ms = _sign_in(operator, OPERATOR, password)
                if status0 != 200:
                    raise RuntimeError(
                        f"the operator could not sign in before the flood: {status0}"
                    )
                time.sleep(1)
                with _RssSampler(console.pid) as rss:
                    baseline_kib = rss.now_kib()
                    say(f"flood: {args.threads} x {args.attempts} sign-ins, operator alongside")
                    started = threading.Barrier(args.threads + 1)
                    box: dict[str, dict[str, int]] = {}
                    flood = threading.Thread(
                        target=lambda: box.update(
                            answers=_flood(url, args.threads, args.attempts, started)
                        )
                    )
                    flood.start()
                    started.wait(60)
                    time.sleep(0.2)  # the flood is under way
                    with _client(url, OPERATOR_ADDRESS) as browser:
                        status1, during_ms = _sign_in(browser, OPERATOR, password)
                    flood.join()
                    time.sleep(0.5)
                    after_kib = rss.now_kib()
                peak_kib = rss.peak_kib
    growth = peak_kib - baseline_kib
    results.update(
        {
            "rss_baseline_kib": baseline_kib,
            "rss_peak_kib": peak_kib,
            "rss_after_kib": after_kib,
            "rss_growth_kib": growth,
            "attackers": box.get("answers", {}),
            "operator_alone": {"status": status0, "ms": round(base_ms, 1)},
            "operator_during_flood": {"status": status1, "ms": round(during_ms, 1)},
        }
    )
    say(
        f"  console RSS {baseline_kib / 1000:.1f} MB -> peak {peak_kib / 1000:.1f} MB "
        f"(+{growth / 1000:.1f} MB, goal < +{GOAL_RSS_GROWTH_KIB / 1000:g}) | operator sign-in "
        f"{status0} in {base_ms:.0f} ms alone, {status1} in {during_ms:.0f} ms during the flood"
        f" | attackers' answers {box.get('answers')}"
    )
    return results


def main(argv: list[str]) -> int:
    """Entry point of ``ossmedia bench console-login``."""
    args = build_parser().parse_args(argv)
    results = run(args)
    ok = (
        results["rss_growth_kib"] < GOAL_RSS_GROWTH_KIB
        and results["operator_during_flood"]["status"] == 200
    )
    return submit(results, args.json, ok=ok)
