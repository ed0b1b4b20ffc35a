"""Provisioning hands over the camera's whole configuration, once, and keeps no copy of it.

The console's ``camera.toml`` (page and API, after provisioning and after rotation) is the
text ``ossmedia devices add`` prints for the same broker, and the camera's own settings
loader reads it. Nothing carrying a secret may be cached, and no log line may hold one.
"""

from __future__ import annotations

import html
import io
import logging
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.errors import BrokerAccountError
from cloud.registry import new_master_key
from cloud.registry.cli import run as devices_cli
from device.agent.config import load_settings as load_camera_settings
from schemas.ids import DeviceId
from tests.cloud.console.conftest import PASSWORD_HASH, Operator, Stack, StackFactory, login
from tests.cloud.console.test_pages import form_login, hidden_token

CAMERA_BROKER = "mqtts://mqtt.example.com:8883"
CAMERA_CA = "/etc/ossmedia/ca.pem"


@pytest.fixture
def console(stack_factory: StackFactory) -> Stack:
    """A console whose cameras reach the broker at another address than the console does."""
    return stack_factory(
        mqtt={"url": "mqtt://10.0.0.1:1883"},
        provisioning={"broker_url": CAMERA_BROKER, "ca_file": CAMERA_CA},
    )


@pytest.fixture
def api(console: Stack) -> Iterator[Operator]:
    with httpx.Client(base_url=console.url, timeout=10, follow_redirects=False) as http:
        yield Operator(http, login(http))


@pytest.fixture
def pages(console: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, timeout=10, follow_redirects=False) as http:
        assert form_login(http).status_code == 303
        yield http


def cli_config(tmp_path: Path, device_id: str) -> tuple[str, str]:
    """``ossmedia devices add --json`` for the same broker: (camera_config, secret)."""
    import json

    env = {
        "OSSMEDIA_MASTER_KEY": new_master_key(),
        "OSSMEDIA_REGISTRY_URL": f"sqlite://{tmp_path / 'cli-registry.db'}",
    }
    out, err = io.StringIO(), io.StringIO()
    argv = ["add", device_id, "--json", "--broker-url", CAMERA_BROKER, "--ca-file", CAMERA_CA]
    assert devices_cli(argv, env, out, err) == 0, err.getvalue()
    doc = json.loads(out.getvalue())
    return doc["camera_config"], doc["secret"]


def assert_camera_reads(config: str, device_id: str, secret: str, tmp_path: Path) -> None:
    path = tmp_path / f"{device_id}.toml"
    path.write_text(config)
    camera = load_camera_settings(path)
    assert camera.device_id == device_id
    assert camera.secret.get_secret_value() == secret
    assert camera.broker.url == CAMERA_BROKER
    assert str(camera.broker.ca_file) == CAMERA_CA
    assert camera.topic_prefix == "ossmedia"


def test_api_returns_the_cli_camera_config_after_provisioning_and_rotation(
    api: Operator, tmp_path: Path
) -> None:
    made = api.http.post("/api/devices", json={"device_id": "cam-7"}, headers=api.headers())
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    assert_camera_reads(body["camera_config"], "cam-7", body["secret"], tmp_path)
    # Byte for byte the CLI's text, but for the secret.
    expected, cli_secret = cli_config(tmp_path, "cam-7")
    assert body["camera_config"].replace(body["secret"], "S") == expected.replace(cli_secret, "S")

    rotated = api.http.post("/api/devices/cam-7/rotate", headers=api.headers())
    assert rotated.status_code == 200
    assert rotated.headers["cache-control"] == "no-store"
    again = rotated.json()
    assert again["secret"] != body["secret"]
    assert_camera_reads(again["camera_config"], "cam-7", again["secret"], tmp_path)
    listing = api.http.get("/api/devices").text
    assert body["secret"] not in listing
    assert again["secret"] not in listing


def _page_config(page: httpx.Response) -> tuple[str, str]:
    """The camera.toml in the page's text box and in its download link."""
    shown = re.search(r'<textarea id="camera-config"[^>]*>(.*?)</textarea>', page.text, re.S)
    link = re.search(r'id="download-config" download="camera.toml"\s+href="([^"]+)"', page.text)
    assert shown is not None
    assert link is not None
    prefix = "data:application/toml;charset=utf-8,"
    href = html.unescape(link.group(1))
    assert href.startswith(prefix)
    return html.unescape(shown.group(1)), urllib.parse.unquote(href[len(prefix) :])


def test_pages_hand_over_the_camera_config_once(
    console: Stack, pages: httpx.Client, tmp_path: Path
) -> None:
    token = hidden_token(pages.get("/devices").text)
    for path, device_id in (("/devices", "cam-8"), ("/devices/cam-8/rotate", "cam-8")):
        shown = pages.post(path, data={"csrf_token": token, "device_id": device_id})
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "no-store"
        assert "only time the secret and this camera.toml are shown" in shown.text
        secret = re.search(r'<code id="secret">([A-Za-z0-9_-]{43})</code>', shown.text)
        assert secret is not None
        text, downloaded = _page_config(shown)
        assert text == downloaded
        assert_camera_reads(text, device_id, secret.group(1), tmp_path)
        for other in ("/devices", "/", f"/cameras/{device_id}"):
            assert secret.group(1) not in pages.get(other).text


