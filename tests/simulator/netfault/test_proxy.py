"""The TCP fault proxy, driven by real sockets against a real echo server."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from simulator.netfault import FaultProxy, LinkProfile, running_proxy


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """A threaded TCP echo server on a free port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    conn.sendall(data)
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[:2]
    stop.set()
    thread.join(5)
    listener.close()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_until_closed(sock: socket.socket) -> None:
    """Read until the peer closes; a reset raises ConnectionResetError, a FIN returns."""
    while sock.recv(4096):
        pass


def test_pass_through_keeps_every_byte_in_order(echo_server: tuple[str, int]) -> None:
    payload = bytes(range(256)) * 2000
    with running_proxy(echo_server) as proxy, connect(proxy.port) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert recv_exact(sock, len(payload)) == payload
        sender.join()
    assert proxy.stats.bytes_up == len(payload)
    assert proxy.stats.bytes_down == len(payload)
    assert proxy.stats.connections == 1


def test_latency_delays_each_direction(echo_server: tuple[str, int]) -> None:
    with (
        running_proxy(echo_server, LinkProfile(latency_s=0.15)) as proxy,
        connect(proxy.port) as sock,
    ):
        start = time.monotonic()
        sock.sendall(b"ping")
        assert recv_exact(sock, 4) == b"ping"
        elapsed = time.monotonic() - start
    # Two one-way delays; an upper bound would only measure the machine's load.
    assert elapsed >= 0.3


def test_bandwidth_limit_bounds_transfer_rate(echo_server: tuple[str, int]) -> None:
    payload = b"x" * 100_000
    profile = LinkProfile(bandwidth_bytes_per_s=400_000)
    with running_proxy(echo_server, profile) as proxy, connect(proxy.port) as sock:
        start = time.monotonic()
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert recv_exact(sock, len(payload)) == payload
        elapsed = time.monotonic() - start
        sender.join()
    # 100 kB at 400 kB/s needs at least 0.25 s through the shaped upstream direction.
    assert elapsed >= 0.25


def test_reset_probability_one_resets_the_connection(echo_server: tuple[str, int]) -> None:
    with (
        running_proxy(echo_server, LinkProfile(reset_probability=1.0)) as proxy,
        connect(proxy.port) as sock,
    ):
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            read_until_closed(sock)
    assert proxy.stats.resets == 1
    assert proxy.stats.bytes_up == 0


def test_data_limit_closes_after_exactly_the_limit(echo_server: tuple[str, int]) -> None:
    with (
        running_proxy(echo_server, LinkProfile(data_limit_bytes=1000)) as proxy,
        connect(proxy.port) as sock,
    ):
        sock.sendall(b"a" * 600)
        assert recv_exact(sock, 600) == b"a" * 600
        sock.sendall(b"b" * 600)
        received = bytearray()
        while chunk := sock.recv(4096):
            received += chunk
    # Only the first 400 "b" bytes fit under the upstream limit; the server echoes them
    # and sees the end of the stream, so the client reads them and then EOF.
    assert bytes(received) == b"b" * 400
    assert proxy.stats.limit_cuts == 1


def test_profile_changes_apply_at_run_time(echo_server: tuple[str, int]) -> None:
    with running_proxy(echo_server) as proxy, connect(proxy.port) as sock:
        sock.sendall(b"one")
        assert recv_exact(sock, 3) == b"one"
        proxy.set_profile(LinkProfile(reset_probability=1.0))
        sock.sendall(b"two")
        with pytest.raises(ConnectionResetError):
            read_until_closed(sock)


def test_reset_all_cuts_open_connections(echo_server: tuple[str, int]) -> None:
    with running_proxy(echo_server) as proxy, connect(proxy.port) as sock:
        sock.sendall(b"one")
        assert recv_exact(sock, 3) == b"one"
        proxy.reset_all()
        with pytest.raises(ConnectionResetError):
            read_until_closed(sock)


def test_seeded_runs_make_the_same_reset_decisions(echo_server: tuple[str, int]) -> None:
    def run(seed: int) -> list[bool]:
        outcomes = []
        with running_proxy(echo_server, LinkProfile(reset_probability=0.3), seed=seed) as proxy:
            for _ in range(12):
                with connect(proxy.port) as sock:
                    sock.sendall(b"x")
                    try:
                        outcomes.append(recv_exact(sock, 1) == b"x")
                    except ConnectionResetError:
                        outcomes.append(False)
        return outcomes

    first = run(7)
    assert first == run(7)
    assert True in first
    assert False in first


def test_unreachable_upstream_is_counted_and_reset() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    # The reset may come while the connect is still completing (a loaded machine) or on the
    # first read: either way the client sees it.
    with (
        running_proxy(("127.0.0.1", dead_port)) as proxy,
        pytest.raises(ConnectionResetError),
        connect(proxy.port) as sock,
    ):
        read_until_closed(sock)
    assert proxy.stats.upstream_failures == 1


def test_invalid_profiles_are_rejected() -> None:
    with pytest.raises(ValueError, match="bandwidth"):
        LinkProfile(bandwidth_bytes_per_s=0)
    with pytest.raises(ValueError, match="reset_probability"):
        LinkProfile(reset_probability=1.5)
    with pytest.raises(ValueError, match="latency"):
        LinkProfile(latency_s=-1)


def test_stop_leaves_no_task_pending(echo_server: tuple[str, int]) -> None:
    # An open connection has four tasks (two pumps, two deliveries); with bytes sent on a
    # slow link a delivery is asleep too. All of them must be over when stop returns.
    async def scenario() -> set[asyncio.Task[object]]:
        proxy = FaultProxy(echo_server)
        await proxy.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        proxy.set_profile(LinkProfile(latency_s=5.0))
        writer.write(b"in flight")
        await writer.drain()
        await proxy.stop()
        left = asyncio.all_tasks() - {asyncio.current_task()}
        writer.close()
        return left

    assert asyncio.run(scenario()) == set()


def test_running_proxy_ends_without_pending_tasks(
    echo_server: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="asyncio"),
        running_proxy(echo_server) as proxy,
        connect(proxy.port) as sock,
    ):
        sock.sendall(b"ping")
        assert recv_exact(sock, 4) == b"ping"
        proxy.set_profile(LinkProfile(latency_s=5.0))
        sock.sendall(b"in flight")
    gc.collect()  # a task destroyed while pending is reported when it is collected
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
