"""Check family ``camera``: what a camera's credentials can and cannot do in the bucket.

``camera.grant`` mints credentials with the production session policy for a throw-away device
and proves they append and read under its prefix and are refused delete, list and writes to
another camera's prefix. ``camera.role_scope`` mints credentials with the role alone (no
session policy): the role is the widest any session policy can grant, so it too must refuse
delete, list and writes outside the video prefix. Probe objects are removed with the
console's key when its configuration was given.
"""

from __future__ import annotations

import oss2

from cloud.doctor.oss_probe import (
    camera_bucket,
    console_bucket,
    delete_quietly,
    error_code,
    leaked,
)
from cloud.doctor.report import CheckResult, failed, passed
from cloud.doctor.settings import DoctorSettings
from cloud.doctor.sts import AssumeRoleFailed, assume, explain, probe_policy, probe_prefix

GRANT = "camera.grant"
ROLE_SCOPE = "camera.role_scope"
_PROBE = (b"ossmedia doctor ", b"probe\n")


def _fleet_prefix(s: DoctorSettings) -> str:
    """The key prefix every camera's prefix starts with (what the camera role may write)."""
    return s.responder.grant.prefix_template.split("{device_id}", 1)[0]


def _role_policy_fix(s: DoctorSettings) -> str:
    grant = s.responder.grant
    fleet = _fleet_prefix(s)
    return (
        "attach only deploy/aliyun/camera-role-policy.json to the camera role: oss:PutObject "
        f"and oss:GetObject on acs:oss:*:*:{grant.bucket}/{fleet}*, nothing else "
        "(detach system policies such as AliyunOSSFullAccess)"
    )


def _cleanup_note(s: DoctorSettings, keys: list[str]) -> str:
    console = console_bucket(s)
    left = [k for k in keys if not delete_quietly(console, k)]
    if not left:
        return ""
    how = "the console's key could not delete them" if console else "no console key given"
    return f"; probe objects left behind ({how}): {', '.join(left)}"


def check_grant(s: DoctorSettings) -> CheckResult:
    """The production session policy: append and read in the prefix, nothing else."""
    prefix = probe_prefix(s)
    key = f"{prefix}doctor-{s.probe_id}.probe"
    try:
        creds = assume(s, policy=probe_policy(s), session_name=s.probe_device)
    except AssumeRoleFailed as exc:
        return failed(GRANT, *explain(exc, s))
    bucket = camera_bucket(s, creds)
    try:
        first = bucket.append_object(key, 0, _PROBE[0])
        bucket.append_object(key, first.next_position, _PROBE[1])
        read = bucket.get_object(key).read()
    except oss2.exceptions.OssError as exc:
        note = _cleanup_note(s, [key])
        return failed(
            GRANT,
            f"a camera credential cannot append and read under {prefix} ({error_code(exc)}){note}",
            _role_policy_fix(s),
        )
    if read != b"".join(_PROBE):
        return failed(GRANT, f"reading back {key} gave other bytes", "check the OSS endpoint")
    other = f"{s.responder.grant.prefix_for(s.other_device)}doctor.probe"
    leaks = [
        leaked("delete", lambda: bucket.delete_object(key)),
        leaked("list", lambda: bucket.list_objects(prefix=prefix, max_keys=1)),
        leaked(
            f"write to another camera's prefix ({other})", lambda: bucket.put_object(other, b"x")
        ),
    ]
    allowed = [leak for leak in leaks if leak]
    note = _cleanup_note(
        s, [key] + ([other] if any(leak and other in leak for leak in leaks) else [])
    )
    if allowed:
        return failed(
            GRANT,
            f"a camera credential could also: {', '.join(allowed)}{note}",
            "the responder's session policy must be the production one: run the responder "
            "of this release; " + _role_policy_fix(s),
        )
    return passed(
        GRANT,
        f"a camera credential appended and read {key} and was refused delete, list and "
        f"writes to another camera's prefix{note}",
    )


def check_role_scope(s: DoctorSettings) -> CheckResult:
    """The role alone refuses delete, list and writes outside the video prefix."""
    grant = s.responder.grant
    fleet = _fleet_prefix(s)
    try:
        creds = assume(s, policy=None, session_name=s.probe_device)
    except AssumeRoleFailed as exc:
        return failed(ROLE_SCOPE, *explain(exc, s))
    bucket = camera_bucket(s, creds)
    inside = f"{probe_prefix(s)}doctor-{s.probe_id}.absent"
    probes = [
        ("delete objects", lambda: bucket.delete_object(inside)),
        ("list the bucket", lambda: bucket.list_objects(prefix=fleet, max_keys=1)),
        ("read the bucket's settings", lambda: bucket.get_bucket_info()),
    ]
    outside = f"doctor-{s.probe_id}.outside"
    if fleet:
        probes.append(
            (f"write outside {fleet} ({outside})", lambda: bucket.put_object(outside, b"x"))
        )
    allowed = [what for what, call in probes if leaked(what, call)]
    note = _cleanup_note(s, [outside]) if any(outside in a for a in allowed) else ""
    if allowed:
        return failed(
            ROLE_SCOPE,
            f"the camera role is broader than put/get under {grant.bucket}/{fleet}: "
            f"its credentials can {', '.join(allowed)}{note}",
            _role_policy_fix(s),
        )
    return passed(
        ROLE_SCOPE,
        f"the camera role alone may not delete, list, read bucket settings"
        f"{' or write outside ' + fleet if fleet else ''}",
    )
