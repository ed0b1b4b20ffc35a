"""The public surface of simulator.broker is pinned, so changes to it are deliberate."""

from __future__ import annotations

import simulator.broker as broker


def test_public_names() -> None:
    assert broker.__all__ == [
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
    for name in broker.__all__:
        assert getattr(broker, name) is not None


def test_every_error_is_a_broker_error() -> None:
    for error in (broker.BrokerConfigError, broker.BrokerStartError, broker.MosquittoNotFoundError):
        assert issubclass(error, broker.BrokerError)
    assert issubclass(broker.BrokerError, Exception)
