"""The MQTT service: protocol versions, TLS, reconnect, graceful shutdown, single flight,
metrics and health."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.registry import new_master_key
from cloud.responder.app import Responder, build_responder
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.protocol_client import Keys, ProtocolClient, make_request, open_sealed
from tests.cloud.responder.harness import Live, LiveFactory, responder_settings
from tests.fixtures.broker import BrokerTls, MosquittoFactory


def _http(port: int, path: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def responders() -> Iterator[list[Responder]]:
    started: list[Responder] = []
    yield started
    for responder in started:
        responder.stop()


def _start(
    started: list[Responder],
    mqtt_broker: MosquittoProcess,
    emulator: EmulatorHandle,
    tmp_path: Path,
    /,
    **sections: object,
) -> Responder:
    settings = responder_settings(
        mqtt_broker, emulator, tmp_path, master_key=new_master_key(), **sections
    )  # type: ignore[arg-type]
    responder = build_responder(settings)
    responder.start()
    started.append(responder)
    assert responder.service.wait_connected(10)
    return responder


def test_mqtt_311_without_shared_subscription(
    live_factory: LiveFactory, broker: MosquittoProcess
) -> None:
    live = live_factory(broker={"protocol": "3.1.1", "shared_group": ""})
    probe = ProtocolClient(broker.host, broker.port, v5=False)
    try:
        keys = Keys.from_secret(live.provision("cam-v311"))
        reply = probe.ask("cam-v311", make_request(keys, "cam-v311"))
        assert reply.doc["ok"] is True
        assert reply.retain is False
        assert reply.expiry is None  # no message expiry on MQTT 3.1.1
    finally:
        probe.close()


def test_mutual_tls(
    mosquitto_factory: MosquittoFactory,
    broker_tls: BrokerTls,
    emulator: EmulatorHandle,
    tmp_path: Path,
    responders: list[Responder],
) -> None:
    broker = mosquitto_factory(tls=broker_tls.server_settings(require_certificate=True))
    assert broker.url.startswith("mqtts://")
    cert = broker_tls.clients["svc.responder"]
    responder = _start(
        responders,
        broker,
        emulator,
        tmp_path,
        broker={
            "ca_file": str(broker_tls.ca_file),
            "cert_file": str(cert.certfile),
            "key_file": str(cert.keyfile),
        },
    )
    keys = Keys.from_secret(responder.registry.add("cam-tls1")[1])
    cam = broker_tls.clients["cam-a"]
    probe = ProtocolClient(
        broker.host,
        broker.port,
        ca_file=str(broker_tls.ca_file),
        cert=(str(cam.certfile), str(cam.keyfile)),
    )
    try:
        assert probe.ask("cam-tls1", make_request(keys, "cam-tls1")).doc["ok"] is True
    finally:
        probe.close()


def test_reconnects_and_resubscribes_after_a_broker_restart(
    mosquitto: MosquittoProcess,
    emulator: EmulatorHandle,
    tmp_path: Path,
    responders: list[Responder],
) -> None:
    responder = _start(
        responders,
        mosquitto,
        emulator,
        tmp_path,
        broker={"reconnect_initial_s": 0.05, "reconnect_max_s": 0.2},
    )
    keys = Keys.from_secret(responder.registry.add("cam-rc1")[1])
    mosquitto.restart()
    assert responder.service.wait_connected(10)
    probe = ProtocolClient(mosquitto.host, mosquitto.port)
    try:
        assert probe.ask("cam-rc1", make_request(keys, "cam-rc1")).doc["ok"] is True
    finally:
        probe.close()


def test_graceful_shutdown_answers_requests_in_flight(
    broker: MosquittoProcess,
    emulator: EmulatorHandle,
    tmp_path: Path,
    broad_role: str,
    responders: list[Responder],
) -> None:
    # A group of its own: no other responder on this module's broker may take a request.
    responder = _start(
        responders,
        broker,
        emulator,
        tmp_path,
        role_arn=broad_role,
        broker={"shared_group": "graceful-shutdown"},
        # Six simultaneous STS calls must all be admitted (90/s with a 50 ms queue admits 5).
        limits={"sts_calls_per_second": 1000.0},
    )
    devices = [f"cam-gs{n}" for n in range(6)]
    keys = {d: Keys.from_secret(responder.registry.add(d)[1]) for d in devices}
    probe = ProtocolClient(broker.host, broker.port)
    emulator.set_faults({"rules": [{"operations": ["AssumeRole"], "latency_ms": 400}]})
    try:
        for device in devices:
            probe.publish(device, json.dumps(make_request(keys[device], device)).encode())
        # Stop while the slow STS calls are running: every request must still be answered.
        deadline = time.monotonic() + 5
        while responder.service.health()[1]["in_flight"] < 6:
            assert time.monotonic() < deadline, "the requests did not arrive"
            time.sleep(0.005)
        responder.stop()
        for device in devices:
            reply = probe.wait_reply(device, 0)
            assert open_sealed(keys[device], reply.doc)["grant"]["prefix"] == f"videos/{device}/"
        healthy, details = responder.service.health()
        assert not healthy
        assert details["in_flight"] == 0
    finally:
        probe.close()


def test_concurrent_identical_requests_share_one_sts_call(
    live: Live, client: ProtocolClient, emulator: EmulatorHandle
) -> None:
    keys = Keys.from_secret(live.provision("cam-sf1"))
    emulator.set_faults({"rules": [{"operations": ["AssumeRole"], "latency_ms": 300}]})
    requests = [make_request(keys, "cam-sf1") for _ in range(5)]
    threads = [
        threading.Thread(target=client.publish, args=("cam-sf1", json.dumps(r).encode()))
        for r in requests
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    replies = [client.wait_reply("cam-sf1", i) for i in range(5)]
    key_ids = {open_sealed(keys, r.doc)["credentials"]["access_key_id"] for r in replies}
    assert len(key_ids) == 1
    metrics = live.responder.metrics
    assert metrics.sts_calls.labels(outcome="ok")._value.get() == 1
    assert metrics.coalesced._value.get() + metrics.cache_hits._value.get() == 4
    assert metrics.coalesced._value.get() >= 1


def test_metrics_and_health_endpoints(live: Live, client: ProtocolClient) -> None:
    keys = Keys.from_secret(live.provision("cam-met1"))
    client.ask("cam-met1", make_request(keys, "cam-met1"))
    client.ask("cam-met1", make_request(keys, "cam-met1"))
    client.ask("cam-met1", b"junk")
    http = live.responder.http
    assert http is not None
    status, body = _http(http.port, "/healthz")
    assert status == 200
    assert json.loads(body)["broker_connected"] is True
    status, body = _http(http.port, "/metrics")
    text = body.decode()
    assert status == 200
    assert 'ossmedia_responder_requests_total{outcome="ok"} 2.0' in text
    assert 'ossmedia_responder_requests_total{outcome="invalid_request"} 1.0' in text
    assert 'ossmedia_responder_sts_calls_total{outcome="ok"} 1.0' in text
    assert "ossmedia_responder_cache_hits_total 1.0" in text
    assert "ossmedia_responder_coalesced_total" in text
    assert "ossmedia_responder_request_seconds_bucket" in text
    assert _http(http.port, "/nope")[0] == 404
    live.responder.service.stop(1)
    assert _http(http.port, "/healthz")[0] == 503


def test_the_broker_never_hands_the_responder_an_oversized_packet(
    live: Live, broker: MosquittoProcess
) -> None:
    # This broker sets no max_packet_size; the responder's own Maximum Packet Size (MQTT 5)
    # makes the broker drop the 1 MB publish for it instead of delivering it.
    probe = ProtocolClient(broker.host, broker.port)
    try:
        keys = Keys.from_secret(live.provision("cam-big"))
        probe.publish("cam-big", b"x" * 1_000_000)
        reply = probe.ask("cam-big", make_request(keys, "cam-big"))
        assert reply.doc["ok"] is True  # the first reply: nothing answered the big one
        assert probe.count("cam-big") == 1
    finally:
        probe.close()
