"""Camera accounts on the broker, kept in step with the registry by ``ossmedia devices``.

A camera's broker account must confine it to its own four topics, and that includes what it
may *subscribe* to: Mosquitto's ``acl_file`` never refuses a SUBSCRIBE, so a camera holding a
valid account could join the responders' shared group (``$share/<group>/P/v1/+/creds/req``);
the broker would then hand it every Nth request of other cameras and drop it at the read
check, and those requests would never be answered. Mosquitto's dynamic-security plugin
checks a SUBSCRIBE against the client's ``subscribe*`` ACLs with the whole filter, the
``$share/<group>/`` part included, and refuses it (SUBACK 0x80 in MQTT 3.1.1, 0x87 in MQTT 5).

Mosquitto 2.0's plugin has no ``%u`` substitution, so every camera gets a role of its own,
``camera.<device_id>`` (a device id never contains a ``.``, so no camera's role can collide
with a service role), holding exactly:

=========================  ==================================================
ACL type                   topic
=========================  ==================================================
``publishClientSend``      ``P/v1/<id>/creds/req``, ``P/v1/<id>/events``,
                           ``P/v1/<id>/status`` (also checked for its will)
``publishClientReceive``   ``P/v1/<id>/creds/res``
``subscribeLiteral``       ``P/v1/<id>/creds/res``
=========================  ==================================================

and the defaults deny everything else (sending, receiving and subscribing). The client is
also bound to the client id ``<id>``, so even on a listener without
``use_username_as_clientid`` it cannot take over another client's session.

Changes go through the plugin's control topic ``$CONTROL/dynamic-security/v1`` with an
account allowed to use it (:mod:`cloud.registry.dynsec_control`); the broker applies them at
once and saves its JSON file itself.

A responder may also *quarantine* a camera that floods it: disable its account for a while,
with a mark in the account saying until when (:func:`quarantine_mark`), and enable it again
afterwards (:mod:`cloud.responder.quarantine`). Every operator action on the account
(``disable``, ``ensure``, ``delete``) removes the mark in the same batch.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from cloud.errors import BrokerAccountError
from cloud.registry.dynsec_control import (
    CONTROL_TOPIC,
    Answer,
    BrokerAdminSettings,
    ClientFactory,
    Command,
    DynsecSession,
    default_client,
    session,
)
from schemas.ids import DeviceId
from schemas.topics import Channel, Topics

ROLE_PREFIX = "camera."
# Everything a role does not allow is denied; UNSUBSCRIBE stays allowed (it only ever
# removes what a client was allowed to add).
DEFAULT_ACCESS: tuple[tuple[str, bool], ...] = (
    ("publishClientSend", False),
    ("publishClientReceive", False),
    ("subscribe", False),
    ("unsubscribe", True),
)
_ALREADY = ("already exists", "already in", "already has")
_NOT_FOUND = "not found"


class CameraAccounts(Protocol):
    """Where ``ossmedia devices`` creates, re-keys and disables camera broker accounts."""

    def ensure(self, device_id: DeviceId, password: str) -> None:
        """Create the camera's account and role, or reset its password and role if it exists."""

    def disable(self, device_id: DeviceId) -> None:
        """Refuse the camera's next connections, close the open one, and drop any quarantine
        mark (so no responder lifting a quarantine can enable it again)."""

    def delete(self, device_id: DeviceId) -> None:
        """Remove the camera's account and role (nothing to do when they are gone already)."""


MQTT_PASSWORD_BYTES = 24


def issue_password(accounts: CameraAccounts, device_id: DeviceId) -> str:
    """Give a camera's broker account a fresh random password (creating the account when
    it has none) and return it, for its ``camera.toml``. ``ossmedia devices`` and the
    console both provision through this.

    Raises:
        BrokerAccountError: the broker refused or did not answer.
    """
    password = secrets.token_urlsafe(MQTT_PASSWORD_BYTES)
    accounts.ensure(device_id, password)
    return password


def camera_role(topics: Topics, device_id: DeviceId) -> Command:
    """The ``createRole`` command of one camera's role (see the module docstring)."""
    acls = [
        {"acltype": "publishClientSend", "topic": topics.creds_req(device_id), "allow": True},
        {"acltype": "publishClientSend", "topic": topics.events(device_id), "allow": True},
        {"acltype": "publishClientSend", "topic": topics.status(device_id), "allow": True},
        {"acltype": "publishClientReceive", "topic": topics.creds_res(device_id), "allow": True},
        {"acltype": "subscribeLiteral", "topic": topics.creds_res(device_id), "allow": True},
    ]
    return {"command": "createRole", "rolename": ROLE_PREFIX + device_id, "acls": acls}


def ensure_commands(topics: Topics, device_id: DeviceId, password: str) -> list[Command]:
    """The commands that provision a new camera: the deny-by-default rule, its role, its client.

    On a broker that already knows the camera, ``createRole`` / ``createClient`` answer
    "already exists" and :func:`repair_commands` brings the existing objects in line.
    """
    role = camera_role(topics, device_id)
    return [
        {
            "command": "setDefaultACLAccess",
            "acls": [{"acltype": kind, "allow": allow} for kind, allow in DEFAULT_ACCESS],
        },
        role,
        {
            "command": "createClient",
            "username": device_id,
            "password": password,
            "clientid": device_id,
            "roles": [{"rolename": role["rolename"]}],
        },
    ]


