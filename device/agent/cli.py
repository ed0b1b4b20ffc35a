"""``ossmedia camera``: run the camera agent from a TOML configuration file."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from device.agent.agent import EXIT_FAILED, Agent, Progress
from device.agent.allocator import tune_allocator
from device.agent.config import load_settings
from device.agent.example import EXAMPLE_CONFIG
from device.agent.notify import ServiceNotifier
from device.errors import DeviceError

__all__ = ["build_parser", "configure_logging", "main"]

EPILOG = """\
exit status: 0 stopped or drained, 1 failed, 2 bad configuration, 3 device revoked.

minimal camera.toml:
  device_id = "cam-0001"
  secret = "<base64url device secret>"
  [broker]
  url = "mqtts://broker.example.com:8883"
  [spool]
  dir = "/var/lib/ossmedia/spool"
  [source]
  kind = "directory"
  path = "/var/lib/ossmedia/segments"

HLS output (TS segments and an m3u8 playlist from H.264 Annex B):
  [source]
  kind = "file"              # or "stdin", or "pattern" (generated)
  path = "/var/lib/ossmedia/camera.h264"
  [output]
  format = "hls"

--example-config prints every setting with its default.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``ossmedia camera``."""
    parser = argparse.ArgumentParser(
        prog="ossmedia camera",
        description=(
            "Run the camera agent: record from the configured source into a durable on-disk "
            "spool, get short-lived credentials over MQTT, and append the recording to OSS "
            "exactly once, rolling objects by time and size."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="camera.toml to load")
    parser.add_argument(
        "--example-config",
        action="store_true",
        help="print a commented camera.toml with every setting and exit",
    )
    parser.add_argument(
        "--until-drained",
        action="store_true",
        help="exit once the source has ended and everything is uploaded (file/stdin sources)",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between progress lines on stderr (default: 10)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default: INFO)",
    )
    return parser


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``; oss2 only from WARNING unless ``level`` is DEBUG.

    oss2 logs every failed request at INFO with its exception (dozens of lines per OSS
    outage); the agent's own lines already say what failed and what it does about it.
    """
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level != "DEBUG":
        logging.getLogger("oss2").setLevel(logging.WARNING)


def main(argv: list[str]) -> int:
    """Run ``ossmedia camera``.

    Args:
        argv: arguments after ``camera``.

    Returns:
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.example_config:
        print(EXAMPLE_CONFIG, end="")
        return 0
    if args.config is None:
        parser.error("--config is required")
    tune_allocator()  # before the agent starts its threads
    configure_logging(args.log_level)
    log = logging.getLogger("ossmedia.camera")
    try:
        settings = load_settings(args.config)
        agent = Agent(settings)
    except DeviceError as exc:
        print(f"ossmedia camera: {exc.message}", file=sys.stderr)
        return 2 if exc.code == "config" else EXIT_FAILED

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        log.info("signal %s: stopping", signal.Signals(signum).name)
        agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def report(progress: Progress) -> None:
        log.info("%s", progress.line())

    log.info(
        "camera %s: broker %s, spool %s, source %s, output %s",
        settings.device_id,
        settings.broker.url,
        settings.spool.dir,
        settings.source.kind,
        settings.output.format,
    )
    # The spool is open once Agent() returned; READY follows the start of its threads.
    notifier = ServiceNotifier.from_environ(os.environ, time.monotonic, os.getpid())
    agent.start()
    notifier.ready(f"recording to {settings.spool.dir}")
    try:
        return agent.run(
            until_drained=args.until_drained,
            progress=report,
            progress_interval_s=args.progress_interval,
            heartbeat=notifier.heartbeat,
        )
    finally:
        notifier.stopping()
