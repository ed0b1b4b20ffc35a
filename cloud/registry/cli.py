"""``ossmedia devices``: provision, list, revoke, reinstate, rotate, delete and back up devices.

The registry location and master key come from ``--config responder.toml`` (its
``[registry]`` table), ``--registry URL`` and ``--master-key-file``, and the environment
(``OSSMEDIA_MASTER_KEY``, ``OSSMEDIA_REGISTRY_URL``).

With ``--provisioner-url`` (or ``OSSMEDIA_PROVISIONER_URL``), ``add`` and ``rotate`` also
create or re-key the camera's broker account through Mosquitto's dynamic-security API (a
fresh random MQTT password, written into the camera config), ``revoke`` disables it and
``delete`` deletes it (with its role). Each of these also removes a responder's quarantine
mark from the account (``reinstate`` re-enables it); see
:mod:`cloud.registry.broker_accounts`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr

from cloud.config import load_settings
from cloud.errors import BrokerAccountError, CloudError, ConfigError
from cloud.registry import CameraConfig, DeviceRecord, Registry, open_registry, parse_access
from cloud.registry.broker_accounts import (
    BrokerAdminSettings,
    CameraAccounts,
    DynsecAccounts,
    issue_password,
)
from cloud.registry.copy import copy_store
from cloud.registry.secrets import new_master_key
from cloud.registry.sql_store import SqlDeviceStore, migrate_store
from cloud.settings import ResponderSettings
from schemas.errors import InvalidIdentifier
from schemas.ids import DeviceId
from schemas.topics import Topics

_ISSUING = frozenset({"add", "rotate", "reinstate"})


def build_parser() -> argparse.ArgumentParser:
    """The ``ossmedia devices`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ossmedia devices",
        description=(
            "Provision, list, revoke, reinstate, rotate and delete cameras in the device "
            "registry; back it up, upgrade its schema, or copy it to another registry."
        ),
    )
    parser.add_argument("--config", type=Path, help="responder TOML file ([registry], [broker])")
    parser.add_argument(
        "--registry", help="registry URL (sqlite:///path.db, postgresql://... or redis://...)"
    )
    parser.add_argument("--master-key-file", type=Path, help="file holding the master key")
    admin = parser.add_argument_group(
        "broker accounts (Mosquitto dynamic-security plugin)",
        "add/rotate/reinstate create or re-key the camera's broker account, revoke disables "
        "it, delete deletes it; the password comes from OSSMEDIA_PROVISIONER_PASSWORD or --provisioner-password-file",
    )
    admin.add_argument("--provisioner-url", help="mqtt(s)://host:port of the plugin's listener")
    admin.add_argument(
        "--provisioner-user", help="admin account (default: [provisioning] or svc.provisioner)"
    )
    admin.add_argument("--provisioner-password-file", type=Path, help="file holding its password")
    admin.add_argument("--provisioner-ca-file", type=Path, help="CA bundle to verify the broker")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = sub.add_parser("add", help="provision a device and print its secret once")
    add.add_argument("device_id")
    add.add_argument(
        "--access", default="all", help="comma-separated modes: append,write,read (default all)"
    )
    rotate = sub.add_parser("rotate", help="give a device a new secret (the old one stops working)")
    rotate.add_argument("device_id")
    reinstate = sub.add_parser(
        "reinstate", help="make a revoked device active again, with a new secret"
    )
    reinstate.add_argument("device_id")
    for p in (add, rotate, reinstate):
        p.add_argument("--broker-url", help="broker URL as the camera sees it (camera config)")
        p.add_argument("--ca-file", type=Path, help="CA bundle path on the camera (camera config)")
        p.add_argument("--config-out", type=Path, help="write the camera config to this file")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    lst = sub.add_parser("list", help="list devices (no secrets)")
    lst.add_argument("--json", action="store_true", help="print a JSON array")
    revoke = sub.add_parser("revoke", help="revoke a device: its requests are refused")
    revoke.add_argument("device_id")
    revoke.add_argument("--json", action="store_true", help="print one JSON object")
    delete = sub.add_parser(
        "delete", help="remove a revoked device (its recordings in the bucket stay)"
    )
    delete.add_argument("device_id")
    delete.add_argument("--json", action="store_true", help="print one JSON object")
    backup = sub.add_parser(
        "backup", help="copy a SQLite registry online to FILE (keep the master key with it)"
    )
    backup.add_argument("destination", type=Path, help="the copy to write (must not exist)")
    key = sub.add_parser("new-master-key", help="print a fresh master key, or write it to --out")
    key.add_argument("--out", type=Path, help="write the key to this new file (mode 0600)")
    copy = sub.add_parser(
        "copy",
        help="copy every device's sealed row (and the master key's check value) to another "
        "registry, e.g. from Redis to PostgreSQL; needs no master key",
    )
    copy.add_argument("--to", required=True, metavar="URL", help="the destination registry")
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


def _broker_accounts(
    args: argparse.Namespace, settings: ResponderSettings, environ: Mapping[str, str]
) -> CameraAccounts | None:
    # Command-line flags win over OSSMEDIA_PROVISIONER_*, which win over [provisioning].
    configured = settings.provisioning
    url = args.provisioner_url or environ.get("OSSMEDIA_PROVISIONER_URL")
    url = url or configured.provisioner_url
    if not url:
        return None
    if args.provisioner_password_file is not None:
        password = args.provisioner_password_file.read_text(encoding="utf-8").strip()
    else:
        password = environ.get("OSSMEDIA_PROVISIONER_PASSWORD", "")
    if not password and configured.provisioner_password is not None:
        password = configured.provisioner_password.get_secret_value()
    if not password:
        raise ValueError(
            "--provisioner-url needs OSSMEDIA_PROVISIONER_PASSWORD, --provisioner-password-file "
            "or [provisioning] provisioner_password_file"
        )
    admin = BrokerAdminSettings(
        url=url,
        username=args.provisioner_user or configured.provisioner_user,
        password=SecretStr(password),
        ca_file=args.provisioner_ca_file or configured.provisioner_ca_file,
    )
    return DynsecAccounts(admin, topics=Topics(settings.broker.topic_prefix))


def _camera_config(
    args: argparse.Namespace,
    settings: ResponderSettings,
    record: DeviceRecord,
    secret: str,
    mqtt_password: str | None,
) -> str:
    broker_url = _camera_broker_url(args, settings)
    if broker_url is None:  # run() refuses this before touching the registry
        raise ConfigError("no broker URL for the camera config", source="--broker-url")
    return CameraConfig(
        device_id=record.device_id,
        secret=secret,
        broker_url=broker_url,
        topic_prefix=settings.broker.topic_prefix,
        ca_file=args.ca_file or settings.provisioning.ca_file,
        mqtt_password=mqtt_password,
    ).render()


def _camera_broker_url(args: argparse.Namespace, settings: ResponderSettings) -> str | None:
    url: str | None = args.broker_url or settings.provisioning.broker_url
    return url


def _write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    # The camera config and the master key are secrets: readable by their owner only.
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _issue(
    args: argparse.Namespace,
    settings: ResponderSettings,
    record: DeviceRecord,
    secret: str,
    out: TextIO,
    verb: str,
    accounts: CameraAccounts | None,
) -> None:
    mqtt_password = None
    if accounts is not None:
        try:
            mqtt_password = issue_password(accounts, DeviceId(record.device_id))
        except BrokerAccountError as exc:
            raise BrokerAccountError(
                f"{exc.message}; the registry has the device, run `ossmedia devices rotate "
                f"{record.device_id}` once the broker is reachable",
                device_id=record.device_id,
            ) from None
    config = _camera_config(args, settings, record, secret, mqtt_password)
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
    registry: Registry,
    args: argparse.Namespace,
    settings: ResponderSettings,
    out: TextIO,
    err: TextIO,
    accounts: CameraAccounts | None,
) -> int:
    if args.command == "add":
        record, secret = registry.add(args.device_id, access=parse_access(args.access))
        _issue(args, settings, record, secret, out, "added", accounts)
    elif args.command == "rotate":
        record, secret = registry.rotate(args.device_id)
        _issue(
            args, settings, record, secret, out, "rotated; the old secret no longer works", accounts
        )
    elif args.command == "reinstate":
        record, secret = registry.reinstate(args.device_id)
        _issue(args, settings, record, secret, out, "reinstated with a new secret", accounts)
    elif args.command in {"revoke", "delete"}:
        if args.command == "revoke":
            record = registry.revoke(args.device_id)
            said = "revoked"
        else:
            record = registry.delete(args.device_id)
            said = "deleted (its recordings in the bucket are untouched)"
        if accounts is not None and args.command == "revoke":
            accounts.disable(DeviceId(record.device_id))
        elif accounts is not None:
            accounts.delete(DeviceId(record.device_id))
        if args.json:
            out.write(json.dumps(record.to_json()) + "\n")
        else:
            out.write(f"Device {record.device_id} {said}.\n")
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
        return _new_master_key(args.out, out, err)
    try:
        settings = _settings(args, environ)
        if args.command == "migrate":
            before, after = migrate_store(settings.registry.url, args.to)
            out.write(f"Registry schema: {before or 'empty'} -> {after or 'empty'}.\n")
            return 0
        if args.command == "copy":
            copied, skipped = copy_store(settings.registry.url, args.to, settings.registry)
            out.write(f"{copied} device(s) copied, {skipped} already there (left as they are).\n")
            return 0
        if args.command == "backup":
            return _backup(settings, args.destination, out)
        if args.command in {"add"}:
            parse_access(args.access)
        if args.command in _ISSUING and _camera_broker_url(args, settings) is None:
            # The responder's own broker URL is usually the service listener, not the one
            # cameras reach; writing it into camera.toml would fail only on the camera.
            err.write(
                "ossmedia devices: set the broker URL cameras connect to with --broker-url "
                "or [provisioning] broker_url in the config\n"
            )
            return 2
        accounts = _broker_accounts(args, settings, environ)
        registry = open_registry(settings.registry)
        try:
            return _dispatch(registry, args, settings, out, err, accounts)
        finally:
            registry.close()
    except (CloudError, InvalidIdentifier, ValueError, OSError) as exc:
        err.write(f"ossmedia devices: {exc}\n")
        return 1