def repair_commands(
    topics: Topics, device_id: DeviceId, password: str, *, role_existed: bool, client_existed: bool
) -> list[Command]:
    """The commands that reset an existing camera's role ACLs, password, client id and role."""
    role = camera_role(topics, device_id)
    rolename = role["rolename"]
    commands: list[Command] = []
    if role_existed:
        commands += [{"command": "addRoleACL", "rolename": rolename, **acl} for acl in role["acls"]]
    if client_existed:
        commands += [
            {"command": "setClientPassword", "username": device_id, "password": password},
            {"command": "setClientId", "username": device_id, "clientid": device_id},
            # Mosquitto 2.0 answers a repeated addClientRole with "Internal error", so the
            # role is removed first (an error there only means it was not attached).
            {"command": "removeClientRole", "username": device_id, "rolename": rolename},
            {"command": "addClientRole", "username": device_id, "rolename": rolename},
            {"command": "enableClient", "username": device_id},
            # A reinstated or re-keyed camera is no longer quarantined (see clear_mark).
            clear_mark(device_id),
        ]
    return commands


# -- quarantine marks --------------------------------------------------------------------
#
# A responder that quarantines a flooding camera disables its account and records, in the
# account's own ``textdescription``, until when. The record lives with the disabled account:
# it survives a restart of any responder, every responder of a group sees the same one
# whatever its state backend, and ``ossmedia devices`` clears it in the same batch that
# disables, re-enables or deletes the account, so a stale mark can never outlive an
# operator's decision. ossmedia creates camera accounts without a description, so the field
# is free for this.

_MARK = "ossmedia: quarantined until {until}"
_MARK_RE = re.compile(r"ossmedia: quarantined until (\d{1,12})", re.ASCII)


def quarantine_mark(until_s: int) -> str:
    """The ``textdescription`` of an account quarantined until ``until_s`` (epoch seconds)."""
    return _MARK.format(until=until_s)


def quarantined_until(description: object) -> int | None:
    """The end of the quarantine a ``textdescription`` records, or ``None`` without a mark."""
    if not isinstance(description, str):
        return None
    found = _MARK_RE.fullmatch(description)
    return int(found.group(1)) if found else None


