"""The camera configuration file printed by ``ossmedia devices add`` and ``rotate``, and
handed over by the console when it provisions a camera or rotates its secret.

It is the ``camera.toml`` that ``ossmedia camera --config camera.toml`` reads (see
``device/settings.py``): the device id, its secret, the topic prefix and the broker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


def _toml_str(value: str) -> str:
    # A JSON string of printable text is also a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


@dataclass(frozen=True)
class CameraConfig:
    """What a camera needs to reach the responder.

    Attributes:
        device_id: the camera's id.
        secret: its secret (unpadded base64url); kept out of the repr.
        broker_url: the broker URL as the camera sees it.
        topic_prefix: the topic prefix shared with the responder.
        ca_file: CA bundle the camera should verify the broker with, when TLS is used.
        mqtt_password: the camera's own broker password, when ``ossmedia devices`` created
            its broker account (the username is then the device id); kept out of the repr.
    """

    device_id: str
    secret: str = field(repr=False)
    broker_url: str
    topic_prefix: str = "ossmedia"
    ca_file: Path | None = None
    mqtt_password: str | None = field(default=None, repr=False)

    def render(self) -> str:
        """The ``camera.toml`` text."""
        lines = [
            f"# ossmedia camera configuration for {self.device_id}.",
            "# Keep this file private: it holds the camera's secret.",
            f"device_id = {_toml_str(self.device_id)}",
            f"secret = {_toml_str(self.secret)}",
            f"topic_prefix = {_toml_str(self.topic_prefix)}",
            "",
            "[broker]",
            f"url = {_toml_str(self.broker_url)}",
        ]
        if self.ca_file is not None:
            lines.append(f"ca_file = {_toml_str(str(self.ca_file))}")
        else:
            lines.append('# ca_file = "/etc/ossmedia/ca.pem"   # for mqtts:// with a private CA')
        if self.mqtt_password is not None:
            lines += [
                "# The camera's own broker account (not its device secret).",
                f"username = {_toml_str(self.device_id)}",
                f"password = {_toml_str(self.mqtt_password)}",
            ]
        else:
            lines += [
                "# With per-device broker accounts (deploy/mosquitto), the username is the "
                "device id:",
                f"# username = {_toml_str(self.device_id)}",
                '# password = "..."',
            ]
        lines += [
            "",
            "[credentials]",
            'access = "append"',
            "",
        ]
        return "\n".join(lines)
