"""Faults carried out over real HTTP, against a stand-in OSS app (so only the server is tested)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import httpx
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from simulator.emulator.handle import EmulatorHandle
from tests.simulator.emulator.standin import StandInOss

Start = Callable[..., EmulatorHandle]
CONNECTION_ERRORS = (
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.ConnectError,
    httpx.WriteError,
)


@pytest.fixture
def standin() -> StandInOss:
    return StandInOss()


@pytest.fixture
def server(make_emulator: Start, standin: StandInOss) -> EmulatorHandle:
    return make_emulator(oss_factory=standin.factory)


def append(handle: EmulatorHandle, body: bytes = b"0123456789") -> httpx.Response:
    return httpx.post(f"{handle.oss_endpoint}/ossmedia/cam/x.ts?append&position=0", content=body)


def assume(handle: EmulatorHandle) -> None:
    client = AcsClient(handle.access_key_id, handle.access_key_secret, handle.region,
                       proxy={"http": None, "https": None})  # fmt: skip
    request = AssumeRoleRequest()
    request.set_RoleArn(handle.role_arn)
    request.set_RoleSessionName("cam-0001")
    request.set_endpoint(handle.sts_endpoint)
    client.do_action_with_exception(request)


def test_default_bucket_is_created_for_the_default_account(
    server: EmulatorHandle, standin: StandInOss
) -> None:
    assert standin.buckets == [("ossmedia", "1000000000000001")]


def test_no_faults_passes_through(server: EmulatorHandle, standin: StandInOss) -> None:
    assert append(server).headers["x-oss-next-append-position"] == "10"
    assert standin.applied == [("POST", "/ossmedia/cam/x.ts", b"0123456789")]
    assert server.stats()["requests"] == {"AppendObject": {"200": 1}}


@pytest.mark.parametrize(("status", "code"), [(503, "ServiceUnavailable"), (500, "InternalError")])
def test_error_rate_answers_oss_xml_without_applying(
    server: EmulatorHandle, standin: StandInOss, status: int, code: str
) -> None:
    server.set_faults(
        {"rules": [{"operations": ["AppendObject"], "error_rate": 1, "error_status": status}]}
    )
    reply = append(server, b"x" * 300_000)  # a body the client is still sending
    assert reply.status_code == status
    assert f"<Code>{code}</Code>" in reply.text
    assert reply.headers["content-type"] == "application/xml"
    assert len(reply.headers["x-oss-request-id"]) == 24
    assert standin.applied == []
    assert server.faults()["injected"] == {"AppendObject": {"error": 1}}
    assert server.stats()["requests"] == {"AppendObject": {"error": 1}}
    httpx.put(f"{server.oss_endpoint}/ossmedia/other", content=b"y")  # other operations pass
    assert len(standin.applied) == 1


def test_head_error_carries_the_document_in_x_oss_err(server: EmulatorHandle) -> None:
    server.set_faults({"rules": [{"operations": ["HeadObject"], "error_rate": 1}]})
    reply = httpx.head(f"{server.oss_endpoint}/ossmedia/k")
    assert reply.status_code == 503
    assert reply.content == b""
    assert b"<Code>ServiceUnavailable</Code>" in base64.b64decode(reply.headers["x-oss-err"])


def test_reset_before_applying(server: EmulatorHandle, standin: StandInOss) -> None:
    server.set_faults({"rules": [{"operations": ["AppendObject"], "reset_rate": 1}]})
    with pytest.raises(CONNECTION_ERRORS):
        append(server)
    assert standin.applied == []
    assert server.stats()["requests"] == {"AppendObject": {"reset": 1}}


def test_lost_response_applies_then_drops_the_connection(
    server: EmulatorHandle, standin: StandInOss
) -> None:
    server.set_faults({"rules": [{"operations": ["AppendObject"], "lost_response_rate": 1}]})
    with pytest.raises(CONNECTION_ERRORS):
        append(server)
    assert standin.applied == [("POST", "/ossmedia/cam/x.ts", b"0123456789")]
    assert server.faults()["injected"] == {"AppendObject": {"lost_response": 1}}


def test_latency_is_added(server: EmulatorHandle) -> None:
    server.set_faults(
        {"rules": [{"operations": ["AppendObject"], "latency_ms": 300, "jitter_ms": 20}]}
    )
    started = time.perf_counter()
    assert append(server).status_code == 200
    assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize(
    ("mode", "outcome"), [("error", "outage_error"), ("reset", "outage_reset")]
)
def test_outage_window_fails_oss_fast_and_ends(
    server: EmulatorHandle, standin: StandInOss, mode: str, outcome: str
) -> None:
    server.set_faults({"outages": [{"after_s": 60, "duration_s": 30, "mode": mode}]})
    assert append(server).status_code == 200
    server.advance_clock(60)
    if mode == "error":
        assert append(server).status_code == 503
    else:
        with pytest.raises(CONNECTION_ERRORS):
            append(server)
    assume(server)  # STS stays up
    server.advance_clock(30)
    assert append(server).status_code == 200
    assert len(standin.applied) == 2
    assert server.stats()["requests"]["AppendObject"] == {"200": 2, outcome: 1}


@pytest.mark.parametrize(
    ("rule", "code", "status"),
    [
        ({"throttle_rate": 1}, "Throttling.User", 400),
        ({"error_rate": 1, "error_status": 500}, "InternalError", 500),
        ({"error_rate": 1, "error_status": 503}, "ServiceUnavailable", 503),
    ],
)
def test_sts_faults_reach_the_sdk_as_server_errors(
    server: EmulatorHandle, rule: dict[str, object], code: str, status: int
) -> None:
    server.set_faults({"rules": [{"operations": ["AssumeRole"], **rule}]})
    with pytest.raises(ServerException) as info:
        assume(server)
    assert (info.value.get_error_code(), info.value.get_http_status()) == (code, status)


def test_faults_file_at_start(make_emulator: Start, standin: StandInOss) -> None:
    handle = make_emulator(
        oss_factory=standin.factory, faults={"seed": 3, "rules": [{"error_rate": 1}]}
    )
    assert append(handle).status_code == 503
    assert handle.faults()["config"]["seed"] == 3


def test_access_log_has_no_credentials(
    make_emulator: Start, standin: StandInOss, caplog: pytest.LogCaptureFixture
) -> None:
    handle = make_emulator(oss_factory=standin.factory, access_log=True)
    caplog.set_level("INFO", logger="simulator.emulator.access")
    token = "CAIS+secret/token=="
    httpx.get(
        f"{handle.oss_endpoint}/ossmedia/k",
        params={"OSSAccessKeyId": "STS.x", "Signature": "c2lnbmF0dXJl", "security-token": token},
        headers={"Authorization": "OSS STS.x:c2lnbmF0dXJl", "x-oss-security-token": token},
    )
    assume(handle)
    # The server logs a request after sending its response: wait for the line, not the reply.
    deadline = time.monotonic() + 15.0
    while "AssumeRole 200" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    # Only the emulator's own lines: the test's HTTP client logs its request URL too when an
    # earlier test left the root logger at INFO.
    text = "\n".join(
        f"{r.name} {r.getMessage()}" for r in caplog.records if r.name.startswith("simulator.")
    )
    assert "GET /ossmedia/k?OSSAccessKeyId=STS.x&Signature=***&security-token=***" in text
    assert "AssumeRole 200" in text
    for secret in ("c2lnbmF0dXJl", "CAIS", handle.access_key_secret, "Authorization"):
        assert secret not in text
    assert json.dumps(text)  # plain text lines
