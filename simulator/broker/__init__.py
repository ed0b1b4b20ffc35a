"""A real Mosquitto broker for the simulator, the demo and the tests.

``MosquittoSettings`` describes one broker (listener, auth, ACL, TLS, limits),
``render_config`` writes its files, and ``MosquittoProcess`` / ``running_mosquitto`` run it on a
free or fixed port with start, stop, kill and same-port restart. ``project_acl`` is the access
model of protocol v1; ``deploy/mosquitto/acl`` is its rendering for the default prefix.
"""

from __future__ import annotations

from simulator.broker.acl import (
    DEFAULT_CONSOLE_USER,
    DEFAULT_PREFIX,
    DEFAULT_RESPONDER_USER,
    AclFile,
    AclRule,
    AclSection,
    project_acl,
)
from simulator.broker.binaries import find_mosquitto, find_mosquitto_passwd
from simulator.broker.config import MosquittoSettings, PasswordEntry, TlsSettings
from simulator.broker.errors import (
    BrokerConfigError,
    BrokerError,
    BrokerStartError,
    MosquittoNotFoundError,
)
from simulator.broker.process import MosquittoProcess, pick_free_port, running_mosquitto
from simulator.broker.render import RenderedConfig, render_config

__all__ = [
    "DEFAULT_CONSOLE_USER",
    "DEFAULT_PREFIX",
    "DEFAULT_RESPONDER_USER",
    "AclFile",
    "AclRule",
    "AclSection",
    "BrokerConfigError",
    "BrokerError",
    "BrokerStartError",
    "MosquittoNotFoundError",
    "MosquittoProcess",
    "MosquittoSettings",
    "PasswordEntry",
    "RenderedConfig",
    "TlsSettings",
    "find_mosquitto",
    "find_mosquitto_passwd",
    "pick_free_port",
    "project_acl",
    "render_config",
    "running_mosquitto",
]
