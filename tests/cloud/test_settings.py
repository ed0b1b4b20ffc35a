"""Responder settings: the example config, environment overrides, secrets, and the CLI."""

from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from cloud.config import SECRET_FIELDS, build_settings, load_settings
from cloud.errors import ConfigError
from cloud.responder.cli import example_config, run
from cloud.settings import BrokerSettings, GrantSettings, ResponderSettings

SECRET_ENV = {
    "OSSMEDIA_STS_ACCESS_KEY_SECRET": "sts-secret-value",
    "OSSMEDIA_BROKER_PASSWORD": "pw",
    "OSSMEDIA_MASTER_KEY": "A" * 43,
}


def test_example_config_is_complete_and_valid() -> None:
    text = example_config()
    document = tomllib.loads(text)
    # The example names secret files; here the secrets come from the environment instead.
    for section, _, file_field in SECRET_FIELDS:
        document.get(section, {}).pop(file_field, None)
    settings = build_settings(document, SECRET_ENV)
    assert settings.broker.url.startswith("mqtts://")
    for section, field in ResponderSettings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        assert f"[{section}]" in text
        for name in model.model_fields:
            if name in {"access_key_secret", "password", "master_key", "provisioner_password"}:
                assert re.search(rf"OSSMEDIA_\w*{name.upper()}", text), name
            else:
                assert re.search(rf"^#? ?{name} = ", text, re.MULTILINE), f"{section}.{name}"


def test_environment_overrides_win(tmp_path: Path) -> None:
    config = tmp_path / "r.toml"
    config.write_text('[limits]\nskew_window_s = 100\n[state]\nurl = "memory"\n')
    env = {
        **SECRET_ENV,
        "OSSMEDIA_LIMITS_SKEW_WINDOW_S": "120",
        "OSSMEDIA_STATE_URL": "redis://127.0.0.1:6390/1",
        "OSSMEDIA_UNRELATED": "x",
        "OSSMEDIA_CONFIG": "ignored",
    }
    settings = load_settings(config, env)
    assert settings.limits.skew_window_s == 120
    assert settings.state.url == "redis://127.0.0.1:6390/1"
    assert settings.sts.access_key_secret.get_secret_value() == "sts-secret-value"
    assert "sts-secret-value" not in repr(settings)
    with pytest.raises(ConfigError, match=r"no setting limits\.skew"):
        load_settings(config, {"OSSMEDIA_LIMITS_SKEW": "1"})


def test_secrets_come_from_files_not_the_config(tmp_path: Path) -> None:
    secret_file = tmp_path / "sts.secret"
    secret_file.write_text("from-a-file\n")
    settings = build_settings({"sts": {"access_key_secret_file": str(secret_file)}}, {})
    assert settings.sts.access_key_secret.get_secret_value() == "from-a-file"
    with pytest.raises(ConfigError, match="must not be written in the file"):
        build_settings({"sts": {"access_key_secret": "inline"}}, {})
    with pytest.raises(ConfigError, match="cannot read secret file"):
        build_settings({"registry": {"master_key_file": str(tmp_path / "missing")}}, {})


def test_invalid_values_are_reported_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as info:
        build_settings(
            {"broker": {"url": "http://x", "keepalive_s": "often"}},
            {"OSSMEDIA_BROKER_PASSWORD": "hunter2", "OSSMEDIA_STS_MAX_DURATION_S": "hunter3"},
        )
    assert "broker.url" in str(info.value)
    assert "OSSMEDIA_STS_MAX_DURATION_S: sts.max_duration_s" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert "hunter3" not in str(info.value)


@pytest.mark.parametrize(
    "template",
    [
        "videos/",
        "videos/{device_id}",
        "/videos/{device_id}/",
        "videos/{device_id}/{device_id}/",
        "videos/*/{device_id}/",
        "../{device_id}/",
        "v/{bucket}/{device_id}/",
    ],
)
def test_prefix_template_cannot_widen_a_grant(template: str) -> None:
    with pytest.raises(ValidationError):
        GrantSettings(prefix_template=template)


