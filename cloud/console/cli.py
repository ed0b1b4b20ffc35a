"""``ossmedia console``: run the web console and REST API, or back up its ledger.

Logs are JSON lines on stderr (operator actions as audit lines, see
:mod:`cloud.console.audit`); SIGTERM and Ctrl-C stop it, SIGHUP is logged and ignored.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import threading
from pathlib import Path

from pydantic import ValidationError

from cloud.console.errors import ConsoleError
from cloud.console.passwords import hash_password
from cloud.console.settings import EXAMPLE_CONFIG, HttpSettings, load_settings
from cloud.logs import configure_logging

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``ossmedia console``."""
    parser = argparse.ArgumentParser(
        prog="ossmedia console",
        description=(
            "Run the web console and REST API: a recording ledger fed by the cameras' "
            "segment.closed and status messages, fleet overview, day timelines, playback "
            "through short-lived presigned URLs, deletion, retention as bucket lifecycle "
            "rules, and device provisioning."
        ),
        epilog=(
            "Start with: ossmedia console --example-config > console.toml; "
            "ossmedia console --hash-password; then edit console.toml. The registry master "
            "key comes from OSSMEDIA_MASTER_KEY or registry.master_key_file. SIGTERM or "
            "Ctrl-C drains: new connections are refused, requests in flight get "
            "http.shutdown_timeout_s to finish, the message being ingested is stored, the "
            "MQTT session is closed. Exit status: 0 after such a stop; 1 the console could "
            "not serve (port in use); 2 bad arguments or configuration."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="console configuration (TOML)")
    parser.add_argument(
        "--example-config", action="store_true", help="print an example configuration and exit"
    )
    parser.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password (prompt, or one line on stdin) and print its hash for the config",
    )
    parser.add_argument("--host", help="override http.host")
    parser.add_argument("--port", type=int, help="override http.port")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    migrate = sub.add_parser(
        "migrate",
        help="bring the ledger's schema up to date (or to --to) and exit; run it once, "
        "before the replicas start, when the ledger is on PostgreSQL",
    )
    migrate.add_argument(
        "--to", default="head", metavar="REVISION", help="target revision (default: head)"
    )
    backup = sub.add_parser(
        "backup",
        help="copy the ledger online to FILE (SQLite's backup API; safe while the console runs)",
    )
    backup.add_argument("destination", metavar="FILE", help="the copy to write (must not exist)")
    return parser


def _migrate(config: str, revision: str) -> int:
    from cloud.console.ledger import migrate_ledger
    from cloud.database import DatabaseError

    try:
        settings = load_settings(config, os.environ)
        before, after = migrate_ledger(settings.ledger.location, revision)
    except (ConsoleError, ValidationError) as exc:
        print(f"ossmedia console: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"ossmedia console: {exc}", file=sys.stderr)
        return 1
    print(f"Ledger schema: {before or 'empty'} -> {after or 'empty'}.", file=sys.stderr)
    return 0


def _backup(config: str, destination: str) -> int:
    from cloud.console.ledger import Ledger
    from cloud.database import DatabaseError

    target = Path(destination)
    if target.exists():
        print(f"ossmedia console: {target} already exists; choose a new file", file=sys.stderr)
        return 1
    try:
        settings = load_settings(config, os.environ)
        if settings.ledger.url is not None and not settings.ledger.url.startswith("sqlite://"):
            print("ossmedia console: back up a PostgreSQL ledger with pg_dump", file=sys.stderr)
            return 1
        source = Path(settings.ledger.location.removeprefix("sqlite://"))
        if not source.is_file():
            print(f"ossmedia console: no ledger at {source}", file=sys.stderr)
            return 1
        ledger = Ledger(str(source))
        try:
            ledger.backup(str(target))
        finally:
            ledger.close()
    except (ConsoleError, ValidationError) as exc:
        print(f"ossmedia console: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"ossmedia console: backup failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"Ledger copied to {target}. HLS content keys in it open only with the registry's "
        "master key: keep the key with the copy (separately secured).",
        file=sys.stderr,
    )
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ConsoleError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def main(argv: list[str]) -> int:
    """Run ``ossmedia console``.

    Args:
        argv: arguments after ``console``.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    if args.example_config:
        sys.stdout.write(EXAMPLE_CONFIG)
        return 0
    if args.hash_password:
        try:
            print(hash_password(_read_password()))
        except (ValueError, ConsoleError) as exc:
            print(f"ossmedia console: {exc}", file=sys.stderr)
            return 2
        return 0
    if not args.config:
        print("ossmedia console: --config FILE is required (see --example-config)", file=sys.stderr)
        return 2
    if args.command == "migrate":
        return _migrate(args.config, args.to)
    if args.command == "backup":
        return _backup(args.config, args.destination)
    configure_logging(args.log_level)
    # Imported here so --help, --example-config and --hash-password stay quick.
    from cloud.console.runtime import Console

    try:
        settings = load_settings(args.config, os.environ)
        http = settings.http.model_dump()
        if args.host is not None:
            http["host"] = args.host
        if args.port is not None:
            http["port"] = args.port
        settings = settings.model_copy(update={"http": HttpSettings.model_validate(http)})
        console = Console(settings)
    except (ConsoleError, ValidationError) as exc:
        print(f"ossmedia console: {exc}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"ossmedia console: serving on {url}", file=sys.stderr, flush=True)

    try:
        console.serve_forever(ready)
    except ConsoleError as exc:
        print(f"ossmedia console: {exc}", file=sys.stderr)
        return 1
    finally:
        console.parts.close()
    _exit_without_stragglers()
    return 0


def _exit_without_stragglers() -> None:
    """Exit now if a request cancelled by the shutdown timeout still holds a worker thread.

    A request cancelled after ``http.shutdown_timeout_s`` may still be blocked in a worker
    thread (an OSS call waiting for its read timeout); the interpreter would wait for it at
    exit, past the timeout the operator set, so the process ends without it.
    """
    main_thread = threading.main_thread()
    stragglers = [t for t in threading.enumerate() if t is not main_thread and not t.daemon]
    if stragglers:
        logging.getLogger(__name__).warning(
            "console: %d request(s) still running after the shutdown timeout; exiting",
            len(stragglers),
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
