"""``python -m simulator.broker acl``: print the project's Mosquitto ACL.

``deploy/mosquitto/acl`` is this command's output for the default prefix; a test keeps the two
identical.
"""

from __future__ import annotations

import argparse
import sys

from simulator.broker.acl import (
    DEFAULT_CONSOLE_USER,
    DEFAULT_PREFIX,
    DEFAULT_RESPONDER_USER,
    project_acl,
)
from simulator.broker.errors import BrokerConfigError


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m simulator.broker``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator.broker", description="Mosquitto helpers for ossmedia."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    acl = commands.add_parser("acl", help="print the Mosquitto acl_file for protocol v1")
    acl.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help="topic prefix P (default: %(default)s)"
    )
    acl.add_argument(
        "--responder",
        action="append",
        metavar="USER",
        help=f"responder account, repeatable (default: {DEFAULT_RESPONDER_USER})",
    )
    acl.add_argument(
        "--console",
        action="append",
        metavar="USER",
        help=f"console account, repeatable (default: {DEFAULT_CONSOLE_USER})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command.

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 2 for invalid arguments.
    """
    args = build_parser().parse_args(argv)
    try:
        acl = project_acl(
            args.prefix,
            responder_users=tuple(args.responder or (DEFAULT_RESPONDER_USER,)),
            console_users=tuple(args.console or (DEFAULT_CONSOLE_USER,)),
        )
    except BrokerConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(acl.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
