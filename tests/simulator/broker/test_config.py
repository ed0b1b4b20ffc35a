"""Settings validation and the rendered files (no broker is started here)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from simulator.broker import (
    BrokerConfigError,
    MosquittoNotFoundError,
    MosquittoSettings,
    PasswordEntry,
    TlsSettings,
    project_acl,
    render_config,
)
from simulator.broker.binaries import find_program
from simulator.broker.render import render_config_text


def _config_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_tcp_nodelay_is_always_on(tmp_path: Path) -> None:
    rendered = render_config(MosquittoSettings(), tmp_path, port=18830)
    lines = _config_lines(rendered.config_file.read_text())
    assert "set_tcp_nodelay true" in lines
    assert "persistence false" in lines
    assert "allow_anonymous true" in lines
    assert "listener 18830 127.0.0.1" in lines
    assert "protocol mqtt" in lines
    assert "max_inflight_messages 100" in lines
    assert "max_queued_messages 10000" in lines
    assert rendered.password_file is None
    assert rendered.acl_file is None


def test_password_file_is_hashed_and_private(tmp_path: Path) -> None:
    settings = MosquittoSettings(
        auth="password",
        passwords=(
            PasswordEntry(username="cam-a", password=SecretStr("s3cret:with-colon")),
            PasswordEntry(username="svc.responder", password=SecretStr("other-secret")),
        ),
    )
    rendered = render_config(settings, tmp_path, port=18830)
    assert rendered.password_file is not None
    text = rendered.password_file.read_text()
    assert "s3cret" not in text
    assert "other-secret" not in text
    assert [line.split(":", 1)[0] for line in text.splitlines()] == ["cam-a", "svc.responder"]
    assert all(line.split(":", 1)[1].startswith("$7$") for line in text.splitlines())
    assert stat.S_IMODE(os.stat(rendered.password_file).st_mode) == 0o600
    lines = _config_lines(rendered.config_file.read_text())
    assert "allow_anonymous false" in lines
    assert f"password_file {rendered.password_file.resolve()}" in lines


def test_secrets_stay_out_of_reprs() -> None:
    settings = MosquittoSettings(
        passwords=(PasswordEntry(username="cam-a", password=SecretStr("hunter2-hunter2")),)
    )
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_acl_file_is_the_rendered_model(tmp_path: Path) -> None:
    acl = project_acl("p")
    rendered = render_config(MosquittoSettings(acl=acl), tmp_path, port=18830)
    assert rendered.acl_file is not None
    assert rendered.acl_file.read_text() == acl.render()
    assert f"acl_file {rendered.acl_file.resolve()}" in rendered.config_file.read_text()


def test_tls_and_limits_lines(tmp_path: Path) -> None:
    tls = TlsSettings(
        certfile=tmp_path / "s.crt",
        keyfile=tmp_path / "s.key",
        cafile=tmp_path / "ca.pem",
        require_certificate=True,
        use_identity_as_username=True,
        tls_version="tlsv1.3",
    )
    settings = MosquittoSettings(
        tls=tls,
        use_username_as_clientid=True,
        max_queued_bytes=1 << 20,
        max_packet_size=65536,
        persistence=True,
        autosave_interval=5,
        log_types=("all",),
    )
    rendered = render_config(settings, tmp_path / "conf", port=18831)
    lines = _config_lines(rendered.config_file.read_text())
    listener_at = lines.index("listener 18831 127.0.0.1")
    listener = lines[listener_at:]
    assert f"certfile {tls.certfile.resolve()}" in listener
    assert f"keyfile {tls.keyfile.resolve()}" in listener
    assert f"cafile {tls.cafile.resolve()}" in listener  # type: ignore[union-attr]
    assert "require_certificate true" in listener
    assert "use_identity_as_username true" in listener
    assert "tls_version tlsv1.3" in listener
    assert "use_username_as_clientid true" in listener
    assert rendered.persistence_dir is not None
    assert rendered.persistence_dir.is_dir()
    assert "persistence true" in lines
    assert f"persistence_location {rendered.persistence_dir.resolve()}/" in lines
    assert "autosave_interval 5" in lines
    assert "max_queued_bytes 1048576" in lines
    assert "max_packet_size 65536" in lines
    assert "log_type all" in lines
    assert settings.scheme == "mqtts"


def test_paths_with_whitespace_are_refused(tmp_path: Path) -> None:
    tls = TlsSettings(certfile=tmp_path / "a b.crt", keyfile=tmp_path / "k.key")
    with pytest.raises(BrokerConfigError, match="whitespace"):
        render_config_text(
            MosquittoSettings(tls=tls),
            port=1,
            password_file=None,
            acl_file=None,
            persistence_dir=None,
        )


def test_port_must_be_concrete(tmp_path: Path) -> None:
    with pytest.raises(BrokerConfigError, match="port"):
        render_config(MosquittoSettings(), tmp_path, port=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"require_certificate": True}, "needs a cafile"),
        ({"use_identity_as_username": True, "cafile": Path("ca")}, "needs require_certificate"),
    ],
)
def test_inconsistent_tls_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TlsSettings(certfile=Path("c"), keyfile=Path("k"), **kwargs)  # type: ignore[arg-type]


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="distinct usernames"):
        MosquittoSettings(
            passwords=(
                PasswordEntry(username="a1", password=SecretStr("x")),
                PasswordEntry(username="a1", password=SecretStr("y")),
            )
        )
    with pytest.raises(ValidationError, match="line breaks"):
        PasswordEntry(username="a1", password=SecretStr("x\ny"))
    with pytest.raises(ValidationError, match="unknown log_type"):
        MosquittoSettings(log_types=("chatty",))
    with pytest.raises(ValidationError):
        MosquittoSettings(port=70000)


def test_wildcard_bind_connects_over_loopback() -> None:
    assert MosquittoSettings(bind="0.0.0.0").connect_host == "127.0.0.1"  # noqa: S104
    assert MosquittoSettings(bind="::1").connect_host == "::1"


def test_missing_program_says_how_to_install() -> None:
    with pytest.raises(MosquittoNotFoundError, match="apt-get install mosquitto") as info:
        find_program("mosquitto-not-installed-anywhere")
    assert info.value.program == "mosquitto-not-installed-anywhere"
