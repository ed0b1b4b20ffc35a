"""The credential client against a scripted peer on real Mosquitto: one test per reaction."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from device.clock import AdjustedClock, ManualClock, SystemClock
from device.credentials import CredentialClient
from device.errors import CredentialDenied, CredentialsUnavailable, DeviceRejected
from device.mqtt import MqttLink
from device.settings import BrokerSettings, CredentialSettings
from schemas.keys import DeviceKeys, new_device_secret
from schemas.protocol import verify_request
from schemas.responses import ErrorCode
from schemas.topics import Topics
from simulator.broker import MosquittoProcess
from tests.device.scripted_responder import ScriptedResponder

DEVICE = "cam-cred"
HOUR_MS = 3_600_000


class Harness:
    def __init__(self, broker: MosquittoProcess, clock: AdjustedClock, **settings: object) -> None:
        self.keys = DeviceKeys.from_secret(new_device_secret())
        self.clock = clock
        self.sleeps: list[float] = []
        topics = Topics("ossmedia")
        self.responder = ScriptedResponder(broker, DEVICE, self.keys, now_ms=SystemClock().wall_ms)
        self.link = MqttLink(
            BrokerSettings(url=f"mqtt://{broker.host}:{broker.port}"),
            client_id=DEVICE,
            subscriptions=[topics.creds_res(DEVICE)],
            on_message=lambda t, p: self.client.handle_message(t, p),
        )
        self.client = CredentialClient(
            device_id=DEVICE,
            keys=self.keys,
            topics=topics,
            bus=self.link,
            clock=clock,
            settings=CredentialSettings.model_validate(
                {"request_timeout_s": 2.0, "retry_initial_s": 0.01, "retry_max_s": 30.0, **settings}
            ),
            sleep=self.sleeps.append,
        )
        self.link.start()
        assert self.link.wait_connected(10)

    def close(self) -> None:
        self.client.close()
        self.link.stop()
        self.responder.close()


@pytest.fixture
def harness(mosquitto: MosquittoProcess) -> Iterator[Harness]:
    h = Harness(mosquitto, AdjustedClock(SystemClock()))
    yield h
    h.close()


def test_success_is_opened_cached_and_requests_are_signed(harness: Harness) -> None:
    lease = harness.client.get()
    assert lease.grant.prefix == f"videos/{DEVICE}/"
    assert lease.credentials.access_key_id == "STS.key1"
    assert "secret1" not in repr(lease)
    assert harness.client.get() is lease  # cached: no second request
    assert len(harness.responder.seen) == 1
    request = harness.responder.seen[0].request
    assert verify_request(harness.keys, request)
    assert (request.access, request.duration_s) == ("append", 900)


def test_signed_clock_skew_adopts_server_time_and_retries_once(harness: Harness) -> None:
    server_time = SystemClock().wall_ms() + HOUR_MS
    harness.responder.script = [
        ScriptedResponder.error(ErrorCode.CLOCK_SKEW, server_time_ms=server_time)
    ]
    harness.client.get()
    assert abs(harness.clock.offset_ms - HOUR_MS) < 5_000
    first, second = harness.responder.seen
    assert second.request.issued_at_ms - first.request.issued_at_ms > HOUR_MS - 5_000
    assert harness.sleeps == []  # retried at once
    assert harness.client.stats.skew_adoptions == 1


def test_unsigned_clock_skew_is_never_adopted(harness: Harness) -> None:
    harness.responder.script = [
        ScriptedResponder.error(
            ErrorCode.CLOCK_SKEW, signed=False, server_time_ms=SystemClock().wall_ms() + HOUR_MS
        )
    ]
    harness.client.get()
    assert harness.clock.offset_ms == 0
    assert len(harness.sleeps) == 1  # only a backoff
    assert harness.client.stats.untrusted_replies == 1


def test_clock_skew_is_adopted_once_per_refresh(harness: Harness) -> None:
    later = SystemClock().wall_ms() + HOUR_MS
    harness.responder.script = [
        ScriptedResponder.error(ErrorCode.CLOCK_SKEW, server_time_ms=later),
        ScriptedResponder.error(ErrorCode.CLOCK_SKEW, server_time_ms=later + HOUR_MS),
    ]
    harness.client.get()
    assert abs(harness.clock.offset_ms - HOUR_MS) < 5_000
    assert len(harness.sleeps) == 1


@pytest.mark.parametrize(
    "code", [ErrorCode.RATE_LIMITED, ErrorCode.STS_THROTTLED, ErrorCode.UNAVAILABLE]
)
def test_throttling_waits_retry_after_plus_jitter(harness: Harness, code: ErrorCode) -> None:
    harness.responder.script = [ScriptedResponder.error(code, retry_after_ms=1500)]
    harness.client.get()
    (delay,) = harness.sleeps
    assert 1.5 <= delay <= 1.5 + 0.375 + 1e-9


@pytest.mark.parametrize("code", [ErrorCode.REVOKED, ErrorCode.UNKNOWN_DEVICE])
def test_signed_revocation_stops_for_good(harness: Harness, code: ErrorCode) -> None:
    harness.responder.script = [ScriptedResponder.error(code)]
    with pytest.raises(DeviceRejected) as info:
        harness.client.get()
    assert info.value.code == code.value
    assert "stopping" in info.value.message
    with pytest.raises(DeviceRejected):
        harness.client.get()
    assert len(harness.responder.seen) == 1  # no more requests once rejected


def test_unsigned_unknown_device_only_slows_down(harness: Harness) -> None:
    harness.responder.script = [ScriptedResponder.error(ErrorCode.UNKNOWN_DEVICE, signed=False)]
    assert harness.client.get().generation == 1
    assert harness.client.rejected is None
    assert len(harness.sleeps) == 1


def test_error_signed_with_another_key_is_untrusted(harness: Harness) -> None:
    stranger = DeviceKeys.from_secret(new_device_secret())
    harness.responder.script = [ScriptedResponder.error(ErrorCode.REVOKED, keys=stranger)]
    assert harness.client.get().generation == 1
    assert harness.client.rejected is None


@pytest.mark.parametrize(
    "code", [ErrorCode.BAD_SIGNATURE, ErrorCode.INVALID_REQUEST, ErrorCode.ACCESS_DENIED]
)
def test_refusals_raise_credential_denied(harness: Harness, code: ErrorCode) -> None:
    harness.responder.script = [ScriptedResponder.error(code)]
    with pytest.raises(CredentialDenied) as info:
        harness.client.get()
    assert info.value.code == code.value
    assert info.value.request_id == harness.responder.seen[0].request.request_id
    with pytest.raises(CredentialDenied):
        harness.client.get()  # refused again without asking during retry_max_s
    assert len(harness.responder.seen) == 1


@pytest.mark.parametrize("code", [ErrorCode.STS_UNAVAILABLE, ErrorCode.INTERNAL, ErrorCode.REPLAY])
def test_transient_errors_back_off_and_retry(harness: Harness, code: ErrorCode) -> None:
    harness.responder.script = [ScriptedResponder.error(code), ScriptedResponder.error(code)]
    assert harness.client.get().generation == 1
    assert len(harness.sleeps) == 2
    nonces = {seen.request.nonce for seen in harness.responder.seen}
    assert len(nonces) == 3  # every retry is a new request


def test_success_sealed_for_another_device_is_ignored(harness: Harness) -> None:
    stranger = DeviceKeys.from_secret(new_device_secret())
    harness.responder.script = [ScriptedResponder.forged_ok(stranger)]
    assert harness.client.get().credentials.access_key_id == "STS.key2"
    assert harness.client.stats.untrusted_replies == 1


def test_unanswered_request_is_asked_again(mosquitto: MosquittoProcess) -> None:
    h = Harness(mosquitto, AdjustedClock(SystemClock()), request_timeout_s=0.3)
    try:
        h.responder.script = [ScriptedResponder.silence]
        assert h.client.get(timeout=5).generation == 1
        assert h.client.stats.timeouts == 1
        ids = [seen.request.request_id for seen in h.responder.seen]
        assert len(set(ids)) == 2
    finally:
        h.close()


def test_no_answer_at_all_is_credentials_unavailable(mosquitto: MosquittoProcess) -> None:
    h = Harness(mosquitto, AdjustedClock(SystemClock()), request_timeout_s=0.2)
    try:
        h.responder.default = ScriptedResponder.silence
        with pytest.raises(CredentialsUnavailable):
            h.client.get(timeout=0.5)
    finally:
        h.close()


def test_concurrent_callers_share_one_request(harness: Harness) -> None:
    harness.responder.script = [ScriptedResponder.silence]  # keep the first flight waiting
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(harness.client.get(timeout=10)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert len(results) == 8
    assert {lease.generation for lease in results} == {1}
    assert len(harness.responder.seen) == 2  # the silent one and its single retry


def test_refresh_ahead_serves_current_lease_and_refreshes_in_background(
    mosquitto: MosquittoProcess,
) -> None:
    manual = ManualClock(wall_ms=SystemClock().wall_ms())
    h = Harness(mosquitto, AdjustedClock(manual))
    try:
        first = h.client.get()
        assert 0.75 * 900 <= first.refresh_mono - first.issued_mono <= 0.85 * 900
        manual.advance(0.5 * 900)
        assert h.client.get() is first
        assert len(h.responder.seen) == 1
        manual.advance(0.4 * 900)  # past the refresh point, still valid
        assert h.client.get() is first  # served at once, refresh runs behind
        assert h.responder.wait_requests(2)
        second = h.client.wait_generation(2, timeout=10)
        assert second is not None
        assert h.client.get() is second
        assert len(h.responder.seen) == 2
    finally:
        h.close()


def test_refresh_jitter_spreads_a_fleet(harness: Harness) -> None:
    points = set()
    for _ in range(5):
        lease = harness.client.force_refresh()
        points.add(round((lease.refresh_mono - lease.issued_mono) / 900, 4))
    assert len(points) > 1


def test_forced_refresh_once_per_stale_lease(harness: Harness) -> None:
    first = harness.client.get()
    second = harness.client.force_refresh(first)
    assert second.generation == 2
    # Another caller that saw the same rejected lease gets the new one without a request.
    assert harness.client.force_refresh(first) is second
    assert len(harness.responder.seen) == 2


def test_oss_provider_serves_current_credentials(harness: Harness) -> None:
    provider = harness.client.oss_provider()
    creds = provider.get_credentials()
    assert (creds.access_key_id, creds.security_token) == ("STS.key1", "token1")
    harness.client.force_refresh()
    assert provider.get_credentials().access_key_id == "STS.key2"
