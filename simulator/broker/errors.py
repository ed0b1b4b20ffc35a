"""Errors raised while configuring, starting or stopping a local Mosquitto broker.

Tree::

    BrokerError                    root; simulator-internal (never crosses into device/ or cloud/)
    ├── MosquittoNotFoundError     a Mosquitto binary is not installed (says how to install it)
    ├── BrokerConfigError          settings cannot be rendered (bad ACL, mosquitto_passwd failed)
    └── BrokerStartError           the broker exited or did not accept connections in time
                                   (carries the port, exit code and the tail of its log)

Messages never contain passwords or key material: settings keep secrets in
``pydantic.SecretStr`` and the log tail comes from Mosquitto, which does not log passwords.
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base class of every error raised by :mod:`simulator.broker`.

    Args:
        message: human-readable text; never contains a secret.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MosquittoNotFoundError(BrokerError):
    """A Mosquitto executable could not be found.

    Args:
        program: the executable that was looked for (``mosquitto`` or ``mosquitto_passwd``).
        searched: the places that were tried, for the message.
    """

    def __init__(self, program: str, searched: tuple[str, ...]) -> None:
        super().__init__(
            f"{program} not found (looked on PATH and in {', '.join(searched)}); "
            "install Mosquitto 2.x, e.g. `apt-get install mosquitto` on Debian/Ubuntu"
        )
        self.program = program
        self.searched = searched


class BrokerConfigError(BrokerError):
    """The settings could not be turned into Mosquitto configuration files.

    Args:
        message: what is wrong.
        path: the file being written when it went wrong, if any.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class BrokerStartError(BrokerError):
    """Mosquitto exited during start-up or did not accept connections within the timeout.

    Args:
        message: what happened.
        port: the port the broker was asked to listen on.
        returncode: the exit status if the process has exited, else ``None``.
        log_tail: the last lines of the broker's log (Mosquitto explains its failures there).
    """

    def __init__(self, message: str, *, port: int, returncode: int | None, log_tail: str) -> None:
        detail = f"{message} (port {port}, exit status {returncode})"
        if log_tail:
            detail += "\n--- mosquitto log (last lines) ---\n" + log_tail
        super().__init__(detail)
        self.port = port
        self.returncode = returncode
        self.log_tail = log_tail
