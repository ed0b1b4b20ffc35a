"""MediaFile modes (r, w, a, aw) and exactly-once appends under the emulator's faults."""

from __future__ import annotations

import io
import os

import pytest

from device.appender import Appender, AppendState, Outcome, decide_outcome
from device.crc64 import crc64
from device.errors import (
    AccessDenied,
    AppendDiverged,
    FileClosedError,
    ModeError,
    ObjectExists,
    ObjectNotAppendable,
    ObjectNotFound,
    TransientStorageError,
)
from device.media_file import MediaFile
from device.settings import AppendRetrySettings
from device.store import ObjectInfo
from simulator.emulator.handle import EmulatorHandle
from tests.device.stores import RotatingCameraCredentials, camera_store, root_store

PREFIX = "videos/cam-test/"
RETRY = AppendRetrySettings(attempts=20, initial_s=0.001, max_s=0.01)


def no_sleep(seconds: float) -> None:
    del seconds


# -- modes ------------------------------------------------------------------------------


def test_w_puts_the_whole_object_on_close_and_never_replaces(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "snapshot.jpg"
    with MediaFile(store, key, "w") as f:
        assert f.write(b"first ") == 6
        f.write(b"version")
        assert f.tell() == 13
        assert store.head(key) is None  # nothing stored before close
        f.flush()
    # close() put the same bytes again after flush(): recognised as stored, not an error
    with pytest.raises(ObjectExists), MediaFile(store, key, "w") as f:
        f.write(b"second")
    info = MediaFile(store, key, "r").stat()
    assert (info.size, info.object_type, info.crc64) == (13, "Normal", crc64(b"first version"))


def test_w_cannot_overwrite_an_appended_recording(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "rec.mp4"
    with MediaFile(store, key, "a") as f:
        f.write(b"recording " * 100)
    with pytest.raises(ObjectExists), MediaFile(store, key, "w") as f:
        f.write(b"oops")
    assert MediaFile(store, key, "r").stat().size == 1000


def test_w_does_not_publish_a_half_written_object_on_error(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "half.jpg"

    def record() -> None:
        with MediaFile(store, key, "w") as f:
            f.write(b"partial")
            raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        record()
    assert store.head(key) is None


def test_r_reads_ranges_and_seeks(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "clip.mp4"
    data = os.urandom(10_000)
    store.append(key, 0, data)
    f = MediaFile(store, key, "r")
    assert f.read(100) == data[:100]
    assert f.tell() == 100
    assert f.seek(5000) == 5000
    assert f.read(10) == data[5000:5010]
    assert f.seek(-10, io.SEEK_CUR) == 5000
    assert f.seek(-3, io.SEEK_END) == 9997
    assert f.read() == data[-3:]
    assert f.read(10) == b""  # at the end
    f.seek(20_000)
    assert f.read(10) == b""  # past the end: no request for a range OSS would ignore
    f.seek(0)
    assert f.read() == data
    with pytest.raises(ModeError):
        f.seek(-1)
    with pytest.raises(ModeError):
        f.write(b"x")


def test_r_on_missing_object(emulator: EmulatorHandle) -> None:
    with pytest.raises(ObjectNotFound) as info:
        MediaFile(camera_store(emulator, PREFIX), PREFIX + "missing.mp4", "r")
    assert info.value.object_key == PREFIX + "missing.mp4"


def test_a_creates_then_continues(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "rec.mp4"
    with MediaFile(store, key, "a") as f:
        f.write(b"part one, ")
        assert f.tell() == 10
    with MediaFile(store, key, "a") as f:
        assert f.tell() == 10
        f.write(b"part two")
        assert f.state == AppendState(18, crc64(b"part one, part two"))
        with pytest.raises(ModeError):
            f.read()
        with pytest.raises(ModeError):
            f.seek(0)
    assert MediaFile(store, key, "r").read() == b"part one, part two"


def test_a_refuses_a_normal_object(emulator: EmulatorHandle) -> None:
    key = PREFIX + "normal.jpg"
    root_store(emulator).put(key, b"jpeg")
    with pytest.raises(ObjectNotAppendable):
        MediaFile(camera_store(emulator, PREFIX), key, "a")


def test_aw_needs_a_fresh_key_because_cameras_cannot_delete(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "fresh.mp4"
    with MediaFile(store, key, "aw") as f:
        f.write(b"new recording")
    with pytest.raises(ObjectExists) as info:
        MediaFile(store, key, "aw")
    assert info.value.position == 13
    with pytest.raises(AccessDenied):
        MediaFile(store, key, "r").delete()


def test_delete_works_where_credentials_allow(emulator: EmulatorHandle) -> None:
    store = root_store(emulator)
    key = PREFIX + "deletable.mp4"
    store.append(key, 0, b"x")
    f = MediaFile(store, key, "a")
    f.delete()
    assert f.closed
    assert store.head(key) is None
    with pytest.raises(FileClosedError):
        f.write(b"y")


def test_mode_errors(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    with pytest.raises(ModeError):
        MediaFile(store, PREFIX + "x", "rw")  # type: ignore[arg-type]
    with pytest.raises(ModeError):
        MediaFile(store, PREFIX + "x", "aw", resume=AppendState(0, 0))
    f = MediaFile(store, PREFIX + "x", "w")
    f.close()
    f.close()  # closing twice is fine
    with pytest.raises(FileClosedError):
        f.write(b"x")
    with pytest.raises(FileClosedError):
        f.tell()


# -- exactly once -------------------------------------------------------------------------


def test_append_applied_but_response_lost_lands_exactly_once(emulator: EmulatorHandle) -> None:
    """Issue test 1: the emulator applies appends and then drops the connection."""
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "lossy.mp4"
    emulator.set_faults(
        {"seed": 3, "rules": [{"operations": ["AppendObject"], "lost_response_rate": 0.5}]}
    )
    chunks = [os.urandom(4096 + i) for i in range(30)]
    f = MediaFile(store, key, "a", retry=RETRY, sleep=no_sleep)
    for chunk in chunks:
        f.write(chunk)
    emulator.clear_faults()

    assert store.get(key) == b"".join(chunks)
    injected = emulator.faults()["injected"]["AppendObject"]["lost_response"]
    assert injected >= 5
    # Every lost response was resolved by HEAD as "landed"; nothing was sent twice.
    assert f.reconciliations[Outcome.LANDED] == injected
    assert f.reconciliations[Outcome.DIVERGED] == 0


def test_5xx_and_resets_retry_to_the_same_result(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "flaky.mp4"
    emulator.set_faults(
        {"seed": 5, "rules": [{"operations": ["AppendObject", "HeadObject"], "error_rate": 0.2,
                               "reset_rate": 0.1, "lost_response_rate": 0.1}]}
    )  # fmt: skip
    chunks = [os.urandom(1000) for _ in range(40)]
    f = MediaFile(store, key, "a", retry=RETRY, sleep=no_sleep)
    for chunk in chunks:
        f.write(chunk)
    emulator.clear_faults()
    info = store.head(key)
    assert info is not None
    assert (info.size, info.crc64) == (40_000, crc64(b"".join(chunks)))


def test_retries_are_bounded_and_leave_the_state_unchanged(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "down.mp4"
    f = MediaFile(store, key, "a", retry=AppendRetrySettings(attempts=3, initial_s=0.001))
    f.write(b"before")
    emulator.set_faults({"outages": [{"mode": "error"}]})
    slept: list[float] = []
    g = MediaFile(store, key, "a", retry=RETRY.model_copy(update={"attempts": 4}),
                  sleep=slept.append, resume=f.state)  # fmt: skip
    with pytest.raises(TransientStorageError):
        g.write(b"during outage")
    assert len(slept) == 3
    assert all(0 <= s <= RETRY.max_s for s in slept)
    assert g.state == AppendState(6, crc64(b"before"))
    emulator.clear_faults()
    g.write(b" after")  # the same file object goes on exactly where it was
    assert store.get(key) == b"before after"


def test_stale_resume_state_is_reconciled_not_duplicated(emulator: EmulatorHandle) -> None:
    """A restart whose journal is one append behind (the crash came after the append)."""
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "resume.mp4"
    f = MediaFile(store, key, "a")
    f.write(b"journaled ")
    journaled = f.state
    f.write(b"not yet journaled")
    resumed = MediaFile(store, key, "a", resume=journaled, retry=RETRY, sleep=no_sleep)
    resumed.write(b"not yet journaled")  # replayed from the spool after the crash
    assert store.get(key) == b"journaled not yet journaled"
    assert resumed.reconciliations[Outcome.LANDED] == 1


def test_diverged_object_is_never_appended_over(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    key = PREFIX + "tampered.mp4"
    f = MediaFile(store, key, "a")
    f.write(b"ours")
    store.append(key, 4, b"someone else's")  # another writer moved the object on
    with pytest.raises(AppendDiverged) as info:
        f.write(b"more")
    assert (info.value.object_key, info.value.position) == (key, 4)
    assert store.get(key) == b"ours" + b"someone else's"


def test_auth_error_refreshes_once_and_appends_at_the_same_position(
    emulator: EmulatorHandle,
) -> None:
    emulator.admin.call("POST", "/clock", {"offset_s": -700})
    credentials = RotatingCameraCredentials(emulator, PREFIX)
    store = camera_store(emulator, PREFIX, credentials)
    key = PREFIX + "expiring.mp4"
    f = MediaFile(store, key, "a", refresh_credentials=credentials.refresh)
    f.write(b"before expiry, ")
    emulator.admin.call("POST", "/clock", {"offset_s": 250})  # the token is now expired
    f.write(b"after refresh")
    assert credentials.refreshes == 1
    assert store.get(key) == b"before expiry, after refresh"


def test_decide_outcome_table() -> None:
    before, after = AppendState(10, 111), AppendState(20, 222)

    def info(size: int, crc: int | None, kind: str = "Appendable") -> ObjectInfo:
        return ObjectInfo("k", size, crc, kind, "", 0, "", "")

    assert decide_outcome(info(20, 222), before, after) is Outcome.LANDED
    assert decide_outcome(info(10, 111), before, after) is Outcome.NOT_LANDED
    assert decide_outcome(info(20, 999), before, after) is Outcome.DIVERGED
    assert decide_outcome(info(10, 999), before, after) is Outcome.DIVERGED
    assert decide_outcome(info(15, None), before, after) is Outcome.DIVERGED
    assert decide_outcome(info(20, 222, "Normal"), before, after) is Outcome.DIVERGED
    assert decide_outcome(None, before, after) is Outcome.DIVERGED
    assert decide_outcome(None, AppendState(0, 0), after) is Outcome.NOT_LANDED


def test_empty_append_sends_nothing(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX)
    appender = Appender(store, PREFIX + "e", AppendState(0, 0), retry=RETRY, sleep=no_sleep)
    assert appender.append(b"") == AppendState(0, 0)
    assert store.head(PREFIX + "e") is None
