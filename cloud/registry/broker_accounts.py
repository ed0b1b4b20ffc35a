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
account allowed to use it; the broker applies them at once and saves its JSON file itself.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from cloud.errors import BrokerAccountError
from schemas.ids import DeviceId
from schemas.topics import Channel, Topics

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
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

Command = dict[str, Any]


class BrokerAdminSettings(BaseModel):
    """How ``ossmedia devices`` reaches the broker's dynamic-security API.

    Args:
        url: ``mqtt://host:port`` or ``mqtts://host:port`` of a listener that runs the plugin.
        username: an account whose role may publish to, and receive from,
            ``$CONTROL/dynamic-security/#``.
        password: its password (kept out of reprs and logs).
        ca_file: CA bundle to verify the broker with ``mqtts://``.
        timeout_s: how long to wait for the broker's answer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    username: str
    password: SecretStr
    ca_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        host, _, port = rest.rstrip("/").rpartition(":")
        if scheme not in {"mqtt", "mqtts"} or not host or not port.isdigit():
            raise ValueError(
                "broker admin url must look like mqtt://host:port or mqtts://host:port"
            )
        return value

    @property
    def host(self) -> str:
        """The broker's host."""
        return self.url.partition("://")[2].rstrip("/").rpartition(":")[0]

    @property
    def port(self) -> int:
        """The broker's port."""
        return int(self.url.rstrip("/").rpartition(":")[2])


class CameraAccounts(Protocol):
    """Where ``ossmedia devices`` creates, re-keys and disables camera broker accounts."""

    def ensure(self, device_id: DeviceId, password: str) -> None:
        """Create the camera's account and role, or reset its password and role if it exists."""

    def disable(self, device_id: DeviceId) -> None:
        """Refuse the camera's next connections and close the open one."""


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
        ]
    return commands


def _existed(answer: dict[str, Any]) -> bool:
    error = answer.get("error")
    return isinstance(error, str) and any(marker in error.lower() for marker in _ALREADY)


def _tolerated(command: Command, answer: dict[str, Any]) -> bool:
    # A repeated create/add meets its own earlier result, and removing a role that was not
    # attached changes nothing; anything else is a real refusal.
    if command["command"] == "removeClientRole":
        return True
    return command["command"].startswith(("create", "add")) and _existed(answer)


class DynsecAccounts:
    """:class:`CameraAccounts` through Mosquitto's dynamic-security control topic.

    Args:
        settings: the broker admin account.
        topics: the topic prefix the cameras use.
        client_factory: builds the (unconnected) paho client; a seam for tests.

    Raises:
        BrokerAccountError: the protocol gained a channel that :func:`camera_role` does not
            cover yet (checked at construction, so no camera is provisioned half-way).
    """

    def __init__(
        self,
        settings: BrokerAdminSettings,
        *,
        topics: Topics,
        client_factory: Callable[[], mqtt.Client] | None = None,
    ) -> None:
        if {c.value for c in Channel} != {"creds/req", "creds/res", "events", "status"}:
            raise BrokerAccountError("camera_role does not cover every protocol channel")
        self._settings = settings
        self._topics = topics
        self._client_factory = client_factory or self._default_client

    def ensure(self, device_id: DeviceId, password: str) -> None:
        """See :meth:`CameraAccounts.ensure`.

        Raises:
            BrokerAccountError: the broker refused a command or did not answer in time.
        """
        answers = self._run(device_id, ensure_commands(self._topics, device_id, password))
        role_existed, client_existed = _existed(answers[1]), _existed(answers[2])
        if role_existed or client_existed:
            self._run(
                device_id,
                repair_commands(
                    self._topics,
                    device_id,
                    password,
                    role_existed=role_existed,
                    client_existed=client_existed,
                ),
            )

    def disable(self, device_id: DeviceId) -> None:
        """See :meth:`CameraAccounts.disable`.

        Raises:
            BrokerAccountError: the broker refused or did not answer.
        """
        self._run(device_id, [{"command": "disableClient", "username": device_id}])

    def _default_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"ossmedia-devices-{uuid.uuid4().hex[:12]}",
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        if self._settings.url.startswith("mqtts://"):
            ca = self._settings.ca_file
            client.tls_set(ca_certs=str(ca) if ca else None, cert_reqs=ssl.CERT_REQUIRED)
        return client

    def _run(self, device_id: str, commands: list[Command]) -> list[dict[str, Any]]:
        answers = self._exchange(device_id, commands)
        for command, answer in zip(commands, answers, strict=True):
            error = answer.get("error")
            if isinstance(error, str) and error and not _tolerated(command, answer):
                raise BrokerAccountError(
                    f"broker refused {command['command']} for {device_id!r}: {error}",
                    device_id=device_id,
                )
        return answers

    def _exchange(self, device_id: str, commands: list[Command]) -> list[dict[str, Any]]:
        settings = self._settings
        client = self._client_factory()
        client.username_pw_set(settings.username, settings.password.get_secret_value())
        done = threading.Event()
        state: dict[str, Any] = {}

        def on_connect(_c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if rc.is_failure:
                state["error"] = f"connection refused: {rc}"
                done.set()
                return
            client.subscribe(RESPONSE_TOPIC, qos=1)

        def on_subscribe(_c: mqtt.Client, _u: Any, _m: int, rcs: list[Any], _p: Any) -> None:
            if any(rc.is_failure for rc in rcs):
                state["error"] = "the admin account may not read the control responses"
                done.set()
                return
            client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            try:
                state["responses"] = json.loads(msg.payload)["responses"]
            except (ValueError, KeyError, TypeError):
                state["error"] = "unreadable answer from the broker"
            done.set()

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if not done.is_set():  # our own DISCONNECT after the answer is not a failure
                state.setdefault("error", f"disconnected: {rc}")
                done.set()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.on_disconnect = on_disconnect
        try:
            client.connect(settings.host, settings.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise BrokerAccountError(
                f"cannot reach the broker at {settings.url}: {exc}", device_id=device_id
            ) from None
        client.loop_start()
        try:
            answered = done.wait(settings.timeout_s)
            outcome = dict(state)
        finally:
            client.disconnect()
            client.loop_stop()
        return self._responses(device_id, commands, outcome, answered)

    def _responses(
        self, device_id: str, commands: list[Command], state: dict[str, Any], answered: bool
    ) -> list[dict[str, Any]]:
        if not answered:
            raise BrokerAccountError(
                f"no answer from the broker's dynamic-security API within "
                f"{self._settings.timeout_s:g} s (is the plugin loaded on {self._settings.url}?)",
                device_id=device_id,
            )
        responses = state.get("responses")
        if "error" in state or not isinstance(responses, list):
            raise BrokerAccountError(
                f"broker account change failed: {state.get('error', 'no responses')}",
                device_id=device_id,
            )
        if len(responses) != len(commands) or not all(isinstance(r, dict) for r in responses):
            raise BrokerAccountError("the broker answered a different number of commands")
        return responses


__all__ = [
    "CONTROL_TOPIC",
    "DEFAULT_ACCESS",
    "BrokerAdminSettings",
    "CameraAccounts",
    "DynsecAccounts",
    "camera_role",
    "ensure_commands",
    "repair_commands",
]