def test_broker_url_and_topics() -> None:
    assert BrokerSettings(url="mqtts://h").port == 8883
    assert BrokerSettings(url="mqtt://h:1884").port == 1884
    for bad in (
        {"url": "http://h"},
        {"topic_prefix": "a/+"},
        {"shared_group": "g/x"},
        {"persistent_session": True},
        {"cert_file": "/c.pem"},
    ):
        with pytest.raises(ValidationError):
            BrokerSettings.model_validate(bad)


def test_responder_cli_example_check_and_errors(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["--example-config"], {}, out, err) == 0
    assert out.getvalue() == example_config()
    config = tmp_path / "r.toml"
    text = example_config()
    for name, value in (
        ("sts-access-key-secret", "sts-secret-value"),
        ("broker-password", "pw"),
        ("master-key", "A" * 43),
    ):
        (tmp_path / name).write_text(value + "\n")
        text = text.replace(f"/etc/ossmedia/{name}", str(tmp_path / name))
    config.write_text(text)
    out = io.StringIO()
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked beyond being readable\n")
    env = {
        "OSSMEDIA_REGISTRY_URL": f"sqlite://{tmp_path / 'registry.db'}",
        "OSSMEDIA_BROKER_CA_FILE": str(ca),
    }
    assert run(["--config", str(config), "--check"], env, out, err) == 0, err.getvalue()
    assert "sts-secret-value" not in out.getvalue()
    err = io.StringIO()
    assert run(["--config", str(tmp_path / "none.toml")], {}, io.StringIO(), err) == 1
    assert "cannot read settings file" in err.getvalue()


def test_a_secret_from_both_the_environment_and_a_file_is_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "sts-secret"
    secret_file.write_text("from-the-file\n")
    config = tmp_path / "r.toml"
    config.write_text(f'[sts]\naccess_key_secret_file = "{secret_file}"\n')
    with pytest.raises(ConfigError, match="set twice") as info:
        load_settings(config, {"OSSMEDIA_STS_ACCESS_KEY_SECRET": "from-the-env"})
    assert "OSSMEDIA_STS_ACCESS_KEY_SECRET" in info.value.message
    assert "from-the-env" not in info.value.message
    assert "from-the-file" not in info.value.message


def test_a_bad_environment_value_is_reported_as_coming_from_the_environment(
    tmp_path: Path,
) -> None:
    config = tmp_path / "r.toml"
    config.write_text("[limits]\ndevice_burst = 0\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config, {"OSSMEDIA_LIMITS_SKEW_WINDOW_S": "-5"})
    message = info.value.message
    assert "OSSMEDIA_LIMITS_SKEW_WINDOW_S: limits.skew_window_s" in message
    assert f"{config}: limits.device_burst" in message


def test_quarantine_is_off_by_default_and_checked_when_on(tmp_path: Path) -> None:
    assert load_settings(None, SECRET_ENV).quarantine.broker_admin() is None
    config = tmp_path / "r.toml"
    config.write_text(
        '[quarantine]\nurl = "mqtts://127.0.0.1:8883"\nperiod_s = 30\n'
        "[limits]\ndevice_requests_per_minute = 10\n"
    )
    env = {**SECRET_ENV, "OSSMEDIA_QUARANTINE_PASSWORD": "quarantine-secret"}
    admin = load_settings(config, env).quarantine.broker_admin()
    assert admin is not None
    assert (admin.username, admin.password.get_secret_value()) == (
        "svc.quarantine",
        "quarantine-secret",
    )
    with pytest.raises(ConfigError, match="needs a password"):
        load_settings(config, SECRET_ENV)
    # Shorter than a camera's retry-after (6 s at 10 per minute): the broker would queue the
    # flood again while the responder still drops it.
    config.write_text('[quarantine]\nurl = "mqtts://127.0.0.1:8883"\nperiod_s = 5\n')
    with pytest.raises(ConfigError, match="retry-after") as refused:
        load_settings(config, env)
    assert "quarantine-secret" not in str(refused.value)
    config.write_text('[quarantine]\nurl = "mqtts://127.0.0.1:8883"\npassword = "inline"\n')
    with pytest.raises(ConfigError, match="password_file"):
        load_settings(config, env)
