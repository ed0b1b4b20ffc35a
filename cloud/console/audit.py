"""The audit trail: one log line per operator action.

Every change an operator makes through the console (a recording deleted, a device
provisioned, revoked or rotated, retention changed) is logged on the
``ossmedia.console.audit`` logger at INFO, as a JSON line with ``audit: true``, the operator's
user name (``actor``), the ``action`` and what it was applied to. No secret is ever part of
it: a provisioned or rotated device's secret is shown to the operator once and never logged.
"""

from __future__ import annotations

import logging

__all__ = ["AUDIT_LOGGER", "audit"]

AUDIT_LOGGER = "ossmedia.console.audit"
_log = logging.getLogger(AUDIT_LOGGER)


def audit(actor: str, action: str, **target: str | int | None) -> None:
    """Log one operator action.

    Args:
        actor: the signed-in operator's user name.
        action: what was done (``recording.delete``, ``device.provision`` ...).
        target: what it was done to (``device_id``, ``recording_id``, ``days`` ...).
    """
    _log.info(action, extra={"fields": {"audit": True, "actor": actor, "action": action, **target}})