def _new_master_key(path: Path | None, out: TextIO, err: TextIO) -> int:
    key = new_master_key()
    if path is None:
        out.write(key + "\n")
        return 0
    try:
        _write_private(path, key + "\n", exclusive=True)
    except OSError as exc:
        err.write(f"ossmedia devices: cannot create {path}: {exc.strerror}\n")
        return 1
    out.write(
        f"Master key written to {path} (mode 0600). Keep a copy with every registry backup.\n"
    )
    return 0


def _backup(settings: ResponderSettings, destination: Path, out: TextIO) -> int:
    url = settings.registry.url
    if not url.startswith("sqlite://") or url.endswith(":memory:"):
        raise ConfigError(
            "backup copies a SQLite registry; back up a PostgreSQL registry with pg_dump "
            "and a Redis registry with Redis's own persistence (RDB snapshot or AOF)"
        )
    if destination.exists():
        raise ConfigError(f"{destination} already exists; choose a new file")
    source = url[len("sqlite://") :]
    if not Path(source).is_file():
        raise ConfigError(f"no registry at {source}")
    store = SqlDeviceStore.open(url)
    try:
        store.backup(destination)
    finally:
        store.close()
    out.write(
        f"Registry copied to {destination}. It opens only with the master key: keep the key "
        "with the copy (separately secured).\n"
    )
    return 0


def main(argv: list[str]) -> int:
    """Entry point of ``ossmedia devices``."""
    return run(argv, os.environ, sys.stdout, sys.stderr)
