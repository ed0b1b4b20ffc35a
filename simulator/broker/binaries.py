"""Locating the Mosquitto executables.

Debian and Ubuntu install the broker in ``/usr/sbin``, which is not on ``PATH`` for ordinary
users, so a plain ``shutil.which`` is not enough; the tools (``mosquitto_passwd``) live in
``/usr/bin``.
"""

from __future__ import annotations

import glob
import os
import shutil

from simulator.broker.errors import MosquittoNotFoundError

_FALLBACK_DIRS: tuple[str, ...] = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")
DYNSEC_PLUGIN = "mosquitto_dynamic_security.so"
# Debian installs the plugin in the multiarch library directory, upstream builds in /usr/lib.
_PLUGIN_GLOBS: tuple[str, ...] = (
    "/usr/lib/*-linux-gnu*/" + DYNSEC_PLUGIN,
    "/usr/lib/" + DYNSEC_PLUGIN,
    "/usr/local/lib/" + DYNSEC_PLUGIN,
)


def find_program(program: str) -> str:
    """Return the absolute path of a Mosquitto executable.

    Args:
        program: executable name, e.g. ``"mosquitto"`` or ``"mosquitto_passwd"``.

    Returns:
        The path found on ``PATH``, else the first executable in the usual install directories.

    Raises:
        MosquittoNotFoundError: the program is not installed.
    """
    found = shutil.which(program)
    if found:
        return found
    for directory in _FALLBACK_DIRS:
        candidate = os.path.join(directory, program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise MosquittoNotFoundError(program, _FALLBACK_DIRS)


def find_mosquitto() -> str:
    """Return the path of the ``mosquitto`` broker binary (see :func:`find_program`)."""
    return find_program("mosquitto")


def find_mosquitto_passwd() -> str:
    """Return the path of the ``mosquitto_passwd`` tool (see :func:`find_program`)."""
    return find_program("mosquitto_passwd")


def find_dynsec_plugin() -> str:
    """Return the path of Mosquitto's dynamic-security plugin.

    Raises:
        MosquittoNotFoundError: the plugin is not installed.
    """
    for pattern in _PLUGIN_GLOBS:
        for candidate in sorted(glob.glob(pattern)):
            if os.path.isfile(candidate):
                return candidate
    raise MosquittoNotFoundError(DYNSEC_PLUGIN, _PLUGIN_GLOBS)
