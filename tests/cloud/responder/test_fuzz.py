"""Hostile input on the request topic never crashes the responder and never mints
credentials for a prefix other than the topic device's own.

Two layers: the pipeline with the real STS client against the emulator (many examples, fast),
then the running service over real Mosquitto (fewer examples), which must stay healthy and
account for every message it received.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.responder.app import build_pipeline, build_responder, wall_clock_ms
from cloud.responder.limiter import StsCallLimiter
from cloud.responder.metrics import Metrics
from cloud.responder.pipeline import Dropped, Pipeline, Reply
from cloud.responder.policy import object_resource
from cloud.responder.service import MAX_PACKET_BYTES
from cloud.responder.sts import StsClient, StsCredentials
from cloud.state import MemoryState
from schemas import CredsResponseOk, DeviceKeys, Topics, open_ok_response, parse_response
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.protocol_client import (
    Keys,
    ProtocolClient,
    encode,
    make_request,
    open_sealed,
    sign,
)
from tests.cloud.responder.harness import responder_settings

DEVICES = ("cam-fz1", "cam-fz2")
WEIRD_IDS = (
    "..",
    ".",
    "*",
    "cam-fz1*",
    "cam-fz?",
    "cam-fz1 ",
    " cam-fz1",
    "cam-fz1\n",
    "c",
    "",
    "cam-fz1/../cam-fz2",
    "\uff43\uff41\uff4d-fz1",
    "cam-fz1$",
    "${device_id}",
    "a" * 40,
    "cam_fz1",
    "CAM-FZ1",
)
# Topic levels a broker accepts (no wildcards, separators or control characters; a broker
# disconnects a client that publishes anything else).
TOPIC_IDS = (
    st.sampled_from(DEVICES)
    | st.sampled_from([w for w in WEIRD_IDS if w and w.isprintable() and "/" not in w])
    | st.text(
        alphabet=st.characters(blacklist_characters="+#/", blacklist_categories=("Cs", "Cc")),
        min_size=1,
        max_size=40,
    )
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = (
    "v",
    "kind",
    "device_id",
    "request_id",
    "issued_at_ms",
    "nonce",
    "access",
    "duration_s",
    "sig",
)


@dataclass
class Recording:
    """Wraps the real STS client and remembers every mint."""

    inner: StsClient
    minted: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def assume_role(self, *, session_name: str, policy: str, duration_s: int) -> StsCredentials:
        creds = self.inner.assume_role(
            session_name=session_name, policy=policy, duration_s=duration_s
        )
        with self.lock:
            self.minted.append((session_name, policy))
        return creds


@st.composite
def hostile(draw: st.DrawFn, secrets: dict[str, str]) -> tuple[str, bytes]:
    """A topic device id and a payload, from plain garbage to validly signed oddities."""
    topic_device = draw(st.sampled_from(DEVICES) | TOPIC_IDS)
    shape = draw(st.sampled_from(["bytes", "huge", "deep", "mutated", "resigned", "timestamp"]))
    if shape == "bytes":
        return topic_device, draw(st.binary(max_size=300))
    if shape == "huge":
        return topic_device, b'{"v":1,"pad":"' + b"x" * draw(st.integers(16_370, 40_000)) + b'"}'
    if shape == "deep":
        depth = draw(st.integers(5, 3000))
        return topic_device, ("[" * depth + "]" * depth).encode()
    signer = draw(st.sampled_from(DEVICES))
    keys = Keys.from_secret(secrets[signer])
    body_device = draw(st.sampled_from([signer, signer, topic_device, *WEIRD_IDS]))
    doc = make_request(keys, body_device, access=draw(st.sampled_from(["append", "write", "read"])))
    if shape == "timestamp":
        offsets = st.integers(-(10**12), 10**12) | st.integers(-400_000, 400_000)
        doc["issued_at_ms"] = wall_clock_ms() + draw(offsets)
    else:
        for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
            if draw(st.booleans()):
                doc[name] = draw(JSON_VALUES)
            else:
                doc.pop(name, None)
    if shape in {"resigned", "timestamp"}:
        # A valid signature over whatever the fields now say (when they can be joined).
        canonical = ["ossmedia/v1", "creds.request", *(str(doc.get(k)) for k in FIELDS[2:-1])]
        doc["sig"] = sign(keys.sign_key, canonical)
    return topic_device, encode(doc)


@pytest.fixture(scope="module")
def fuzz_rig(
    cloud_emulator: EmulatorHandle, broad_role: str
) -> Iterator[tuple[Pipeline, Recording, dict[str, str]]]:
    key = MasterKey.from_text(new_master_key())
    registry = Registry(open_store("sqlite://:memory:"), key)
    secrets = {d: registry.add(d)[1] for d in DEVICES}
    registry.add("cam-fz3")
    registry.revoke("cam-fz3")
    settings = responder_settings(
        _NoBroker(),
        cloud_emulator,
        Path("/nonexistent"),
        master_key=new_master_key(),
        role_arn=broad_role,
        limits={"device_requests_per_minute": 100000, "device_burst": 100000},
    )
    state = MemoryState()
    limiter = StsCallLimiter(
        state.rates, calls_per_second=1000, max_queue_ms=1000, clock_ms=wall_clock_ms
    )
    minter = Recording(StsClient(settings.sts, limiter=limiter))
    pipeline = build_pipeline(
        settings,
        state=state,
        registry=registry,
        minter=minter,
        cache_key=key.derive(b"cache"),
        metrics=Metrics(),
    )
    yield pipeline, minter, secrets
    registry.close()


class _NoBroker:
    url = "mqtt://127.0.0.1:1"


def _check(reply: Reply | Dropped, topic_device: str, secrets: dict[str, str]) -> None:
    if isinstance(reply, Dropped):
        return
    assert reply.device_id == topic_device
    assert reply.topic == Topics().creds_res(topic_device)
    resp = parse_response(reply.payload)
    assert resp.device_id == topic_device
    if isinstance(resp, CredsResponseOk):
        payload = open_ok_response(DeviceKeys.from_secret(secrets[topic_device]), resp)
        assert payload.grant.prefix == f"videos/{topic_device}/"


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_pipeline_never_crashes_and_never_widens_a_grant(
    fuzz_rig: tuple[Pipeline, Recording, dict[str, str]], data: st.DataObject
) -> None:
    pipeline, minter, secrets = fuzz_rig
    topic_device, payload = data.draw(hostile(secrets))
    reply = pipeline.handle(f"ossmedia/v1/{topic_device}/creds/req", payload)
    _check(reply, topic_device, secrets)
    for session, policy in minter.minted:
        assert session in DEVICES
        statements = json.loads(policy)["Statement"]
        assert [s["Resource"] for s in statements] == [
            [object_resource("ossmedia", f"videos/{session}/")]
        ]
        assert all(
            "oss:DeleteObject" not in s["Action"] and "oss:ListObjects" not in s["Action"]
            for s in statements
        )


def test_signed_request_of_one_device_on_another_topic_mints_nothing(
    fuzz_rig: tuple[Pipeline, Recording, dict[str, str]],
) -> None:
    pipeline, minter, secrets = fuzz_rig
    keys = Keys.from_secret(secrets["cam-fz2"])
    own = pipeline.handle(
        "ossmedia/v1/cam-fz2/creds/req", encode(make_request(keys, "cam-fz2", access="write"))
    )
    assert isinstance(own, Reply)
    assert own.outcome == "ok"
    _check(own, "cam-fz2", secrets)
    before = len(minter.minted)
    reply = pipeline.handle("ossmedia/v1/cam-fz1/creds/req", encode(make_request(keys, "cam-fz2")))
    assert isinstance(reply, Reply)
    assert reply.outcome == "invalid_request"
    assert len(minter.minted) == before


# -- the running service over MQTT --------------------------------------------------------


@dataclass
class Served:
    client: ProtocolClient
    secrets: dict[str, str]
    metrics: Metrics
    healthy: Any
    sent: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def served(
    mosquitto_module: MosquittoProcess,
    cloud_emulator: EmulatorHandle,
    broad_role: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    settings = responder_settings(
        mosquitto_module,
        cloud_emulator,
        tmp_path_factory.mktemp("fuzz"),
        master_key=new_master_key(),
        role_arn=broad_role,
        limits={"device_requests_per_minute": 100000, "device_burst": 100000},
    )
    responder = build_responder(settings)
    secrets = {d: responder.registry.add(d)[1] for d in DEVICES}
    responder.start()
    assert responder.service.wait_connected(10)
    client = ProtocolClient(mosquitto_module.host, mosquitto_module.port)
    yield Served(client, secrets, responder.metrics, responder.service.health)
    client.close()
    responder.stop()


def _packet_size(topic: str, payload: bytes) -> int:
    # The MQTT 5 PUBLISH the broker sends the responder: topic, packet id, empty properties.
    remaining = 2 + len(topic.encode()) + 2 + 1 + len(payload)
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16_384 else 3
    return 1 + length_bytes + remaining


def _handled(metrics: Metrics) -> float:
    total = metrics.dropped._value.get()
    for sample in metrics.requests.collect()[0].samples:
        if sample.name.endswith("_total"):
            total += sample.value
    return float(total)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_service_survives_hostile_topics_and_payloads(served: Served, data: st.DataObject) -> None:
    topic_device, payload = data.draw(hostile(served.secrets))
    served.client.publish(topic_device, payload)
    if _packet_size(f"ossmedia/v1/{topic_device}/creds/req", payload) <= MAX_PACKET_BYTES:
        served.sent.append(topic_device)  # larger ones the broker drops for the responder


def test_service_accounted_for_every_fuzz_message(served: Served) -> None:
    assert served.sent, "the fuzz test above must run first"
    deadline = time.monotonic() + 10
    while _handled(served.metrics) < len(served.sent) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _handled(served.metrics) == len(served.sent)
    healthy, details = served.healthy()
    assert healthy, details
    # It still answers a good request, and every success it ever sent is for its own topic.
    keys = Keys.from_secret(served.secrets["cam-fz1"])
    request = make_request(keys, "cam-fz1")
    index = served.client.count("cam-fz1")
    served.client.publish("cam-fz1", encode(request))
    # Answers to the last fuzz messages may still be on their way (they are counted when
    # published, not when received): skip to the answer to this request.
    reply = served.client.wait_reply("cam-fz1", index)
    while reply.doc.get("request_id") != request["request_id"]:
        index += 1
        reply = served.client.wait_reply("cam-fz1", index)
    assert reply.doc["ok"] is True, reply.doc.get("error")
    for device, deliveries in served.client.replies.items():
        for delivery in deliveries:
            doc = delivery.doc
            assert doc["device_id"] == device
            if doc["ok"]:
                assert device in DEVICES
                assert (
                    open_sealed(Keys.from_secret(served.secrets[device]), doc)["grant"]["prefix"]
                    == f"videos/{device}/"
                )
