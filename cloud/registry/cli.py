"""``ossmedia devices``: provision, list, revoke and rotate devices.

The registry location and master key come from ``--config responder.toml`` (its
``[registry]`` table), ``--registry URL`` and ``--master-key-file``, and the environment
(``OSSMEDIA_MASTER_KEY``, ``OSSMEDIA_REGISTRY_URL``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from cloud.config import load_settings
from cloud.errors import CloudError
from cloud.registry import CameraConfig, DeviceRecord, Registry, open_registry, parse_access
from cloud.registry.secrets import new_master_key
from cloud.registry.sql_store import migrate_store
from cloud.settings import ResponderSettings
from schemas.errors import InvalidIdentifier


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia devices`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia devices",
        description="Provision, list, revoke and rotate cameras in the device registry.",
    )
    parser.add_argument("--config", type=Path, help="responder TOML file ([registry], [broker])")
    parser.add_argument("--registry", help="registry URL (sqlite:///path.db or redis://...)")
    parser.add_argument("--master-key-file", type=Path, help="file holding the master key")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = sub.add_parser("add", help="provision a device and print its secret once")
    add.add_argument("device_id")
    add.add_argument(
        "--access", default="all", help="comma-separated modes: append,write,read (default all)"
    )
    rotate = sub.add_parser("rotate", help="give a device a new secret (the old one stops working)")
    rotate.add_argument("device_id")
    for p in (add, rotate):
        p.add_argument("--broker-url", help="broker URL as the camera sees it (camera config)")
        p.add_argument("--ca-file", type=Path, help="CA bundle path on the camera (camera config)")
        p.add_argument("--config-out", type=Path, help="write the camera config to this file")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    lst = sub.add_parser("list", help="list devices (no secrets)")
    lst.add_argument("--json", action="store_true", help="print a JSON array")
    revoke = sub.add_parser("revoke", help="revoke a device: its requests are refused")
    revoke.add_argument("device_id")
    revoke.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("new-master-key", help="print a fresh master key")
    migrate = sub.add_parser(
        "migrate",
        help="bring a SQL registry's schema up to date (or to --to); needs no master key",
    )
    migrate.add_argument(
        "--to", default="head", metavar="REVISION", help="target revision (default: head)"
    )
    return parser


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> ResponderSettings:
    env = dict(environ)
    if args.registry:
        env["OSSMEDIA_REGISTRY_URL"] = args.registry
    if args.master_key_file:
        env["OSSMEDIA_REGISTRY_MASTER_KEY_FILE"] = str(args.master_key_file)
        env.pop("OSSMEDIA_MASTER_KEY", None)
    return load_settings(args.config, env)


def _camera_config(
    args: argparse.Namespace, settings: ResponderSettings, record: DeviceRecord, secret: str
) -> str:
    return CameraConfig(
        device_id=record.device_id,
        secret=secret,
        broker_url=args.broker_url or settings.broker.url,
        topic_prefix=settings.broker.topic_prefix,
        ca_file=args.ca_file,
    ).render()


def _write_private(path: Path, text: str) -> None:
    # The camera config holds the secret: create it readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _issue(
    args: argparse.Namespace,
    settings: ResponderSettings,
    record: DeviceRecord,
    secret: str,
    out: TextIO,
    verb: str,
) -> None:
    config = _camera_config(args, settings, record, secret)
    if args.config_out:
        _write_private(args.config_out, config)
    if args.json:
        doc: dict[str, Any] = {**record.to_json(), "secret": secret, "camera_config": config}
        out.write(json.dumps(doc) + "\n")
        return
    out.write(f"Device {record.device_id} {verb} (access: {', '.join(sorted(record.access))}).\n")
    out.write(f"Secret (shown once; it is stored encrypted): {secret}\n")
    if args.config_out:
        out.write(f"Camera config written to {args.config_out} (mode 0600).\n")
    else:
        out.write("\nCamera config (save as camera.toml on the device):\n\n" + config)


def _dispatch(
    registry: Registry, args: argparse.Namespace, settings: ResponderSettings, out: TextIO
) -> int:
    if args.command == "add":
        record, secret = registry.add(args.device_id, access=parse_access(args.access))
        _issue(args, settings, record, secret, out, "added")
    elif args.command == "rotate":
        record, secret = registry.rotate(args.device_id)
        _issue(args, settings, record, secret, out, "rotated; the old secret no longer works")
    elif args.command == "revoke":
        record = registry.revoke(args.device_id)
        if args.json:
            out.write(json.dumps(record.to_json()) + "\n")
        else:
            out.write(f"Device {record.device_id} revoked.\n")
    else:
        records = registry.list()
        if args.json:
            out.write(json.dumps([r.to_json() for r in records]) + "\n")
        else:
            out.write(f"{'DEVICE':<34}{'STATUS':<9}{'ACCESS':<20}VERSION\n")
            for r in records:
                access = ",".join(sorted(r.access))
                out.write(f"{r.device_id:<34}{r.status.value:<9}{access:<20}{r.secret_version}\n")
    return 0


def run(argv: list[str], environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """Run ``ossmedia devices`` with an explicit environment and output streams.

    Returns:
        0 on success, 1 on a registry or configuration error, 2 on a usage error.
    """
    args = build_parser().parse_args(argv)
    if args.command == "new-master-key":
        out.write(new_master_key() + "\n")
        return 0
    try:
        settings = _settings(args, environ)
        if args.command == "migrate":
            before, after = migrate_store(settings.registry.url, args.to)
            out.write(f"Registry schema: {before or 'empty'} -> {after or 'empty'}.\n")
            return 0
        if args.command in {"add"}:
            parse_access(args.access)
        registry = open_registry(settings.registry)
        try:
            return _dispatch(registry, args, settings, out)
        finally:
            registry.close()
    except (CloudError, InvalidIdentifier, ValueError) as exc:
        err.write(f"ossmedia devices: {exc}\n")
        return 1


def main(argv: list[str]) -> int:
    """Entry point of ``ossmedia devices``."""
    return run(argv, os.environ, sys.stdout, sys.stderr)