def clear_mark(device_id: str) -> Command:
    """The command that removes any quarantine mark from a camera's account."""
    return {"command": "modifyClient", "username": device_id, "textdescription": ""}


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the broker says about one camera account.

    Attributes:
        disabled: the account refuses connections.
        quarantined_until: the end of its quarantine (epoch seconds), or ``None`` without a mark.
    """

    disabled: bool
    quarantined_until: int | None


def _existed(answer: Answer) -> bool:
    error = answer.get("error")
    return isinstance(error, str) and any(marker in error.lower() for marker in _ALREADY)


def _tolerated(command: Command, answer: Answer) -> bool:
    # A repeated create/add meets its own earlier result, removing a role that was not
    # attached changes nothing, and deleting what is gone already is done; anything else is
    # a real refusal.
    if command["command"] == "removeClientRole":
        return True
    if command["command"].startswith("delete"):
        error = answer.get("error")
        return isinstance(error, str) and _NOT_FOUND in error.lower()
    return command["command"].startswith(("create", "add")) and _existed(answer)


class DynsecAccounts:
    """:class:`CameraAccounts` through Mosquitto's dynamic-security control topic, plus the
    quarantine operations a responder uses (:mod:`cloud.responder.quarantine`).

    Each operation opens one short admin session (:mod:`cloud.registry.dynsec_control`).

    Args:
        settings: the broker admin account.
        topics: the topic prefix the cameras use.
        client_factory: builds the (unconnected) paho client; a seam for tests.

    Raises:
        BrokerAccountError: the protocol gained a channel that :func:`camera_role` does not
            cover yet (checked at construction, so no camera is provisioned half-way).
    """

    LIST_PAGE = 500  # accounts per listClients answer (one MQTT message each)

    def __init__(
        self,
        settings: BrokerAdminSettings,
        *,
        topics: Topics,
        client_factory: ClientFactory = default_client,
    ) -> None:
        if {c.value for c in Channel} != {"creds/req", "creds/res", "events", "status"}:
            raise BrokerAccountError("camera_role does not cover every protocol channel")
        self._settings = settings
        self._topics = topics
        self._client_factory = client_factory

    @contextmanager
    def _session(self, label: str) -> Iterator[DynsecSession]:
        with session(self._settings, label, self._client_factory) as opened:
            yield opened

    def _batch(self, device_id: DeviceId, commands: list[Command]) -> None:
        # One session, one batch: the plugin applies it without another admin's commands
        # in between.
        with self._session(device_id) as admin:
            _run(admin, device_id, commands)

    def ensure(self, device_id: DeviceId, password: str) -> None:
        """See :meth:`CameraAccounts.ensure`. An existing account is also re-enabled and
        loses any quarantine mark.

        Raises:
            BrokerAccountError: the broker refused a command or did not answer in time.
        """
        with self._session(device_id) as admin:
            answers = _run(admin, device_id, ensure_commands(self._topics, device_id, password))
            role_existed, client_existed = _existed(answers[1]), _existed(answers[2])
            if role_existed or client_existed:
                repair = repair_commands(
                    self._topics,
                    device_id,
                    password,
                    role_existed=role_existed,
                    client_existed=client_existed,
                )
                _run(admin, device_id, repair)

    def disable(self, device_id: DeviceId) -> None:
        """See :meth:`CameraAccounts.disable` (one batch: the mark cannot survive it).

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        commands = [{"command": "disableClient", "username": device_id}, clear_mark(device_id)]
        self._batch(device_id, commands)

    def delete(self, device_id: DeviceId) -> None:
        """See :meth:`CameraAccounts.delete`. Deleting the account closes its connection.

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        commands = [
            {"command": "deleteClient", "username": device_id},
            {"command": "deleteRole", "rolename": ROLE_PREFIX + device_id},
        ]
        self._batch(device_id, commands)

    # -- quarantine --------------------------------------------------------------------

    def state(self, device_id: DeviceId) -> AccountState | None:
        """The account's state, or ``None`` when the broker has no such account.

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        with self._session(device_id) as admin:
            return _state(admin, device_id)

    def quarantine(self, device_id: DeviceId, until_s: int) -> bool:
        """Disable the account and mark it quarantined until ``until_s`` (epoch seconds).

        An account that is disabled without a mark (by an operator, or revoked) is left as it
        is: lifting the quarantine later would enable it. Quarantining an account that is
        already quarantined only moves the mark, never earlier (several responders may do it
        at once).

        Returns:
            Whether the account is now quarantined (``False``: no such account, or disabled
            for another reason).

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        with self._session(device_id) as admin:
            state = _state(admin, device_id)
            if state is None or (state.disabled and state.quarantined_until is None):
                return False
            until_s = max(until_s, state.quarantined_until or 0)
            mark = {
                "command": "modifyClient",
                "username": device_id,
                "textdescription": quarantine_mark(until_s),
            }
            _run(admin, device_id, [mark, {"command": "disableClient", "username": device_id}])
        return True

    def lift(self, device_id: DeviceId) -> None:
        """Enable the account and remove its quarantine mark (one batch).

        The caller checks first that the quarantine is due and the device still allowed.

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        commands = [clear_mark(device_id), {"command": "enableClient", "username": device_id}]
        self._batch(device_id, commands)

    def clear(self, device_id: DeviceId) -> None:
        """Remove the quarantine mark and leave the account disabled (the batch of
        :meth:`disable`).

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        self.disable(device_id)

    def quarantined(self) -> dict[str, int]:
        """Every account with a quarantine mark, and the end of its quarantine.

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        found: dict[str, int] = {}
        with self._session("listClients") as admin:
            offset = 0
            while True:
                command = {
                    "command": "listClients",
                    "verbose": True,
                    "count": self.LIST_PAGE,
                    "offset": offset,
                }
                (answer,) = _run(admin, "listClients", [command])
                data = answer.get("data")
                clients = data.get("clients") if isinstance(data, dict) else None
                if not isinstance(clients, list):
                    raise BrokerAccountError("unreadable listClients answer from the broker")
                for client in clients:
                    if isinstance(client, dict) and isinstance(client.get("username"), str):
                        until = quarantined_until(client.get("textdescription"))
                        if until is not None:
                            found[client["username"]] = until
                offset += len(clients)
                if len(clients) < self.LIST_PAGE:
                    return found


def _state(admin: DynsecSession, device_id: str) -> AccountState | None:
    (answer,) = admin.run([{"command": "getClient", "username": device_id}])
    error = answer.get("error")
    if isinstance(error, str) and _NOT_FOUND in error.lower():
        return None
    data = answer.get("data")
    client = data.get("client") if isinstance(data, dict) else None
    if error or not isinstance(client, dict):
        raise BrokerAccountError(
            f"broker refused getClient for {device_id!r}: {error or 'unreadable answer'}",
            device_id=device_id,
        )
    return AccountState(
        disabled=client.get("disabled") is True,
        quarantined_until=quarantined_until(client.get("textdescription")),
    )


def _run(admin: DynsecSession, device_id: str, commands: list[Command]) -> list[Answer]:
    answers = admin.run(commands)
    for command, answer in zip(commands, answers, strict=True):
        error = answer.get("error")
        if isinstance(error, str) and error and not _tolerated(command, answer):
            raise BrokerAccountError(
                f"broker refused {command['command']} for {device_id!r}: {error}",
                device_id=device_id,
            )
    return answers


__all__ = [
    "CONTROL_TOPIC",
    "DEFAULT_ACCESS",
    "AccountState",
    "BrokerAdminSettings",
    "CameraAccounts",
    "DynsecAccounts",
    "camera_role",
    "clear_mark",
    "ensure_commands",
    "quarantine_mark",
    "quarantined_until",
    "repair_commands",
]
