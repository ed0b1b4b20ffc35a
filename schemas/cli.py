"""``ossmedia schemas``: export or check the protocol's JSON Schema files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemas.jsonschema import PACKAGED_DIR, export, stale_files


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia schemas`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia schemas",
        description="Export or check the JSON Schema files of wire protocol v1.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    exp = sub.add_parser("export", help="write one JSON Schema file per message into DIR")
    exp.add_argument("directory", metavar="DIR", type=Path)
    chk = sub.add_parser(
        "check", help="fail (exit 1) when DIR's schema files differ from the current models"
    )
    chk.add_argument(
        "directory",
        metavar="DIR",
        type=Path,
        nargs="?",
        default=PACKAGED_DIR,
        help=f"directory to check (default: the packaged copy, {PACKAGED_DIR})",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``ossmedia schemas``.

    Args:
        argv: arguments after ``schemas``.

    Returns:
        0 on success, 1 when ``check`` finds stale files (argparse exits 2 on usage errors).
    """
    args = build_parser().parse_args(argv)
    if args.action == "export":
        for path in export(args.directory):
            print(path)
        return 0
    stale = stale_files(args.directory)
    if stale:
        print(
            f"stale JSON Schema files in {args.directory}: {', '.join(stale)}\n"
            f"regenerate with: ossmedia schemas export {args.directory}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.directory}: up to date")
    return 0
