"""Check family ``quarantine``: the responder's quarantine admin account works.

The responder disables a flooding camera's broker account through Mosquitto's
dynamic-security plugin (:mod:`cloud.responder.quarantine`). A wrong password, or an account
without the plugin's admin role, would otherwise show only when the first camera floods. The
check logs in with ``[quarantine]``'s account through the same admin session the responder
uses and sends one read-only command (``listClients`` with ``count`` 1): it passes only when
the account logs in, may use ``$CONTROL/dynamic-security/#``, and the plugin answers.

Without ``[quarantine] url`` the quarantine is off (it is optional): the check is skipped.

On a listener with ``use_username_as_clientid`` (the camera listener of ``deploy/``), the
check's login takes over an admin session the responder has open at that moment with the same
account; that operation fails, is logged and counted, and the responder retries it.
"""

from __future__ import annotations

from cloud.doctor.report import CheckResult, failed, passed, skipped
from cloud.doctor.settings import DoctorSettings
from cloud.errors import AdminFailure, BrokerAccountError
from cloud.registry.dynsec_control import BrokerAdminSettings, session

NAME = "quarantine.admin"
_PROBE = {"command": "listClients", "verbose": False, "count": 1, "offset": 0}
_ROLE_FIX = (
    "give {user} the plugin's admin role (deploy/mosquitto/README.md: 'dynsec addClientRole "
    "{user} dynsec-admin'), or name such an account in [quarantine] username; and point "
    "[quarantine] url at the camera listener, where the plugin runs"
)
# What each failure of the admin session means, and its fix; None: the plugin refused.
_EXPLAINED: dict[AdminFailure | None, tuple[str, str]] = {
    AdminFailure.UNREACHABLE: (
        "cannot be reached",
        "check [quarantine] url (the camera listener in deploy/mosquitto), that Mosquitto runs, "
        "that this host may reach it, and [quarantine] ca_file for mqtts://",
    ),
    AdminFailure.LOGIN_REFUSED: (
        "the broker refused the login",
        "check [quarantine] username and password_file (or OSSMEDIA_QUARANTINE_PASSWORD) "
        "against the plugin's accounts, and that the account is not disabled",
    ),
    AdminFailure.NOT_AUTHORIZED: (
        "logs in but may not use $CONTROL/dynamic-security/# (it lacks the plugin's admin "
        "role, or the listener has no plugin)",
        _ROLE_FIX,
    ),
    AdminFailure.NO_ANSWER: (
        "logs in but nothing answers on the control topic",
        "point [quarantine] url at the listener that loads the dynamic-security plugin (the "
        "camera listener in deploy/mosquitto); if it is that listener, check the broker's log "
        "and raise --timeout",
    ),
    AdminFailure.DISCONNECTED: (
        "the connection dropped",
        "check the broker's log; another client with the same account (and client id) may "
        "have taken the connection over: run the doctor again",
    ),
    None: ("the dynamic-security plugin refused a command", _ROLE_FIX),
}


def check_admin(s: DoctorSettings) -> CheckResult:
    """With ``[quarantine]`` on, its admin account logs in and the plugin answers it."""
    admin = s.responder.quarantine.broker_admin()
    if admin is None:
        return skipped(
            NAME, "[quarantine] is not configured: the responder does not quarantine cameras"
        )
    return admin_result(admin.model_copy(update={"timeout_s": s.timeout_s}))


def admin_result(admin: BrokerAdminSettings) -> CheckResult:
    """Log in with ``admin`` and send the plugin one read-only command."""
    who = f"the quarantine account {admin.username} at {admin.url}"
    try:
        with session(admin, "doctor") as opened:
            (answer,) = opened.run([dict(_PROBE)])
    except BrokerAccountError as exc:
        what, fix = _EXPLAINED[exc.failure]
        return failed(NAME, f"{who}: {what} ({exc.message})", fix.format(user=admin.username))
    error = answer.get("error")
    data = answer.get("data")
    if error or not isinstance(data, dict):
        what, fix = _EXPLAINED[None]
        reason = f"{who}: {what} (listClients: {error or 'no data'})"
        return failed(NAME, reason, fix.format(user=admin.username))
    accounts = data.get("totalCount")
    count = f" ({accounts} broker account(s))" if isinstance(accounts, int) else ""
    return passed(
        NAME, f"{who} logs in and the dynamic-security plugin answers its commands{count}"
    )
