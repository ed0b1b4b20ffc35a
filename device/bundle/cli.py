"""``ossmedia bundle``: build camera install bundles (on a build host with network access)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from device.bundle.build import BundleSpec, build_bundle
from device.bundle.errors import BundleError
from device.bundle.targets import TARGETS, target

__all__ = ["build_parser", "main"]

SOURCE_ROOT = Path(__file__).resolve().parents[2]

EPILOG = """\
Then, on the camera (no network needed):
  tar xzf ossmedia-camera-<version>-<target>-cp311.tar.gz
  sh ossmedia-camera-<version>-<target>-cp311/install.sh --prefix /opt/ossmedia \\
      --data /var/lib/ossmedia --config-dir /etc/ossmedia

exit status: 0 built, 2 bad arguments or a wheel missing for the target.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``ossmedia bundle``."""
    parser = argparse.ArgumentParser(
        prog="ossmedia bundle",
        description=(
            "Build self-contained camera install bundles: every wheel the camera agent needs "
            "for the target platform, an offline installer, systemd and SysV service files, "
            "a manifest with SHA-256 hashes and a size report."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted(TARGETS),
        help="platform to build for (repeatable; default: all)",
    )
    parser.add_argument(
        "--python", default="3.11", help="the camera's CPython version (default: 3.11)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("dist"), help="output directory (default: dist)"
    )
    parser.add_argument(
        "--from-source",
        action="append",
        default=[],
        metavar="NAME",
        help="an sdist-only dependency to build here as a pure-Python wheel (repeatable)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``ossmedia bundle``; returns the exit status."""
    args = build_parser().parse_args(argv)
    for name in args.target or sorted(TARGETS):
        spec = BundleSpec(
            target=target(name),
            python=args.python,
            source_root=SOURCE_ROOT,
            out_dir=args.out,
            from_source=tuple(args.from_source),
        )
        try:
            bundle = build_bundle(spec)
        except BundleError as exc:
            print(f"ossmedia bundle: {name}: {exc.message}", file=sys.stderr)
            return 2
        print(bundle.size_report)
        print(f"wrote {bundle.archive} ({bundle.archive.stat().st_size:,} bytes)")
    return 0
