"""``python -m simulator.broker``: print the project's Mosquitto ACL, or write a first dynsec file.

``deploy/mosquitto/acl`` is this command's output for the default prefix; a test keeps the two
identical.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from simulator.broker.acl import (
    DEFAULT_CONSOLE_USER,
    DEFAULT_PREFIX,
    DEFAULT_RESPONDER_USER,
    project_acl,
)
from simulator.broker.dynsec import write_bootstrap
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
    acl.add_argument(
        "--services-only",
        action="store_true",
        help="leave out the camera rules (for the service listener of deploy/mosquitto)",
    )
    init = commands.add_parser(
        "dynsec-init",
        help="write the first dynamic-security file of the camera listener (admin account only)",
    )
    init.add_argument("file", type=Path, help="plugin_opt_config_file; must not exist yet")
    init.add_argument(
        "--admin", default="svc.provisioner", help="admin account (default: %(default)s)"
    )
    init.add_argument(
        "--quarantine-user",
        metavar="USER",
        help="also an admin account for the responders' quarantine of flooding cameras "
        "(e.g. svc.quarantine; password from OSSMEDIA_QUARANTINE_PASSWORD or asked for)",
    )
    return parser


def _dynsec_init(args: argparse.Namespace) -> int:
    # From the environment for scripts, else asked for: never on the command line.
    admins = {
        args.admin: os.environ.get("OSSMEDIA_PROVISIONER_PASSWORD")
        or getpass.getpass(f"password for {args.admin}: ")
    }
    if args.quarantine_user:
        admins[args.quarantine_user] = os.environ.get(
            "OSSMEDIA_QUARANTINE_PASSWORD"
        ) or getpass.getpass(f"password for {args.quarantine_user}: ")
    write_bootstrap(args.file, admins)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command.

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 2 for invalid arguments.
    """
    args = build_parser().parse_args(argv)
    if args.command == "dynsec-init":
        try:
            return _dynsec_init(args)
        except BrokerConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        acl = project_acl(
            args.prefix,
            responder_users=tuple(args.responder or (DEFAULT_RESPONDER_USER,)),
            console_users=tuple(args.console or (DEFAULT_CONSOLE_USER,)),
            cameras=not args.services_only,
        )
    except BrokerConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(acl.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
