"""The first dynamic-security file of a camera listener: deny by default, admin accounts only.

Mosquitto's dynamic-security plugin keeps clients, roles and defaults in a JSON file it owns
and rewrites on every change. Before the broker first starts, the file must already hold an
account allowed to use the control topic; after that, ``ossmedia devices add`` creates each
camera through that topic (:mod:`cloud.registry.broker_accounts`).

The file written here differs from ``mosquitto_ctrl dynsec init`` in two ways: the admin's
role covers only ``$CONTROL/dynamic-security/#`` (not ``#``), and delivery to clients is
denied by default too, so an account without a role receives nothing. The password is hashed
the way the plugin does (PBKDF2-HMAC-SHA512, 12-byte salt, both base64) and never passed on a
command line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.broker.acl import check_username
from simulator.broker.errors import BrokerConfigError

ADMIN_ROLE = "dynsec-admin"
CONTROL_FILTER = "$CONTROL/dynamic-security/#"
# Mosquitto 2.0's own iteration count for the plugin's hashes. Camera and admin passwords are
# long random strings, so stretching adds broker CPU at every CONNECT and no safety.
PBKDF2_ITERATIONS = 101
_SALT_BYTES = 12


def hash_password(password: str, *, salt: bytes | None = None) -> dict[str, Any]:
    """Return the ``password``, ``salt`` and ``iterations`` fields of a plugin client.

    Args:
        password: the plain password.
        salt: the salt; random when omitted.
    """
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, 64)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
    }


def bootstrap_document(admins: Mapping[str, str]) -> dict[str, Any]:
    """The plugin's JSON document with only admin accounts and deny-by-default rules.

    Args:
        admins: account name -> password; each gets the admin role. ``ossmedia devices``
            uses one (``svc.provisioner``), a responder quarantining flooding cameras another
            (``svc.quarantine``), so neither takes over the other's session on a listener
            with ``use_username_as_clientid`` and each can be rotated on its own.

    Raises:
        BrokerConfigError: no account, a name that is not a usable username, or an empty
            password.
    """
    if not admins:
        raise BrokerConfigError("at least one admin account is needed")
    clients = []
    for user, password in admins.items():
        try:
            check_username(user)
        except ValueError as exc:
            raise BrokerConfigError(f"invalid admin account name {user!r}: {exc}") from None
        if not password:
            raise BrokerConfigError(f"the password of {user} must not be empty")
        clients.append(
            {
                "username": user,
                "textName": "ossmedia administration",
                **hash_password(password),
                "roles": [{"rolename": ADMIN_ROLE}],
            }
        )
    acls = [
        {"acltype": kind, "topic": CONTROL_FILTER, "priority": 0, "allow": True}
        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
    ]
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": [{"rolename": ADMIN_ROLE, "acls": acls}],
    }


def write_bootstrap(path: Path, admins: Mapping[str, str]) -> None:
    """Write :func:`bootstrap_document` to ``path`` with mode 0600, refusing to overwrite.

    Raises:
        BrokerConfigError: the file exists (it would erase every camera) or cannot be written.
    """
    text = json.dumps(bootstrap_document(admins), indent=1) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BrokerConfigError(
            "refusing to overwrite an existing dynamic-security file", path=str(path)
        ) from None
    except OSError as exc:
        raise BrokerConfigError(f"cannot create it: {exc}", path=str(path)) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
