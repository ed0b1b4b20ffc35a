"""The ``ossmedia`` command: a thin dispatcher that loads a subcommand only when it runs.

A camera with the base install can run ``ossmedia camera`` without the cloud or simulator
stacks being importable; a cloud subcommand on such a camera prints which extra to install.
Each subcommand module exposes ``main(argv: list[str]) -> int`` and builds its own parser,
so ``--help`` works on every level.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TextIO


@dataclass(frozen=True)
class Subcommand:
    name: str
    module: str
    extra: str | None
    summary: str


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("demo", "simulator.demo.cli", "sim", "run the whole system locally and report"),
    Subcommand("schemas", "schemas.cli", None, "export the protocol's JSON Schemas"),
    Subcommand("emulator", "simulator.emulator.cli", "sim", "run the local OSS + STS emulator"),
    Subcommand("responder", "cloud.responder.cli", "cloud", "run the credential responder"),
    Subcommand("devices", "cloud.registry.cli", "cloud", "provision, list, revoke, rotate devices"),
    Subcommand("camera", "device.agent.cli", None, "run the camera agent"),
    Subcommand("bundle", "device.bundle.cli", None, "build offline camera install bundles"),
    Subcommand("fleet", "simulator.fleet.cli", "sim", "simulate a camera fleet with chaos"),
    Subcommand("console", "cloud.console.cli", "cloud", "run the web console and REST API"),
    Subcommand("bench", "simulator.bench.cli", "sim", "run benchmarks against baselines"),
    Subcommand("doctor", "cloud.doctor.cli", "cloud", "check a deployment before cameras connect"),
)

# A few modules each extra brings; when one is missing, the extra is not installed.
EXTRA_PROBES: dict[str, tuple[str, ...]] = {
    "cloud": ("aliyunsdkcore", "aliyunsdksts", "starlette", "uvicorn", "redis"),
    "sim": ("aliyunsdkcore", "starlette", "uvicorn"),
}


def _version() -> str:
    try:
        return version("ossmedia")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ossmedia",
        description=(
            "Short-lived, per-camera Alibaba Cloud OSS credentials over MQTT, exactly-once "
            "video appends, a local OSS + STS emulator and a fleet simulator."
        ),
        epilog="Run 'ossmedia COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"ossmedia {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in SUBCOMMANDS:
        # add_help=False: the subcommand's own parser answers --help.
        sub.add_parser(cmd.name, help=cmd.summary, add_help=False)
    return parser


def _missing_modules(extra: str | None) -> list[str]:
    missing = []
    for name in EXTRA_PROBES.get(extra or "", ()):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _load(cmd: Subcommand) -> object:
    missing = _missing_modules(cmd.extra)
    if missing:
        print(
            f"ossmedia {cmd.name} needs the '{cmd.extra}' extra "
            f"(missing: {', '.join(missing)}).\n"
            f"Install it with: pip install 'ossmedia[{cmd.extra}]'",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return importlib.import_module(cmd.module)


def not_available(name: str, description: str, argv: list[str]) -> int:
    """Answer for a subcommand this version does not provide yet: help works, running fails.

    Args:
        name: the subcommand, as typed after ``ossmedia``.
        description: what the subcommand will do.
        argv: the remaining command-line arguments.

    Returns:
        0 for ``--help``, 2 otherwise (after saying so on stderr).
    """
    parser = argparse.ArgumentParser(
        prog=f"ossmedia {name}",
        description=f"{description} (not available in this version yet).",
    )
    parser.parse_known_args(argv)  # exits 0 on --help
    print(f"ossmedia {name}: not available in this version yet.", file=sys.stderr)
    return 2


def _settings_warnings_as_lines(command: str) -> None:
    """Print a deprecated setting as one line naming the command, not as a source location."""
    plain = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        from schemas.broker import DeprecatedSettingWarning  # only when a warning is shown

        if not issubclass(category, DeprecatedSettingWarning):
            plain(message, category, filename, lineno, file, line)
            return
        print(f"ossmedia {command}: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args or args[0].startswith("-"):
        parser.parse_args(args)  # handles --help / --version / errors
        parser.print_help()
        return 0 if not args else 2
    by_name = {cmd.name: cmd for cmd in SUBCOMMANDS}
    cmd = by_name.get(args[0])
    if cmd is None:
        parser.parse_args(args[:1])  # argparse prints "invalid choice" and exits 2
        return 2
    _settings_warnings_as_lines(cmd.name)
    module = _load(cmd)
    run = getattr(module, "main")  # noqa: B009 - the module is chosen at run time
    return int(run(args[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
