"""Settings for a console on one machine (demos, local trials), without a configuration file.

``ossmedia demo`` uses this to start the console next to the emulator and the broker::

    settings = local_settings(
        oss_endpoint=emulator.oss_endpoint, bucket=emulator.bucket, region=emulator.region,
        access_key_id=emulator.access_key_id, access_key_secret=emulator.access_key_secret,
        mqtt_host=broker.host, mqtt_port=broker.port, password="demo-password",
    )
    console = Console(settings, devices=RegistryDevices(registry))
    console.start()
    print(console.url, "log in as", settings.operators[0].username)
"""

from __future__ import annotations

import secrets

from cloud.console.passwords import hash_password
from cloud.console.settings import ConsoleSettings, parse_settings

__all__ = ["local_settings"]


def local_settings(
    *,
    oss_endpoint: str,
    bucket: str,
    region: str,
    access_key_id: str,
    access_key_secret: str,
    mqtt_host: str,
    mqtt_port: int,
    password: str,
    username: str = "admin",
    topic_prefix: str = "ossmedia",
    key_prefix_template: str = "videos/{device_id}/",
    http_host: str = "127.0.0.1",
    http_port: int = 0,
    ledger_path: str = ":memory:",
    mqtt_client_id: str | None = None,
) -> ConsoleSettings:
    """Settings for a console on loopback with one operator.

    Args:
        oss_endpoint: OSS (or emulator) endpoint.
        bucket: the cameras' bucket.
        region: its region.
        access_key_id: the console's own OSS key id (in a demo, the emulator's root key).
        access_key_secret: its secret.
        mqtt_host: broker host.
        mqtt_port: broker port.
        password: the operator's password (hashed here; never stored in clear).
        username: the operator's user name.
        topic_prefix: protocol topic prefix.
        key_prefix_template: where each camera's objects live.
        http_host: interface to listen on.
        http_port: port (0 picks a free one; read it from ``Console.url``).
        ledger_path: SQLite file for the ledger, or ``:memory:``.
        mqtt_client_id: MQTT client id; by default a random one, so several local consoles
            never take over each other's session.

    Returns:
        Validated settings.

    Raises:
        ConsoleConfigError: a value is invalid.
        ValueError: the password is empty or longer than 1024 bytes.
    """
    return parse_settings(
        {
            "http": {"host": http_host, "port": http_port},
            "session": {"secret": secrets.token_urlsafe(32)},
            "operators": [{"username": username, "password_hash": hash_password(password)}],
            "mqtt": {
                "url": f"mqtt://{f'[{mqtt_host}]' if ':' in mqtt_host else mqtt_host}:{mqtt_port}",
                "topic_prefix": topic_prefix,
                "client_id": mqtt_client_id or f"ossmedia-console-{secrets.token_hex(4)}",
            },
            "oss": {
                "endpoint": oss_endpoint,
                "bucket": bucket,
                "region": region,
                "access_key_id": access_key_id,
                "access_key_secret": access_key_secret,
                "key_prefix_template": key_prefix_template,
            },
            "ledger": {"path": ledger_path},
        }
    )
