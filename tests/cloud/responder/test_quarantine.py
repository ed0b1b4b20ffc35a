"""Broker-side quarantine of a flooding camera, end to end.

Mosquitto runs deploy/mosquitto/mosquitto.conf (dynamic-security plugin on the camera
listener, TLS); the real responder runs on the service listener with ``[quarantine]`` on. A
camera floods validly signed requests: the broker cuts it off and refuses its reconnects,
other cameras' requests sent meanwhile are all answered, and after the (short) period its
account works again, unless it was revoked meanwhile; a responder restarted during the
quarantine still ends it; two responders of one group do not fight; an admin account that
does not work costs only the quarantine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from pydantic import SecretStr

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.registry.broker_accounts import AccountState, BrokerAdminSettings, DynsecAccounts
from cloud.responder.app import Responder, build_responder
from cloud.responder.quarantine import Quarantine
from schemas.ids import DeviceId
from schemas.keys import DeviceKeys
from schemas.topics import Topics
from simulator.bench.responder.client import Device, now_ms
from simulator.broker import MosquittoProcess
from simulator.broker.deployed import adapt_deploy_config
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.responder.harness import responder_settings
from tests.fixtures.broker import BrokerTls, MqttProbe, MqttProbeFactory

TOPICS = Topics()
SERVICES = {"svc.responder": "responder-password"}
ADMINS = {"svc.provisioner": "provisioner-password", "svc.quarantine": "quarantine-password"}
PERIOD_S = 2.0
FLOOD_LIMIT = 20_000
VICTIMS = 5


@dataclass
class Site:
    """The deployed broker, the registry, and the cameras provisioned in both."""

    broker: MosquittoProcess
    service_port: int
    tls: BrokerTls
    registry: Registry
    master_key: str
    directory: Path
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def accounts(self) -> DynsecAccounts:
        admin = BrokerAdminSettings(
            url=self.broker.url,
            username="svc.provisioner",
            password=SecretStr(ADMINS["svc.provisioner"]),
            ca_file=self.tls.ca_file,
        )
        return DynsecAccounts(admin, topics=TOPICS)

    def camera(self, name: str) -> Device:
        secret = self.registry.add(name)[1]
        self.passwords[name] = f"pw-{name}"
        self.accounts.ensure(DeviceId(name), self.passwords[name])
        return Device(name, DeviceKeys.from_secret(secret))


@pytest.fixture
def site(tmp_path: Path, broker_tls: BrokerTls) -> Iterator[Site]:
    adapted = adapt_deploy_config(
        tmp_path, services=SERVICES, admins=ADMINS, tls=broker_tls.server_settings()
    )
    broker = adapted.process(tmp_path / "run")
    broker.start()
    master_key = new_master_key()
    # The file the responders' [registry] names (tests/cloud/responder/harness.py).
    registry = Registry(
        open_store(f"sqlite://{tmp_path / 'registry.db'}"), MasterKey.from_text(master_key)
    )
    yield Site(broker, adapted.service_port, broker_tls, registry, master_key, tmp_path)
    registry.close()
    broker.stop()


StartResponder = Callable[..., Responder]


@pytest.fixture
def start_responder(site: Site, emulator: EmulatorHandle) -> Iterator[StartResponder]:
    started: list[Responder] = []

    def start(password: str = ADMINS["svc.quarantine"]) -> Responder:
        settings = responder_settings(
            site.broker,
            emulator,
            site.directory,
            master_key=site.master_key,
            broker={
                "url": f"mqtts://127.0.0.1:{site.service_port}",
                "username": "svc.responder",
                "password": SERVICES["svc.responder"],
                "ca_file": site.tls.ca_file,
            },
            # Muted after 2 requests and 3 refusals; a retry-after of 1 s.
            limits={"device_requests_per_minute": 60, "device_burst": 2},
            quarantine={
                "url": site.broker.url,
                "username": "svc.quarantine",
                "password": password,
                "ca_file": site.tls.ca_file,
                "period_s": PERIOD_S,
            },
        )
        responder = build_responder(settings)
        responder.start(check_sts=False)
        assert responder.service.wait_connected(10)
        started.append(responder)
        return responder

    yield start
    for responder in started:
        responder.stop()


def _login(site: Site, factory: MqttProbeFactory, name: str) -> MqttProbe:
    return factory(
        site.broker,
        username=name,
        password=site.passwords[name],
        ca_file=site.tls.ca_file,
        protocol=MQTTProtocolVersion.MQTTv5,
    )


def _eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not check():
        assert time.monotonic() < deadline, what
        pause.wait(0.1)


def _count(responder: Responder, outcome: str) -> float:
    value = responder.metrics.registry.get_sample_value(
        "ossmedia_responder_quarantine_total", {"outcome": outcome}
    )
    return value or 0.0


class _Flood:
    """A camera publishing validly signed requests as fast as paho takes them, in a thread,
    until the broker cuts it off (or ``FLOOD_LIMIT``)."""

    def __init__(self, probe: MqttProbe, device: Device) -> None:
        self.probe = probe
        self.device = device
        self.acknowledged = 0
        self.sent = 0
        probe.client.max_inflight_messages_set(1000)
        probe.client.on_publish = self._on_publish
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _on_publish(self, *_args: Any) -> None:
        self.acknowledged += 1  # only paho's network thread writes it

    def _run(self) -> None:
        topic = TOPICS.creds_req(self.device.device_id)
        while self.sent < FLOOD_LIMIT and not self.probe.disconnected.is_set():
            info = self.probe.client.publish(topic, self.device.request(now_ms())[1], qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break
            self.sent += 1

    def start(self) -> None:
        assert not self.probe.connect().is_failure
        self._thread.start()

    def join(self) -> None:
        self._thread.join(30)


def _flood_is_cut_off(
    site: Site, factory: MqttProbeFactory, responder: Responder, name: str
) -> _Flood:
    device = site.camera(name)
    flood = _Flood(_login(site, factory, name), device)
    flood.start()
    assert flood.probe.disconnected.wait(15), "the broker never cut the flooding camera off"
    flood.join()
    assert flood.acknowledged < FLOOD_LIMIT
    # The broker cuts the camera off while it handles the command; the count follows its answer.
    _eventually(lambda: _count(responder, "disabled") == 1, 5, "no quarantine counted")
    assert _login(site, factory, name).connect().is_failure  # CONNACK: not authorised
    return flood


def test_a_flooding_camera_is_cut_off_by_the_broker_and_comes_back_after_the_period(
    site: Site, start_responder: StartResponder, mqtt_client_factory: MqttProbeFactory
) -> None:
    responder = start_responder()
    victims = [site.camera(f"cam-{n}") for n in range(VICTIMS)]
    condition = threading.Condition()
    probes = []
    for victim in victims:
        probe = mqtt_client_factory(
            site.broker,
            username=victim.device_id,
            password=site.passwords[victim.device_id],
            ca_file=site.tls.ca_file,
            condition=condition,
        )
        assert not probe.connect().is_failure
        assert [rc.value for rc in probe.subscribe(TOPICS.creds_res(victim.device_id))] == [1]
        probes.append(probe)

    flooder = site.camera("flooder")
    flood = _Flood(_login(site, mqtt_client_factory, "flooder"), flooder)
    flood.start()
    # Other cameras ask while the flood is under way; every one of them is answered.
    asked = {}
    for victim, probe in zip(victims, probes, strict=True):
        request_id, payload = victim.request(now_ms())
        asked[victim.device_id] = request_id
        probe.client.publish(TOPICS.creds_req(victim.device_id), payload, qos=1)
    probes[0].wait_until(lambda: all(probe.messages for probe in probes), timeout=30)
    for victim, probe in zip(victims, probes, strict=True):
        reply = json.loads(probe.messages[0].payload)
        assert reply["ok"] is True, reply
        assert reply["request_id"] == asked[victim.device_id]

    assert flood.probe.disconnected.wait(15), "the broker never cut the flooding camera off"
    flood.join()
    assert flood.acknowledged < FLOOD_LIMIT  # cut off before the broker took the whole flood
    _eventually(lambda: _count(responder, "disabled") == 1, 5, "no quarantine counted")
    refused = _login(site, mqtt_client_factory, "flooder").connect()
    assert refused.is_failure, refused
    state = site.accounts.state(DeviceId("flooder"))
    assert state is not None
    assert state.disabled
    assert state.quarantined_until is not None

    quarantine = responder.quarantine
    assert quarantine is not None
    _eventually(lambda: not quarantine.held(), PERIOD_S + 10, "the quarantine never ended")
    assert _count(responder, "lifted") == 1
    assert not _login(site, mqtt_client_factory, "flooder").connect().is_failure
    assert site.accounts.state(DeviceId("flooder")) == AccountState(False, None)


def test_a_camera_revoked_during_its_quarantine_stays_disabled(
    site: Site, start_responder: StartResponder, mqtt_client_factory: MqttProbeFactory
) -> None:
    responder = start_responder()
    _flood_is_cut_off(site, mqtt_client_factory, responder, "flooder")
    # Revoked in the registry only (the broker account still carries the quarantine mark):
    # the responder reads the registry before it enables anything.
    site.registry.revoke("flooder")
    quarantine = responder.quarantine
    assert quarantine is not None
    _eventually(lambda: not quarantine.held(), PERIOD_S + 10, "the quarantine never ended")
    assert _count(responder, "kept") == 1
    assert _count(responder, "lifted") == 0
    assert _login(site, mqtt_client_factory, "flooder").connect().is_failure
    assert site.accounts.state(DeviceId("flooder")) == AccountState(True, None)


def test_a_restarted_responder_ends_the_quarantine(
    site: Site, start_responder: StartResponder, mqtt_client_factory: MqttProbeFactory
) -> None:
    first = start_responder()
    _flood_is_cut_off(site, mqtt_client_factory, first, "flooder")
    first.stop()
    second = start_responder()  # knows nothing but what the broker's account says
    quarantine = second.quarantine
    assert quarantine is not None
    _eventually(lambda: _count(second, "lifted") == 1, PERIOD_S + 10, "never re-enabled")
    assert not _login(site, mqtt_client_factory, "flooder").connect().is_failure


def test_an_unreachable_admin_account_costs_only_the_quarantine(
    site: Site,
    start_responder: StartResponder,
    mqtt_client_factory: MqttProbeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    responder = start_responder(password="not-the-password")
    flooder = site.camera("flooder")
    flood = _Flood(_login(site, mqtt_client_factory, "flooder"), flooder)
    flood.start()
    flood.join()
    _eventually(lambda: _count(responder, "failed") >= 1, 10, "the failure was not counted")
    assert not flood.probe.disconnected.is_set()  # nobody cut it off
    # The responder still answers everyone else.
    victim = site.camera("cam-0")
    probe = _login(site, mqtt_client_factory, "cam-0")
    assert not probe.connect().is_failure
    probe.subscribe(TOPICS.creds_res("cam-0"))
    request_id, payload = victim.request(now_ms())
    probe.client.publish(TOPICS.creds_req("cam-0"), payload, qos=1)
    reply = json.loads(probe.wait_for(TOPICS.creds_res("cam-0"), timeout=30).payload)
    assert (reply["ok"], reply["request_id"]) == (True, request_id)
    assert "quarantine failed" in caplog.text
    assert "not-the-password" not in caplog.text


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_the_schedule_follows_what_the_broker_says(site: Site) -> None:
    """Driven step by step with a clock of its own against the real broker: a cap on what one
    responder holds, a quarantine moved later by another responder, one ended by an operator."""
    clock = _Clock()
    admin = BrokerAdminSettings(
        url=site.broker.url,
        username="svc.quarantine",
        password=SecretStr(ADMINS["svc.quarantine"]),
        ca_file=site.tls.ca_file,
    )
    broker = DynsecAccounts(admin, topics=TOPICS)
    quarantine = Quarantine(
        broker, site.registry, period_s=60, max_active=1, sweep_interval_s=3600, clock_s=clock
    )
    first, second = DeviceId("cam-1"), DeviceId("cam-2")
    site.camera(first)
    site.camera(second)
    quarantine.request(first)
    quarantine.request(second)  # over max_active: refused
    assert quarantine.step() == pytest.approx(60, abs=1)
    assert list(quarantine.held()) == [first]
    assert broker.state(second) == AccountState(False, None)
    until = broker.state(first)
    assert until is not None
    assert until.quarantined_until is not None
    # Another responder quarantines it again, for longer: this one waits for that.
    broker.quarantine(first, until.quarantined_until + 100)
    clock.now += 61
    quarantine.step()
    assert quarantine.held() == {first: until.quarantined_until + 100}
    # An operator revokes it (the mark goes): nothing left to end, and it stays disabled.
    site.accounts.disable(first)
    clock.now += 100
    quarantine.step()
    assert quarantine.held() == {}
    assert broker.state(first) == AccountState(True, None)


def test_two_responders_of_one_group_do_not_fight(
    site: Site, start_responder: StartResponder, mqtt_client_factory: MqttProbeFactory
) -> None:
    # Both get a share of the flood, both may mute the camera and quarantine it (or one of
    # them loses its admin session to the other's, which is counted as failed); whichever
    # ends it first enables the account, the other then finds nothing left to do.
    first, second = start_responder(), start_responder()
    flooder = site.camera("flooder")
    flood = _Flood(_login(site, mqtt_client_factory, "flooder"), flooder)
    flood.start()
    assert flood.probe.disconnected.wait(15), "the broker never cut the flooding camera off"
    flood.join()
    assert _login(site, mqtt_client_factory, "flooder").connect().is_failure

    def back() -> bool:
        return not _login(site, mqtt_client_factory, "flooder").connect().is_failure

    _eventually(back, PERIOD_S + 10, "never re-enabled")
    _eventually(
        lambda: _count(first, "lifted") + _count(second, "lifted") >= 1, 5, "lift not counted"
    )
    assert site.accounts.state(DeviceId("flooder")) == AccountState(False, None)
