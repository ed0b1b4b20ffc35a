"""The console's MQTT subscriber: every camera's ``events`` and ``status`` into the ingest.

One paho client with its own network thread (the console is a single client, far below
paho's ``select()`` limit). It keeps a persistent session under a fixed client id, so
QoS 1 events published while the console is down are delivered when it comes back; the
ledger makes those redeliveries harmless.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cloud.console.errors import ConsoleError, RejectedMessageError
from cloud.console.ingest import Ingestor
from cloud.console.settings import MqttSettings
from schemas.topics import Topics

__all__ = ["MqttIngest"]

log = logging.getLogger(__name__)


class MqttIngest:
    """Subscribes to camera topics and hands every message to an :class:`Ingestor`.

    Args:
        settings: broker address and account.
        ingestor: where messages go.
    """

    def __init__(self, settings: MqttSettings, ingestor: Ingestor) -> None:
        self._settings = settings
        self._ingestor = ingestor
        self._topics = Topics(settings.topic_prefix)
        self._group = settings.shared_group
        self._subscribed = threading.Event()
        v5 = settings.protocol == "5"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            clean_session=None if v5 else False,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        )
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, password)
        if settings.tls:
            self._client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
            if settings.tls_insecure:
                self._client.tls_insecure_set(True)
        self._client.connect_timeout = settings.connect_timeout_s
        self._client.reconnect_delay_set(
            min_delay=max(1, round(settings.reconnect_initial_s)),
            max_delay=max(1, round(settings.reconnect_max_s)),
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting until :meth:`stop`."""
        s = self._settings
        # MQTT 5: clean_start=False resumes a session the broker still holds (3.1.1 does the
        # same through clean_session=False above).
        clean_start: Any = False if s.protocol == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY
        self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s, clean_start=clean_start)
        self._client.loop_start()

    def stop(self) -> None:
        """Close the session and stop the network thread.

        Messages are stored on paho's network thread, so joining it lets the message in hand
        finish its ledger transaction. One whose acknowledgement the DISCONNECT overtakes is
        delivered again on the next connection (the session is persistent), and the ledger
        stores it once.
        """
        self._client.disconnect()
        self._client.loop_stop()

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Block until both subscriptions are acknowledged by the broker.

        Returns:
            True when subscribed, False on timeout.
        """
        return self._subscribed.wait(timeout_s)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("console MQTT connection refused: %s", reason)
            return
        self._subscribed.clear()
        client.subscribe(
            [
                (self._topics.events_subscription(self._group), 1),
                (self._topics.status_subscription(self._group), 1),
            ]
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("console MQTT subscription refused: %s", [str(r) for r in reasons])
            return
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._subscribed.clear()
        if reason.is_failure:
            log.warning("console MQTT connection lost: %s (reconnecting)", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._ingestor.handle(message.topic, bytes(message.payload))
        except RejectedMessageError as exc:
            # The payload is never logged: it may be hostile or carry a signature.
            log.warning("console ignored a message: %s", exc)
        except ConsoleError as exc:
            log.error("console could not store a message: %s", exc)
        except Exception:
            # paho's network thread must survive anything one message does (including a
            # topic that is not UTF-8, which paho only notices when the topic is read).
            log.exception("console failed on a message")