def test_no_secret_reaches_the_server_logs(
    console: Stack, api: Operator, pages: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []
    made = api.http.post("/api/devices", json={"device_id": "cam-9"}, headers=api.headers())
    secrets.append(made.json()["secret"])
    rotated = api.http.post("/api/devices/cam-9/rotate", headers=api.headers())
    secrets.append(rotated.json()["secret"])
    token = hidden_token(pages.get("/devices").text)
    for path in ("/devices", "/devices/cam-10/rotate"):
        shown = pages.post(path, data={"csrf_token": token, "device_id": "cam-10"})
        found = re.search(r'<code id="secret">([A-Za-z0-9_-]{43})</code>', shown.text)
        assert found is not None
        secrets.append(found.group(1))
    # The console logged the requests (access and audit lines), so the capture is live.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cam-9" in logged
    assert "cam-10" in logged
    for secret in secrets:
        assert secret not in logged
        assert secret not in caplog.text


class Accounts:
    """The cameras' broker accounts behind their seam, as the broker would hold them (the
    dynamic-security implementation is tested against Mosquitto in tests/simulator/broker)."""

    def __init__(self) -> None:
        self.passwords: dict[str, str] = {}
        self.disabled: set[str] = set()
        self.down = False

    def ensure(self, device_id: DeviceId, password: str) -> None:
        if self.down:
            raise BrokerAccountError("the broker did not answer", device_id=device_id)
        self.passwords[device_id] = password
        self.disabled.discard(device_id)

    def disable(self, device_id: DeviceId) -> None:
        if self.down:
            raise BrokerAccountError("the broker did not answer", device_id=device_id)
        self.disabled.add(device_id)

    def delete(self, device_id: DeviceId) -> None:
        if self.down:
            raise BrokerAccountError("the broker did not answer", device_id=device_id)
        self.passwords.pop(device_id, None)
        self.disabled.discard(device_id)


def test_the_camera_config_carries_its_own_broker_account(
    stack_factory: StackFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    accounts = Accounts()
    console = stack_factory(accounts=accounts, provisioning={"broker_url": CAMERA_BROKER})
    with httpx.Client(base_url=console.url, timeout=10, follow_redirects=False) as http:
        api = Operator(http, login(http))
        made = api.http.post("/api/devices", json={"device_id": "cam-11"}, headers=api.headers())
        assert made.status_code == 201
        first = accounts.passwords["cam-11"]
        path = tmp_path / "camera.toml"
        path.write_text(made.json()["camera_config"])
        camera = load_camera_settings(path)
        assert camera.broker.username == "cam-11"
        assert camera.broker.password is not None
        assert camera.broker.password.get_secret_value() == first

        rotated = api.http.post("/api/devices/cam-11/rotate", headers=api.headers())
        assert rotated.status_code == 200
        assert accounts.passwords["cam-11"] != first
        assert f'password = "{accounts.passwords["cam-11"]}"' in rotated.json()["camera_config"]

        assert api.http.post("/api/devices/cam-11/revoke", headers=api.headers()).is_success
        assert accounts.disabled == {"cam-11"}

        # The broker is down: the registry keeps the device, the operator is told what to do.
        accounts.down = True
        refused = api.http.post("/api/devices", json={"device_id": "cam-12"}, headers=api.headers())
        assert refused.status_code == 502
        assert "rotate its secret once the broker is reachable" in refused.json()["message"]
        assert console.registry.get("cam-12").status.value == "active"
    for password in (first, *accounts.passwords.values()):
        assert password not in caplog.text


def test_a_provisioner_without_a_password_is_refused() -> None:
    from cloud.console.errors import ConsoleConfigError
    from cloud.console.settings import parse_settings

    with pytest.raises(ConsoleConfigError, match="provisioner_password") as refused:
        parse_settings(
            {
                "operators": [{"username": "admin", "password_hash": PASSWORD_HASH}],
                "oss": {
                    "endpoint": "http://127.0.0.1:1",
                    "bucket": "b",
                    "region": "r",
                    "access_key_id": "id",
                    "access_key_secret": "key",
                },
                "provisioning": {"provisioner_url": "mqtt://127.0.0.1:1884"},
            }
        )
    assert "oss" not in str(refused.value)


def test_the_provisioner_password_comes_from_a_file(tmp_path: Path) -> None:
    from cloud.console.settings import load_settings

    (tmp_path / "provisioner").write_text("admin-password-123\n")
    config = tmp_path / "console.toml"
    config.write_text(
        f"""
[[operators]]
username = "admin"
password_hash = "{PASSWORD_HASH}"
[oss]
endpoint = "http://127.0.0.1:1"
bucket = "b"
region = "r"
access_key_id = "id"
access_key_secret_file = "{tmp_path / "provisioner"}"
[provisioning]
provisioner_url = "mqtts://127.0.0.1:8884"
provisioner_password_file = "{tmp_path / "provisioner"}"
"""
    )
    admin = load_settings(config, {}).provisioning.broker_admin()
    assert admin is not None
    assert admin.url == "mqtts://127.0.0.1:8884"
    assert admin.username == "svc.provisioner"
    assert admin.password.get_secret_value() == "admin-password-123"
    assert "admin-password-123" not in repr(admin)
