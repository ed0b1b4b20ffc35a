"""MQTT topic names for protocol v1: builders, subscriptions and a strict parser.

Layout, with ``P`` the configurable prefix (default ``ossmedia``)::

    P/v1/{device_id}/creds/req    camera -> cloud
    P/v1/{device_id}/creds/res    cloud -> camera
    P/v1/{device_id}/events       camera -> cloud
    P/v1/{device_id}/status       camera -> cloud, retained, also the last will
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from schemas.errors import InvalidIdentifier, InvalidMessage
from schemas.ids import DeviceId

PROTOCOL_LEVEL = "v1"
_PREFIX_LEVEL_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}", re.ASCII)
_PREFIX_MAX = 128
_GROUP_RE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


class Channel(StrEnum):
    """The per-device channels; the value is the topic suffix after the device id."""

    CREDS_REQ = "creds/req"
    CREDS_RES = "creds/res"
    EVENTS = "events"
    STATUS = "status"


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix.

    Attributes:
        prefix: first topic level(s). Each ``/``-separated level is 1-64 ASCII characters from
            ``A-Z a-z 0-9 _ - .`` not starting with ``.``; at most 128 characters in all. So it
            never holds an MQTT wildcard, a leading ``$`` (reserved for broker topics), an
            empty level, or a ``..`` step.

    Raises:
        InvalidIdentifier: on construction, when ``prefix`` breaks these rules.
    """

    prefix: str = "ossmedia"

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not 0 < len(self.prefix) <= _PREFIX_MAX:
            raise InvalidIdentifier(f"topic prefix must be 1-{_PREFIX_MAX} characters")
        for level in self.prefix.split("/"):
            if _PREFIX_LEVEL_RE.fullmatch(level) is None:
                raise InvalidIdentifier(
                    "topic prefix levels must be 1-64 of A-Z a-z 0-9 _ - . and not start with '.'"
                )

    def _device_topic(self, device_id: str, channel: Channel) -> str:
        return f"{self.prefix}/{PROTOCOL_LEVEL}/{DeviceId(device_id)}/{channel.value}"

    def creds_req(self, device_id: str) -> str:
        """Topic a camera publishes credential requests on.

        Raises:
            InvalidIdentifier: ``device_id`` is not a valid device id.
        """
        return self._device_topic(device_id, Channel.CREDS_REQ)

    def creds_res(self, device_id: str) -> str:
        """Topic the cloud answers a camera's credential requests on.

        Raises:
            InvalidIdentifier: ``device_id`` is not a valid device id.
        """
        return self._device_topic(device_id, Channel.CREDS_RES)

    def events(self, device_id: str) -> str:
        """Topic a camera publishes events (``segment.closed``) on.

        Raises:
            InvalidIdentifier: ``device_id`` is not a valid device id.
        """
        return self._device_topic(device_id, Channel.EVENTS)

    def status(self, device_id: str) -> str:
        """Topic a camera publishes its retained status and last will on.

        Raises:
            InvalidIdentifier: ``device_id`` is not a valid device id.
        """
        return self._device_topic(device_id, Channel.STATUS)

    def creds_req_subscription(self, shared_group: str | None = None) -> str:
        """Subscription filter for every camera's credential requests.

        Args:
            shared_group: when given, a shared subscription in that group so that several
                responders split the requests; 1-64 of ``A-Z a-z 0-9 _ -``.

        Returns:
            ``$share/{group}/P/v1/+/creds/req`` or ``P/v1/+/creds/req``.

        Raises:
            InvalidIdentifier: ``shared_group`` is not an allowed group name.
        """
        return _shared(self._filter(Channel.CREDS_REQ), shared_group)

    def events_subscription(self, shared_group: str | None = None) -> str:
        """Subscription filter for every camera's events: ``P/v1/+/events``, or
        ``$share/{group}/P/v1/+/events`` so that several console replicas split them."""
        return _shared(self._filter(Channel.EVENTS), shared_group)

    def status_subscription(self, shared_group: str | None = None) -> str:
        """Subscription filter for every camera's status: ``P/v1/+/status`` (or shared)."""
        return _shared(self._filter(Channel.STATUS), shared_group)

    def _filter(self, channel: Channel) -> str:
        return f"{self.prefix}/{PROTOCOL_LEVEL}/+/{channel.value}"

    def parse(self, topic: str) -> tuple[DeviceId, Channel]:
        """Split a concrete topic into its device id and channel.

        Args:
            topic: a topic a message arrived on (not a filter).

        Returns:
            The device id and the channel.

        Raises:
            InvalidIdentifier: the device id level is not a valid device id.
            InvalidMessage: the topic is not under this prefix and version, or the channel is
                unknown.
        """
        if not isinstance(topic, str):
            raise InvalidMessage("topic must be a string")
        head = f"{self.prefix}/{PROTOCOL_LEVEL}/"
        if not topic.startswith(head):
            raise InvalidMessage(f"topic is not under '{head}'")
        device_part, sep, suffix = topic[len(head) :].partition("/")
        if not sep:
            raise InvalidMessage("topic has no channel after the device id")
        device_id = DeviceId(device_part)
        try:
            channel = Channel(suffix)
        except ValueError:
            raise InvalidMessage("topic names an unknown channel") from None
        return device_id, channel


def _shared(topic: str, group: str | None) -> str:
    if group is None:
        return topic
    if not isinstance(group, str) or _GROUP_RE.fullmatch(group) is None:
        raise InvalidIdentifier("shared subscription group must be 1-64 of A-Z a-z 0-9 _ -")
    return f"$share/{group}/{topic}"
