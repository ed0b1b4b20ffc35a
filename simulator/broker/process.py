"""Running a real Mosquitto broker as a child process.

The broker runs in the foreground (never ``-d``) so this process owns it: its log goes to a
file in the work directory, ``stop`` sends SIGTERM and escalates to SIGKILL, and ``restart``
brings it back on the same port, which is what the fleet's broker-restart scenario needs
(clients reconnect to the address they already know).
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from simulator.broker.binaries import find_mosquitto
from simulator.broker.config import MosquittoSettings
from simulator.broker.errors import BrokerError, BrokerStartError
from simulator.broker.render import RenderedConfig, render_config
from simulator.lifetime import child_process_group

LOG_NAME = "mosquitto.log"
_POLL_INTERVAL_S = 0.01
_PROBE_TIMEOUT_S = 1.0
_PORT_ATTEMPTS = 5
_ADDRESS_IN_USE = "Address already in use"


def pick_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    Args:
        host: the address the port must be free on.

    Returns:
        The port number. Another process may take it before it is used; callers that bind
        later must be ready to retry (``MosquittoProcess`` does).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MosquittoProcess:
    """One Mosquitto broker owned by this process.

    Args:
        settings: what to run; ``settings.port == 0`` picks a free port on first start.
        workdir: directory for the rendered configuration, the log and persistence data.
        startup_timeout: seconds to wait for the listener to accept connections.
        stop_timeout: seconds to wait after SIGTERM before sending SIGKILL.
        clock: monotonic clock in seconds (injected so waiting is testable).
        sleep: pause between readiness probes (injected for the same reason).
        config_file: run this hand-written ``mosquitto.conf`` instead of rendering one; the
            settings then only say where its (first) listener is (``port`` must be set) and
            whether it speaks TLS. Used to prove a deployment configuration works.

    The broker is not started by the constructor; use :meth:`start` or a ``with`` block.
    """

    def __init__(
        self,
        settings: MosquittoSettings,
        workdir: Path,
        *,
        startup_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        config_file: Path | None = None,
    ) -> None:
        if config_file is not None and settings.port == 0:
            raise BrokerError("a hand-written config_file needs settings.port set to its listener")
        self._config_file = config_file
        self._settings = settings
        self._workdir = Path(workdir)
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._clock = clock
        self._sleep = sleep
        self._port = settings.port
        self._rendered: RenderedConfig | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<MosquittoProcess {self._settings.scheme}://{self.host}:{self._port} {state}>"

    @property
    def settings(self) -> MosquittoSettings:
        """The settings the broker runs with."""
        return self._settings

    @property
    def host(self) -> str:
        """The address clients connect to."""
        return self._settings.connect_host

    @property
    def port(self) -> int:
        """The listener port (``0`` until a free port has been picked by :meth:`start`)."""
        return self._port

    @property
    def url(self) -> str:
        """``mqtt://HOST:PORT`` or ``mqtts://HOST:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self._settings.scheme}://{host}:{self._port}"

    @property
    def workdir(self) -> Path:
        """Directory with the rendered files and the log."""
        return self._workdir

    @property
    def rendered(self) -> RenderedConfig | None:
        """The rendered files, once the broker has been started."""
        return self._rendered

    @property
    def log_path(self) -> Path:
        """The broker's log file (kept across restarts)."""
        return self._workdir / LOG_NAME

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last ``lines`` lines of the broker's log ('' if there is none)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        """Start the broker and wait until its listener accepts connections.

        Raises:
            MosquittoNotFoundError: Mosquitto (or ``mosquitto_passwd``) is not installed.
            BrokerConfigError: the configuration files could not be written.
            BrokerStartError: the broker exited or was not ready within ``startup_timeout``;
                the message carries the tail of its log.
            BrokerError: the broker is already running.
        """
        if self.running:
            raise BrokerError(f"mosquitto is already running at {self.url}")
        binary = find_mosquitto()
        self._workdir.mkdir(parents=True, exist_ok=True)
        # Only a port this object picked may be swapped for another one: a configured port, or
        # the port of a restart, must stay what clients already know.
        may_repick = self._port == 0
        for attempt in range(_PORT_ATTEMPTS):
            if self._port == 0:
                self._port = pick_free_port(self.host)
            config_file = self._config_file
            if config_file is None:
                if self._rendered is None or attempt > 0:
                    self._rendered = render_config(self._settings, self._workdir, port=self._port)
                config_file = self._rendered.config_file
            try:
                self._spawn_and_wait(binary, config_file)
                return
            except BrokerStartError as exc:
                if not (may_repick and _ADDRESS_IN_USE in exc.log_tail):
                    raise
                self._port = 0  # someone took the port between picking and binding
        raise BrokerStartError(
            f"no free port after {_PORT_ATTEMPTS} attempts",
            port=self._port,
            returncode=None,
            log_tail=self.log_tail(),
        )

    def _spawn_and_wait(self, binary: str, config_file: Path) -> None:
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed binary, our own config file
                [binary, "-c", str(config_file)],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                process_group=child_process_group(),
            )
        except OSError as exc:
            self._close_log()
            raise BrokerStartError(
                f"cannot execute {binary}: {exc}", port=self._port, returncode=None, log_tail=""
            ) from None
        deadline = self._clock() + self._startup_timeout
        while True:
            returncode = self._proc.poll()
            if returncode is not None:
                self._close_log()
                raise BrokerStartError(
                    "mosquitto exited during start-up",
                    port=self._port,
                    returncode=returncode,
                    log_tail=self._run_log(log_start),
                )
            if self._accepts_connections():
                return
            if self._clock() >= deadline:
                self._terminate(kill=True)
                raise BrokerStartError(
                    f"mosquitto did not accept connections within {self._startup_timeout:g} s",
                    port=self._port,
                    returncode=None,
                    log_tail=self._run_log(log_start),
                )
            self._sleep(_POLL_INTERVAL_S)

    def _run_log(self, offset: int, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _accepts_connections(self) -> bool:
        proc = self._proc
        # A connection alone could reach another program squatting on the port (the broker
        # then exits with "Address already in use" a moment later), so where Linux lets us
        # look, the listening socket must belong to the broker's own process.
        if proc is None or _listening_pid_check(proc.pid, self._port) is False:
            return False
        try:
            sock = socket.create_connection((self.host, self._port), timeout=_PROBE_TIMEOUT_S)
        except OSError:
            return False
        with sock:
            if self._settings.tls is None:
                return True
            return _tls_answers(sock, self.host)

    def stop(self) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        self._terminate(kill=False)

    def kill(self) -> None:
        """Kill the broker with SIGKILL, like a crash: nothing is saved. Idempotent."""
        self._terminate(kill=True)

    def restart(self, *, crash: bool = False) -> None:
        """Stop (or kill) the broker and start it again on the same port.

        Args:
            crash: SIGKILL instead of a clean SIGTERM, so sessions, queued messages and
                retained messages are only what persistence last saved (nothing without it).

        Raises:
            BrokerStartError: the broker could not come back on its port (e.g. another
                process took it meanwhile).
        """
        self._terminate(kill=crash)
        self.start()

    def _terminate(self, *, kill: bool) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                if kill:
                    proc.kill()
                    proc.wait()
                else:
                    proc.terminate()
                    try:
                        proc.wait(timeout=self._stop_timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
        finally:
            self._proc = None
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> MosquittoProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


_TCP_LISTEN = "0A"


def _listening_pid_check(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds a socket listening on TCP ``port``.

    Returns ``None`` where ``/proc`` cannot tell (not Linux, or no permission).
    """
    inodes: set[str] = set()
    try:
        for table in ("tcp", "tcp6"):
            path = Path(f"/proc/{pid}/net/{table}")
            if not path.exists():
                continue
            for row in path.read_text(encoding="ascii").splitlines()[1:]:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == _TCP_LISTEN:
                    inodes.add(fields[9])
        fd_dir = Path(f"/proc/{pid}/fd")
        if not fd_dir.exists():
            return None
        wanted = {f"socket:[{inode}]" for inode in inodes}
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):  # an fd may close while we look
                if os.readlink(fd) in wanted:
                    return True
    except PermissionError:
        return None
    except (OSError, ValueError, IndexError):
        return None
    return False


def _tls_answers(sock: socket.socket, host: str) -> bool:
    # A liveness probe, not a trust check: the point is that the listener speaks TLS. Any
    # TLS-level answer counts, including an alert because no client certificate was sent
    # (mutual TLS); only transport errors mean "not ready yet".
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a liveness probe: nothing is sent
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            tls.do_handshake()
    except ssl.SSLError:
        return True
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running_mosquitto(
    settings: MosquittoSettings,
    workdir: Path,
    *,
    startup_timeout: float = 10.0,
    stop_timeout: float = 5.0,
) -> Iterator[MosquittoProcess]:
    """Run a broker for the duration of a ``with`` block.

    Args:
        settings: what to run (``port=0`` picks a free port).
        workdir: directory for the configuration, the log and persistence data.
        startup_timeout: seconds to wait for the listener.
        stop_timeout: seconds between SIGTERM and SIGKILL on exit.

    Yields:
        The running broker; ``url`` says where to connect.

    Raises:
        MosquittoNotFoundError: Mosquitto is not installed.
        BrokerConfigError: the configuration could not be written.
        BrokerStartError: the broker did not come up.
    """
    broker = MosquittoProcess(
        settings, workdir, startup_timeout=startup_timeout, stop_timeout=stop_timeout
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
