"""One broker-connection model and vocabulary for the camera, the responder and the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from cloud.config import load_settings as load_responder_settings
from cloud.console.settings import MqttSettings
from cloud.settings import BrokerSettings as ResponderBroker
from device.settings import BrokerSettings as CameraBroker
from schemas.broker import BrokerConnection, DeprecatedSettingWarning

PROGRAMS: list[type[BrokerConnection]] = [CameraBroker, ResponderBroker, MqttSettings]
TABLE: dict[str, Any] = {
    "url": "mqtt://broker.example.com",
    "ca_file": "/etc/ossmedia/ca.pem",
    "cert_file": "/etc/ossmedia/client.crt",
    "key_file": "/etc/ossmedia/client.key",
    "username": "u",
    "password": "p",
    "protocol": "3.1.1",
    "client_id": "c-1",
    "keepalive_s": 60,
    "connect_timeout_s": 3.0,
    "reconnect_initial_s": 0.25,
    "reconnect_max_s": 10.0,
    "tls_insecure": True,
}


def _connection(model: BaseModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in BrokerConnection.model_fields}


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__module__)
def test_one_table_means_the_same_to_every_program(program: type[BrokerConnection]) -> None:
    settings = program.model_validate(TABLE)
    assert _connection(settings) == _connection(BrokerConnection.model_validate(TABLE))
    # A CA file turns TLS on everywhere, and with it the TLS default port.
    assert (settings.host, settings.port, settings.tls) == ("broker.example.com", 8883, True)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__module__)
@pytest.mark.parametrize(
    "bad",
    [
        {"url": "http://h"},
        {"url": "mqtt://h/path"},
        {"url": "mqtt://user@h"},
        {"url": "mqtt://h:99999"},
        {"cert_file": "/c.pem"},
        {"keepalive_s": 1},
    ],
)
def test_every_program_refuses_the_same_bad_values(
    program: type[BrokerConnection], bad: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        program.model_validate(bad)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            {"client_cert_file": "/c", "client_key_file": "/k"},
            {"cert_file": "/c", "key_file": "/k"},
        ),
        ({"reconnect_min_s": 2.0}, {"reconnect_initial_s": 2.0}),
    ],
)
def test_the_responders_old_keys_still_work_with_a_warning(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    with pytest.warns(DeprecatedSettingWarning, match="deprecated; use"):
        migrated = ResponderBroker.model_validate(old)
    assert migrated == ResponderBroker.model_validate(new)


def test_the_consoles_old_host_port_and_ca_keys_still_work_with_a_warning() -> None:
    with pytest.warns(DeprecatedSettingWarning):
        plain = MqttSettings.model_validate({"host": "10.0.0.5", "port": 1884})
    assert plain.url == "mqtt://10.0.0.5:1884"
    assert not plain.tls
    with pytest.warns(DeprecatedSettingWarning):
        tls = MqttSettings.model_validate({"host": "b", "port": 8883, "tls_ca_file": "/ca.pem"})
    assert (tls.url, tls.ca_file, tls.tls) == ("mqtts://b:8883", Path("/ca.pem"), True)


def test_an_old_key_beside_its_new_one_is_refused() -> None:
    with pytest.warns(DeprecatedSettingWarning), pytest.raises(ValidationError):
        ResponderBroker.model_validate({"reconnect_min_s": 1.0, "reconnect_initial_s": 2.0})
    with pytest.raises(ValidationError, match="same setting"):
        MqttSettings.model_validate({"host": "h", "url": "mqtt://h"})


def test_the_responders_old_key_works_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "OSSMEDIA_BROKER_RECONNECT_MIN_S": "2.5",
        "OSSMEDIA_STS_ACCESS_KEY_SECRET": "s",
        "OSSMEDIA_MASTER_KEY": "A" * 43,
    }
    with pytest.warns(DeprecatedSettingWarning):
        settings = load_responder_settings(None, environ)
    assert settings.broker.reconnect_initial_s == 2.5
