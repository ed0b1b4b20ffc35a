"""``ossmedia doctor``: check a deployment before the first camera connects.

Exit status: 0 ready (no check failed), 1 not ready, 2 a configuration could not be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cloud.doctor.checks import (
    CAMERA_CHECKS,
    CHECKS,
    CONSOLE_CHECKS,
    run_camera_checks,
    run_checks,
    run_console_checks,
)
from cloud.doctor.config import (
    load_camera_doctor_settings,
    load_console_doctor_settings,
    load_doctor_settings,
)
from cloud.doctor.errors import DoctorError
from cloud.doctor.report import Report

READY, NOT_READY, BAD_CONFIG = 0, 1, 2


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError("give a number of seconds above 0, at most 300")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ossmedia doctor",
        description=(
            "Check a deployment against the real endpoints: the STS key and camera role, what "
            "a camera credential can and cannot do, the bucket, the clock, the broker's TLS, "
            "login and ACL, the device registry, and the quarantine's broker admin account (when "
            "[quarantine] is configured). Each failure says what is wrong and the fix."
        ),
        epilog=(
            "checks with --config: "
            + ", ".join(c.name for c in CHECKS)
            + "; with --console-config alone: "
            + ", ".join(c.name for c in CONSOLE_CHECKS)
            + "; with --camera-config: "
            + ", ".join(c.name for c in CAMERA_CHECKS)
        ),
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--config", type=Path, help="the responder's TOML file (as it runs): every check"
    )
    which.add_argument(
        "--camera-config",
        type=Path,
        help=(
            "a camera's camera.toml instead: its broker's TLS against the camera's CA file, "
            "the camera's own login, one credential request through the responder, and the "
            "camera's own ACL"
        ),
    )
    parser.add_argument(
        "--console-config",
        type=Path,
        help=(
            "the console's TOML file: its key reads the bucket's settings and removes probes; "
            "alone (without --config), the console's own checks"
        ),
    )
    parser.add_argument(
        "--camera-user",
        help="a test camera's broker account (its device id), for the broker ACL check",
    )
    parser.add_argument(
        "--camera-password-file", type=Path, help="file holding that account's password"
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=10.0, help="seconds per network operation (10)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _report(args: argparse.Namespace) -> Report:
    """Read the configuration given and run the checks that apply to it."""
    if args.camera_config is not None and args.console_config is not None:
        raise DoctorError("give --camera-config alone (a camera's run has no console checks)")
    if args.config is None and args.camera_config is None:
        if args.console_config is None:
            raise DoctorError("give --config, --console-config or --camera-config")
        return run_console_checks(
            load_console_doctor_settings(args.console_config, os.environ, timeout_s=args.timeout)
        )
    if args.camera_config is not None:
        return run_camera_checks(
            load_camera_doctor_settings(args.camera_config, timeout_s=args.timeout)
        )
    return run_checks(
        load_doctor_settings(
            args.config,
            os.environ,
            console=args.console_config,
            camera_user=args.camera_user,
            camera_password_file=args.camera_password_file,
            timeout_s=args.timeout,
        )
    )


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = _report(args)
    except DoctorError as exc:
        if args.json:
            print(json.dumps({"ready": False, "error": exc.message}))
        else:
            print(f"ossmedia doctor: {exc.message}", file=sys.stderr)
        return BAD_CONFIG
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        sys.stdout.write(report.render())
    return READY if report.ready else NOT_READY
