"""``ossmedia emulator``: run the local OSS + STS emulator on one port.

Prints how to reach it (one JSON line with ``--json``), then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from simulator.base.errors import EmulatorError
from simulator.emulator.config import load_config, parse_document
from simulator.emulator.faults import FaultConfig
from simulator.emulator.runner import serve
from simulator.emulator.server import Emulator
from simulator.emulator.settings import EmulatorSettings

_FIELDS = (
    ("oss_endpoint", "OSS endpoint"),
    ("sts_endpoint", "STS endpoint"),
    ("region", "region"),
    ("account_id", "account id"),
    ("access_key_id", "access key id"),
    ("access_key_secret", "access key secret"),
    ("role_arn", "role ARN"),
    ("bucket", "bucket"),
    ("admin_token", "admin token"),
)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``ossmedia emulator``."""
    parser = argparse.ArgumentParser(
        prog="ossmedia emulator",
        description=(
            "Run a local, protocol-faithful Alibaba Cloud OSS + STS emulator. OSS (oss2, "
            "path-style on the IP endpoint) and STS AssumeRole (aliyunsdksts) share one port. "
            "Without --config it creates account 1000000000000001 with a random root key, "
            "bucket 'ossmedia' and role 'camera-writer' (oss:PutObject/GetObject on "
            "ossmedia/*). The admin API under /__admin (faults, clock, stats) needs the "
            "admin token as a Bearer token."
        ),
        epilog="Stop with Ctrl-C or SIGTERM; durable state is flushed on the way out.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=9000, help="port; 0 picks a free one (default: %(default)s)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir", type=Path, help="keep buckets, objects, keys and sessions in DIR"
    )
    where.add_argument(
        "--memory", action="store_true", help="keep everything in memory (the default)"
    )
    parser.add_argument(
        "--fsync", action="store_true", help="fsync every acknowledged write (with --data-dir)"
    )
    parser.add_argument(
        "--config", type=Path, help="TOML or JSON file: accounts, access keys, roles, buckets"
    )
    parser.add_argument(
        "--sts-rate",
        type=float,
        default=100.0,
        help="AssumeRole calls per second per account before Throttling.User (default: %(default)s; 0: unlimited)",
    )
    parser.add_argument(
        "--max-append-size",
        type=int,
        help="largest size of an appendable object in bytes (default: 5 GiB)",
    )
    parser.add_argument(
        "--faults", type=Path, help="TOML or JSON fault-injection config to start with"
    )
    parser.add_argument("--admin-token", help="bearer token of the admin API (default: random)")
    parser.add_argument(
        "--seed",
        type=int,
        help="seed generated keys and tokens (repeatable runs; not for real secrets)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON line with endpoints and credentials"
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    return parser  # fmt: skip


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    """Turn parsed arguments into settings (reads the config and faults files).

    Raises:
        EmulatorError: a file is unreadable or invalid.
    """
    faults = FaultConfig()
    if args.faults is not None:
        faults = FaultConfig.parse(parse_document(args.faults), source=str(args.faults))
    return EmulatorSettings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        fsync=args.fsync,
        config=load_config(args.config) if args.config is not None else None,
        sts_rate=args.sts_rate,
        max_append_size=args.max_append_size,
        faults=faults,
        admin_token=args.admin_token,
        seed=args.seed,
        access_log=not args.quiet,
        log_level="warning",
    )


def _announce(info: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, sort_keys=True), flush=True)
        return
    width = max(len(label) for _, label in _FIELDS)
    lines = [f"{label:<{width}}  {info.get(key)}" for key, label in _FIELDS]
    print("ossmedia emulator is running\n" + "\n".join(lines), flush=True)


class _Terminated(Exception):
    """SIGTERM arrived (after uvicorn's graceful shutdown re-raised it)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise _Terminated


def main(argv: list[str]) -> int:
    """Run the emulator until interrupted.

    Args:
        argv: arguments after ``ossmedia emulator``.

    Returns:
        0 after a clean shutdown, 2 for bad arguments or files, 1 if the server cannot start.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fsync and args.data_dir is None:
        parser.error("--fsync needs --data-dir")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        settings = settings_from_args(args)
        emulator = Emulator(settings)
    except (EmulatorError, ValueError) as exc:
        print(f"ossmedia emulator: {exc}", file=sys.stderr)
        return 2
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal with the
    # previous handlers back in place: these turn it into a normal exit with status 0.
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        serve(emulator, lambda: _announce(emulator.info(), args.json))
    except EmulatorError as exc:
        print(f"ossmedia emulator: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
