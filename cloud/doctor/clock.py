"""Check family ``clock``: this host's clock against STS's and OSS's ``Date``.

STS refuses a request whose ``Timestamp`` is more than 15 minutes off, OSS one whose ``Date``
is, and the responder judges cameras' ``issued_at_ms`` with its own clock: an unsynchronised
responder host breaks all three. The limit is the responder's ``limits.skew_window_s``.
"""

from __future__ import annotations

from cloud.doctor.errors import DoctorError
from cloud.doctor.http_date import server_date
from cloud.doctor.report import CheckResult, failed, passed
from cloud.doctor.settings import DoctorSettings

NAME = "clock"
_FIX = (
    "synchronise this host's clock (enable systemd-timesyncd or chrony: "
    "'timedatectl set-ntp true') and run the doctor again"
)


def check_clock(s: DoctorSettings) -> CheckResult:
    """Compare the local clock with STS's and OSS's ``Date`` headers."""
    window = s.responder.limits.skew_window_s
    offsets = []
    for service, url in (
        ("STS", s.responder.sts.endpoint + "/"),
        ("OSS", s.responder.grant.oss_endpoint.rstrip("/") + "/"),
    ):
        before = s.clock()
        try:
            remote = server_date(url, timeout_s=s.timeout_s)
        except DoctorError as exc:
            return failed(
                NAME,
                f"cannot read {service}'s time: {exc}",
                f"check the {service} endpoint in the responder's configuration and the network",
            )
        local = (before + s.clock()) / 2
        offset = remote - local
        # Date has whole seconds: allow one more second than the window.
        if abs(offset) > window + 1:
            side = "behind" if offset > 0 else "ahead of"
            return failed(
                NAME,
                f"this host's clock is {round(abs(offset))} s {side} {service}'s "
                f"(allowed: {window} s)",
                _FIX,
            )
        offsets.append(f"{service} {round(offset):+d} s")
    return passed(NAME, f"within {window} s of STS and OSS ({', '.join(offsets)})")
