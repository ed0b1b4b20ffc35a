"""The web console and management API.

A recording ledger fed by the cameras' ``segment.closed`` and ``status`` messages, a
reconciler that checks every recording against OSS, server-rendered pages and a REST API
(with an OpenAPI document) for browsing, playing, downloading and deleting recordings,
retention as bucket lifecycle rules, and device provisioning.

Entry points: ``ossmedia console --config console.toml``; :func:`create_app` for an ASGI
application; :class:`Console` for a running service (web server, ingest, reconciler).
"""

from cloud.console.devices import DeviceAdmin, DeviceInfo, NewSecret, RegistryDevices
from cloud.console.errors import ConsoleConfigError, ConsoleError
from cloud.console.ledger import Ledger, Recording, Verification
from cloud.console.passwords import hash_password, verify_password
from cloud.console.quickstart import local_settings
from cloud.console.runtime import Console
from cloud.console.settings import (
    ConsoleSettings,
    HttpSettings,
    LedgerSettings,
    MqttSettings,
    OperatorAccount,
    OssSettings,
    ReconcileSettings,
    SessionSettings,
    load_settings,
)
from cloud.console.storage import ObjectStore, OssObjectStore
from cloud.console.web.app import ConsoleParts, create_app

__all__ = [
    "Console",
    "ConsoleConfigError",
    "ConsoleError",
    "ConsoleParts",
    "ConsoleSettings",
    "DeviceAdmin",
    "DeviceInfo",
    "HttpSettings",
    "Ledger",
    "LedgerSettings",
    "MqttSettings",
    "NewSecret",
    "ObjectStore",
    "OperatorAccount",
    "OssObjectStore",
    "OssSettings",
    "ReconcileSettings",
    "Recording",
    "RegistryDevices",
    "SessionSettings",
    "Verification",
    "create_app",
    "hash_password",
    "load_settings",
    "local_settings",
    "verify_password",
]
