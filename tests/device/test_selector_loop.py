"""SelectorLoop scheduling: thread hand-over, timers, cancellation, failing callbacks."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from device.mqtt import SelectorLoop


@pytest.fixture
def loop() -> Iterator[SelectorLoop]:
    running = SelectorLoop(name="test-loop")
    running.start()
    yield running
    running.stop()


def on_loop(loop: SelectorLoop, fn: object) -> None:
    done = threading.Event()

    def call() -> None:
        fn()  # type: ignore[operator]
        done.set()

    loop.call_soon_threadsafe(call)
    assert done.wait(5)


def test_calls_from_other_threads_run_on_the_loop_thread(loop: SelectorLoop) -> None:
    seen: list[bool] = []
    on_loop(loop, lambda: seen.append(loop.in_loop_thread()))
    assert seen == [True]
    assert not loop.in_loop_thread()


def test_timers_run_in_order_and_cancelled_ones_do_not(loop: SelectorLoop) -> None:
    order: list[str] = []
    finished = threading.Event()

    def schedule() -> None:
        loop.call_later(0.05, lambda: order.append("second"))
        loop.call_later(0.01, lambda: order.append("first"))
        loop.call_later(0.03, lambda: order.append("cancelled")).cancel()
        loop.call_later(0.08, finished.set)

    on_loop(loop, schedule)
    assert finished.wait(5)
    assert order == ["first", "second"]


def test_a_failing_callback_does_not_stop_the_loop(
    loop: SelectorLoop, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise ValueError("bad callback")

    loop.call_soon_threadsafe(boom)
    ran: list[int] = []
    on_loop(loop, lambda: ran.append(1))
    assert ran == [1]
    assert "error in MQTT loop callback" in caplog.text


def test_stop_ends_the_thread_and_closes() -> None:
    loop = SelectorLoop()
    loop.start()
    loop.stop()
    assert loop.closed
    assert not loop.in_loop_thread()
