"""Small pure parts: password hashes, cursors, timelines, settings, display filters."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.console import Console, RegistryDevices, hash_password, local_settings, verify_password
from cloud.console.cursors import CursorCodec
from cloud.console.errors import ConsoleConfigError, InvalidInputError
from cloud.console.ledger import Recording, SegmentFacts, Verification
from cloud.console.passwords import is_valid_hash
from cloud.console.settings import ConsoleSettings, OperatorAccount, SessionSettings, parse_settings
from cloud.console.timeline import build_timeline, day_bounds
from cloud.console.web.auth import Authenticator, Signer
from cloud.console.web.login_limits import LoginBusy
from cloud.registry import Registry
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.console.conftest import OPERATOR, PASSWORD, PASSWORD_HASH, login


def test_password_hash_round_trip() -> None:
    encoded = hash_password("hunter2 but longer", log2_n=10)
    assert encoded.startswith("scrypt$10$8$1$")
    assert verify_password("hunter2 but longer", encoded)
    assert not verify_password("hunter3 but longer", encoded)
    assert hash_password("same", log2_n=10) != hash_password("same", log2_n=10)  # salted


@pytest.mark.parametrize(
    "encoded",
    ["", "plain", "scrypt$10$8$1$c2FsdA$", "scrypt$99$8$1$c2FsdHNhbHQ$aGFzaA", "bcrypt$x$y$z$a$b"],
)
def test_malformed_hashes_never_verify(encoded: str) -> None:
    assert not is_valid_hash(encoded)
    assert not verify_password("anything", encoded)


def test_password_limits() -> None:
    with pytest.raises(ValueError, match="1 to 1024"):
        hash_password("")
    with pytest.raises(ValueError, match="1 to 1024"):
        hash_password("x" * 1025)
    assert not verify_password("x" * 2000, PASSWORD_HASH)


# Positions are device ids, event ids and times: short ASCII strings and integers.
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@given(
    st.lists(
        st.one_of(st.integers(-(2**62), 2**62), st.text(alphabet=ASCII, max_size=64)),
        max_size=3,
    )
)
def test_cursor_round_trip(position: list[int | str]) -> None:
    codec = CursorCodec(b"k" * 32)
    cursor = codec.encode("scope", position)
    assert codec.decode("scope", cursor) == position
    with pytest.raises(InvalidInputError):
        codec.decode("other-scope", cursor)
    with pytest.raises(InvalidInputError):
        CursorCodec(b"j" * 32).decode("scope", cursor)


def test_signer_rejects_tampering() -> None:
    signer = Signer(b"s" * 32)
    signed = signer.sign("session", "abc")
    assert signer.unsign("session", signed) == "abc"
    assert signer.unsign("login", signed) is None
    assert signer.unsign("session", "abd" + signed[3:]) is None
    assert signer.unsign("session", None) is None
    assert signer.unsign("session", "x" * 300) is None


def rec(start_ms: int, end_ms: int, n: int) -> Recording:
    facts = SegmentFacts(f"{n:032x}", "cam-1", n, f"videos/cam-1/{n}", 1, 1, start_ms, end_ms)
    return Recording(facts, 0, Verification.VERIFIED, "", None, None)


def test_timeline_gaps_merge_overlaps_and_stop_at_now() -> None:
    day = dt.date(2026, 1, 1)
    start, end = day_bounds(day)
    assert end - start == 86_400_000
    hour = 3_600_000
    recordings = [
        rec(start - 1000, start + hour, 1),  # began the day before: clipped
        rec(start + hour - 500, start + 2 * hour, 2),  # overlaps the first
        rec(start + 2 * hour + 1000, start + 3 * hour, 3),  # a 1 s boundary: not a gap
        rec(start + 5 * hour, start + 6 * hour, 4),
    ]
    timeline = build_timeline(day, recordings, now_ms=start + 8 * hour)
    assert timeline.recordings[0].start_ms == start
    assert [(g.start_ms - start, g.end_ms - start) for g in timeline.gaps] == [
        (3 * hour, 5 * hour),
        (6 * hour, 8 * hour),
    ]
    future = build_timeline(day, [], now_ms=start - 1)
    assert future.gaps == ()
    empty_past = build_timeline(day, [], now_ms=end + hour)
    assert [(g.start_ms, g.end_ms) for g in empty_past.gaps] == [(start, end)]


def base_settings() -> dict[str, object]:
    return {
        "operators": [{"username": "admin", "password_hash": PASSWORD_HASH}],
        "oss": {
            "endpoint": "http://127.0.0.1:1",
            "bucket": "b-1",
            "region": "cn-hangzhou",
            "access_key_id": "AK",
            "access_key_secret": "the-oss-secret",
        },
    }


def test_settings_hide_secrets() -> None:
    settings = parse_settings(base_settings())
    assert isinstance(settings, ConsoleSettings)
    text = repr(settings) + str(settings)
    assert "the-oss-secret" not in text
    assert PASSWORD_HASH not in text
    assert settings.oss.device_prefix("cam-1") == "videos/cam-1/"
    assert settings.oss.fleet_prefix == "videos/"


@pytest.mark.parametrize(
    ("section", "values", "field"),
    [
        ("oss", {"key_prefix_template": "videos/"}, "key_prefix_template"),
        ("oss", {"key_prefix_template": "../{device_id}/"}, "key_prefix_template"),
        ("session", {"secret": "tiny-secret"}, "secret"),
        ("http", {"port": 70000}, "port"),
    ],
)
def test_invalid_settings_name_the_field(
    section: str, values: dict[str, object], field: str
) -> None:
    data = base_settings()
    data[section] = {**data.get(section, {}), **values}  # type: ignore[dict-item]
    with pytest.raises(ConsoleConfigError, match=field) as caught:
        parse_settings(data)
    assert "tiny-secret" not in str(caught.value)  # values are never echoed


def test_operators_are_required_and_checked() -> None:
    data = base_settings()
    data["operators"] = []
    with pytest.raises(ConsoleConfigError, match="operators"):
        parse_settings(data)
    data["operators"] = [{"username": "<script>", "password_hash": PASSWORD_HASH}]
    with pytest.raises(ConsoleConfigError, match="username"):
        parse_settings(data)


def test_local_settings_start_a_console_one_can_log_in_to(
    console_emulator: EmulatorHandle, registry: Registry
) -> None:
    settings = local_settings(
        oss_endpoint=console_emulator.oss_endpoint,
        bucket=console_emulator.bucket,
        region=console_emulator.region,
        access_key_id=console_emulator.access_key_id,
        access_key_secret=console_emulator.access_key_secret,
        mqtt_host="127.0.0.1",
        mqtt_port=1,  # nothing listens: the console starts anyway and keeps retrying
        password="demo password",
    )
    with Console(settings, devices=RegistryDevices(registry)) as console:
        url = console.start()
        with httpx.Client(base_url=url) as http:
            login(http, "admin", "demo password")
            assert http.get("/api/cameras").status_code == 200


def test_lockout_holds_for_the_guessing_address_only() -> None:
    now = [1_000.0]
    auth = Authenticator(
        (OperatorAccount(username=OPERATOR, password_hash=PASSWORD_HASH),),
        SessionSettings(max_login_failures=3, lockout_s=60),
        clock=lambda: now[0],
    )
    for _ in range(3):
        assert not auth.check(OPERATOR, "wrong", "203.0.113.9")
    assert auth.locked_out(OPERATOR, "203.0.113.9")
    assert not auth.check(OPERATOR, PASSWORD, "203.0.113.9")  # right password, still locked
    # The operator at another address is not locked out by someone else's guesses.
    assert not auth.locked_out(OPERATOR, "198.51.100.7")
    assert auth.check(OPERATOR, PASSWORD, "198.51.100.7")
    now[0] += 61
    assert auth.check(OPERATOR, PASSWORD, "203.0.113.9")


class _CountingVerify:
    """The real scrypt check, counting how many run at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0

    def __call__(self, password: str, encoded: str) -> bool:
        with self._lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)
        try:
            return verify_password(password, encoded)
        finally:
            with self._lock:
                self.running -= 1


