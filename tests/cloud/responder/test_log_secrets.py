"""A whole responder run, logged at DEBUG, never writes a secret; nothing is retained."""

from __future__ import annotations

import json
import logging
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.logs import JsonFormatter
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.protocol_client import Keys, ProtocolClient, make_request, open_sealed
from tests.cloud.responder.harness import LiveFactory


def _retained(broker: MosquittoProcess) -> list[str]:
    """Topics holding a retained message, collected behind a round-trip barrier."""
    seen: list[str] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="retained-probe")

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == "probe/barrier":
            done.set()
        elif msg.retain:
            seen.append(msg.topic)

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe([("ossmedia/#", 1), ("probe/barrier", 1)])
    client.publish("probe/barrier", b"x", qos=1).wait_for_publish(5)
    assert done.wait(5)
    client.disconnect()
    client.loop_stop()
    return seen


def test_logs_hold_no_secret(
    live_factory: LiveFactory,
    broad_role: str,
    client: ProtocolClient,
    emulator: EmulatorHandle,
    broker: MosquittoProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    live = live_factory(role_arn=broad_role, service={"log_level": "DEBUG"})
    secrets: set[str] = {
        emulator.access_key_secret,
        live.settings.registry.master_key.get_secret_value(),
    }  # type: ignore[union-attr]
    for n in range(3):
        device = f"cam-log{n}"
        device_secret = live.provision(device)
        secrets.add(device_secret)
        keys = Keys.from_secret(device_secret)
        for access in ("append", "read"):
            request = make_request(keys, device, access=access)
            reply = client.ask(device, request)
            creds = open_sealed(keys, reply.doc)["credentials"]
            secrets.update({creds["access_key_secret"], creds["security_token"]})
            client.ask(device, request)  # duplicate
        client.ask(device, make_request(keys, device, nonce=request["nonce"]))  # replay
        client.ask(device, make_request(Keys.from_secret(device_secret[::-1]), device))  # bad sig
    keys = Keys.from_secret(live.provision("cam-logx"))
    for faults in (
        {"rules": [{"operations": ["AssumeRole"], "throttle_rate": 1.0}]},
        {"rules": [{"operations": ["AssumeRole"], "error_rate": 1.0}]},
    ):
        emulator.set_faults(faults)
        assert client.ask("cam-logx", make_request(keys, "cam-logx")).doc["ok"] is False
    emulator.clear_faults()
    broken = live_factory(role_arn="acs:ram::1:role/missing", check_sts=False)
    keys_b = Keys.from_secret(broken.provision("cam-logy"))
    # Both responders share the broker but not the group's registry: whichever answers, it is
    # an error (unknown device or internal), and it gets logged.
    assert client.ask("cam-logy", make_request(keys_b, "cam-logy")).doc["ok"] is False

    formatter = JsonFormatter()
    text = "\n".join(
        formatter.format(r) + json.dumps(r.__dict__, default=str) for r in caplog.records
    )
    assert len(caplog.records) > 20  # the run was logged in detail
    assert "answered" in text
    leaked = [s for s in secrets if s and s in text]
    assert not leaked, f"{len(leaked)} secret(s) found in the logs"
    assert _retained(broker) == []
