"""Talking to Mosquitto's dynamic-security plugin over its control topic.

A :class:`DynsecSession` is one admin connection: it subscribes to the response topic, then
sends batches of commands and waits for each batch's answer. The plugin processes one batch
in one go on the broker's single thread, so a batch is atomic with respect to every other
admin (``disableClient`` and the ``modifyClient`` that marks why cannot be split by another
admin's commands).

Mosquitto 2.0 publishes every answer to ``$CONTROL/dynamic-security/v1/response`` for every
subscribed admin, not only to the one that asked, so several admins at once (``ossmedia
devices``, the console, responders quarantining a camera) would read each other's answers.
Each batch therefore carries a random ``correlationData`` that the plugin copies into each
of its answers, and a session takes only the answer that carries its own.

On a listener with ``use_username_as_clientid`` (the camera listener of ``deploy/``), two
connections of one admin account share a client id and the second takes the first one's
session over: the first sees a disconnect, reported as :class:`~cloud.errors.BrokerAccountError`
like any other failure. Keep sessions short (the callers open one per operation) and give
services that run unattended an account of their own.
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from cloud.errors import AdminFailure, BrokerAccountError

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"

Command = dict[str, Any]
Answer = dict[str, Any]
ClientFactory = Callable[["BrokerAdminSettings"], mqtt.Client]


class BrokerAdminSettings(BaseModel):
    """How to reach the broker's dynamic-security API.

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


def default_client(settings: BrokerAdminSettings) -> mqtt.Client:
    """An unconnected MQTT 5 paho client for the admin connection (TLS for ``mqtts://``)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"ossmedia-admin-{uuid.uuid4().hex[:12]}",
        protocol=MQTTProtocolVersion.MQTTv5,
        reconnect_on_failure=False,
    )
    if settings.url.startswith("mqtts://"):
        ca = settings.ca_file
        client.tls_set(ca_certs=str(ca) if ca else None, cert_reqs=ssl.CERT_REQUIRED)
    return client


class DynsecSession:
    """One connected admin session (see the module docstring). Open it with :func:`session`.

    Args:
        settings: the admin account.
        client: an unconnected paho client.
        label: what the session is about (a device id), for error messages.
    """

    def __init__(self, settings: BrokerAdminSettings, client: mqtt.Client, label: str) -> None:
        self._settings = settings
        self._client = client
        self._label = label
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ready = False
        self._error: str | None = None
        self._failure = AdminFailure.DISCONNECTED
        self._answers: dict[str, list[Answer]] = {}
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect

    # -- paho callbacks (the session's network thread) -----------------------------------

    def _fail(self, error: str, failure: AdminFailure) -> None:
        with self._changed:
            if self._error is None:
                self._error = error
                self._failure = failure
            self._changed.notify_all()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self._fail(f"connection refused: {rc}", AdminFailure.LOGIN_REFUSED)
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _m: int, rcs: list[Any], _p: Any) -> None:
        if any(rc.is_failure for rc in rcs):
            self._fail(
                "the admin account may not read the control responses",
                AdminFailure.NOT_AUTHORIZED,
            )
            return
        with self._changed:
            self._ready = True
            self._changed.notify_all()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
            token = responses[0]["correlationData"]
        except (ValueError, KeyError, TypeError, IndexError):
            return  # another admin's (or an uncorrelated) answer: not ours
        if not isinstance(token, str) or not isinstance(responses, list):
            return
        with self._changed:
            self._answers[token] = responses
            self._changed.notify_all()

    def _on_publish(self, _c: mqtt.Client, _u: Any, _m: int, rc: Any, _p: Any) -> None:
        # MQTT 5 only: Mosquitto drops a forbidden PUBLISH with PUBACK reason 0x87; without
        # this the command would only time out, looking like a listener without the plugin.
        if rc.is_failure:
            self._fail(
                f"the admin account may not send to the control topic: {rc}",
                AdminFailure.NOT_AUTHORIZED,
            )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._fail(f"disconnected: {rc}", AdminFailure.DISCONNECTED)

    # -- caller's thread -----------------------------------------------------------------

    def _wait(self, done: Callable[[], bool]) -> None:
        with self._changed:
            answered = self._changed.wait_for(
                lambda: done() or self._error is not None, self._settings.timeout_s
            )
            if done():
                return
            error, failure = self._error, self._failure
        if not answered:
            raise BrokerAccountError(
                f"no answer from the broker's dynamic-security API within "
                f"{self._settings.timeout_s:g} s (is the plugin loaded on {self._settings.url}?)",
                device_id=self._label,
                failure=AdminFailure.NO_ANSWER,
            )
        raise BrokerAccountError(
            f"broker account change failed: {error}", device_id=self._label, failure=failure
        )

    def open(self) -> None:
        """Connect and subscribe to the answers.

        Raises:
            BrokerAccountError: the broker cannot be reached, refused the account, or did not
                answer in time (its ``failure`` says which).
        """
        settings = self._settings
        self._client.username_pw_set(settings.username, settings.password.get_secret_value())
        try:
            self._client.connect(settings.host, settings.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise BrokerAccountError(
                f"cannot reach the broker at {settings.url}: {exc}",
                device_id=self._label,
                failure=AdminFailure.UNREACHABLE,
            ) from None
        self._client.loop_start()
        self._wait(lambda: self._ready)

    def run(self, commands: list[Command]) -> list[Answer]:
        """Send one batch and return the plugin's answer to each command, in order.

        Raises:
            BrokerAccountError: no answer in time, the account may not send commands, the
                connection dropped, or the answer does not match the batch.
        """
        token = uuid.uuid4().hex
        batch = [{**command, "correlationData": token} for command in commands]
        self._client.publish(CONTROL_TOPIC, json.dumps({"commands": batch}), qos=1)
        self._wait(lambda: token in self._answers)
        with self._lock:
            answers = self._answers.pop(token)
        if len(answers) != len(commands) or not all(isinstance(a, dict) for a in answers):
            raise BrokerAccountError(
                "the broker answered a different number of commands", device_id=self._label
            )
        return answers

    def close(self) -> None:
        """Disconnect (our own DISCONNECT is not a failure of anything already answered)."""
        self._client.disconnect()
        self._client.loop_stop()


@contextmanager
def session(
    settings: BrokerAdminSettings, label: str, client_factory: ClientFactory = default_client
) -> Iterator[DynsecSession]:
    """An open :class:`DynsecSession`, closed on exit.

    Args:
        settings: the admin account.
        label: what the session is about (a device id), for error messages.
        client_factory: builds the unconnected paho client; a seam for tests.

    Raises:
        BrokerAccountError: ``ca_file`` cannot be read, or see :meth:`DynsecSession.open`.
    """
    try:
        client = client_factory(settings)
    except OSError as exc:  # ssl.SSLError too: the CA file is missing or not a CA bundle
        raise BrokerAccountError(
            f"cannot use ca_file {settings.ca_file}: {exc.strerror or exc}",
            device_id=label,
            failure=AdminFailure.UNREACHABLE,
        ) from None
    opened = DynsecSession(settings, client, label)
    try:
        opened.open()
        yield opened
    finally:
        opened.close()


__all__ = [
    "CONTROL_TOPIC",
    "RESPONSE_TOPIC",
    "BrokerAdminSettings",
    "DynsecSession",
    "default_client",
    "session",
]