def test_a_login_flood_is_bounded_and_the_operator_still_signs_in() -> None:
    # 48 threads x 3 attempts with random user names, each thread from its own address (a
    # distributed flood; one address alone is stopped by its own bucket at once).
    now = [1_000.0]
    verify = _CountingVerify()
    settings = SessionSettings()
    auth = Authenticator(
        (OperatorAccount(username=OPERATOR, password_hash=PASSWORD_HASH),),
        settings,
        clock=lambda: now[0],
        verify=verify,
    )
    assert auth.admit("198.51.100.7") is None
    assert auth.check(OPERATOR, PASSWORD, "198.51.100.7")  # the operator's usual address
    refused: list[int] = []
    lock = threading.Lock()

    def attacker(n: int) -> None:
        client = f"203.0.113.{n}"
        for _ in range(3):
            retry = auth.admit(client)
            if retry is not None:
                with lock:
                    refused.append(retry)
                continue
            try:
                assert not auth.check(f"user-{uuid.uuid4().hex}", "guess", client)
            except LoginBusy as exc:
                with lock:
                    refused.append(exc.retry_after_s)

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(48)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert verify.peak <= settings.max_concurrent_password_checks
    assert verify.calls <= 1 + settings.login_global_burst  # the rest never reached scrypt
    assert len(refused) >= 48 * 3 - settings.login_global_burst
    assert all(retry >= 1 for retry in refused)
    # The global budget is spent, but not for the address the operator signed in from.
    assert auth.admit("203.0.113.250") is not None
    assert auth.admit("198.51.100.7") is None
    assert auth.check(OPERATOR, PASSWORD, "198.51.100.7")


def test_one_address_is_refused_with_retry_after() -> None:
    now = [1_000.0]
    auth = Authenticator(
        (OperatorAccount(username=OPERATOR, password_hash=PASSWORD_HASH),),
        SessionSettings(login_attempts_per_address_per_minute=6, login_burst=2),
        clock=lambda: now[0],
    )
    assert auth.admit("203.0.113.9") is None
    assert auth.admit("203.0.113.9") is None
    assert auth.admit("203.0.113.9") == 10  # one attempt per 10 s after the burst
    assert auth.admit("198.51.100.7") is None  # other addresses are unaffected
    now[0] += 10
    assert auth.admit("203.0.113.9") is None


def test_unknown_and_known_users_cost_the_same_check() -> None:
    seen: list[str] = []

    def spy(password: str, encoded: str) -> bool:
        seen.append(encoded.rsplit("$", 2)[0])  # the scrypt parameters, not salt or hash
        return verify_password(password, encoded)

    auth = Authenticator(
        (OperatorAccount(username=OPERATOR, password_hash=PASSWORD_HASH),),
        SessionSettings(),
        clock=lambda: 1_000.0,
        verify=spy,
    )
    assert not auth.check(OPERATOR, "wrong", "203.0.113.1")
    assert not auth.check("nobody", PASSWORD, "203.0.113.2")
    assert seen == [PASSWORD_HASH.rsplit("$", 2)[0]] * 2
