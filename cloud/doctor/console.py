"""The doctor run from the console's configuration alone: the checks that concern the console.

The console's file names the bucket and the console's own OSS key, the device registry and the
broker, nothing of STS or the camera role. So this run checks that the bucket exists in the
configured region with Block Public Access on, that the console's key may do its job under the
video prefix (list, delete, read the lifecycle), that the registry opens with the master key,
and, when the console uses MQTT, the broker's TLS and the console's login. Checks that need the
responder's configuration are not run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import oss2

from cloud.console.settings import ConsoleSettings
from cloud.doctor.broker import LOGIN, TLS, connect, tls_result
from cloud.doctor.bucket import BLOCK_PUBLIC_ACCESS, EXISTS
from cloud.doctor.errors import DoctorError
from cloud.doctor.oss_probe import error_code
from cloud.doctor.registry import NAME as REGISTRY
from cloud.doctor.registry import registry_result
from cloud.doctor.report import CheckResult, failed, passed

RIGHTS = "console.rights"
_POLICY_FIX = (
    "attach deploy/aliyun/console-user-policy.json (with your bucket and prefix) to the "
    "console's RAM user"
)


@dataclass(frozen=True)
class ConsoleDoctorSettings:
    """Everything one doctor run from the console's configuration needs.

    Attributes:
        console: the console's settings, read as the console reads them.
        timeout_s: per network operation.
        probe_id: a random token naming the probe key and client ids.
    """

    console: ConsoleSettings
    timeout_s: float = 10.0
    probe_id: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def prefix(self) -> str:
        """The part of the key prefix template common to every device (``videos/``)."""
        return self.console.oss.key_prefix_template.split("{", 1)[0]


def _bucket(s: ConsoleDoctorSettings) -> oss2.Bucket:
    oss = s.console.oss
    auth = oss2.Auth(oss.access_key_id, oss.access_key_secret.get_secret_value())
    return oss2.Bucket(auth, oss.endpoint, oss.bucket, connect_timeout=s.timeout_s)


def check_exists(s: ConsoleDoctorSettings) -> CheckResult:
    """The bucket exists, in the console's configured region."""
    oss = s.console.oss
    try:
        info = _bucket(s).get_bucket_info()
    except oss2.exceptions.NoSuchBucket:
        return failed(
            EXISTS,
            f"bucket {oss.bucket} does not exist at {oss.endpoint}",
            f"create it in {oss.region} (deploy/aliyun/README.md, step 'bucket'), or fix "
            "[oss] bucket / endpoint in the console's configuration",
        )
    except oss2.exceptions.OssError as exc:
        return failed(EXISTS, f"cannot read bucket {oss.bucket} ({error_code(exc)})", _POLICY_FIX)
    expected = f"oss-{oss.region}"
    if info.location != expected:
        return failed(
            EXISTS,
            f"bucket {oss.bucket} is in {info.location}, the console's [oss] region is {expected}",
            "set [oss] region and endpoint to the bucket's region",
        )
    return passed(EXISTS, f"bucket {oss.bucket} exists in {expected}")


def check_block_public_access(s: ConsoleDoctorSettings) -> CheckResult:
    """Block Public Access is on for the bucket."""
    bucket = s.console.oss.bucket
    try:
        on = bool(_bucket(s).get_bucket_public_access_block().block_public_access)
    except oss2.exceptions.OssError as exc:
        return failed(
            BLOCK_PUBLIC_ACCESS,
            f"cannot read Block Public Access of {bucket} ({error_code(exc)})",
            _POLICY_FIX,
        )
    if not on:
        return failed(
            BLOCK_PUBLIC_ACCESS,
            f"Block Public Access is off for {bucket}: a public ACL or bucket policy could "
            "expose recordings",
            f"ossutil api put-bucket-public-access-block --bucket {bucket} "
            "--public-access-block-configuration "
            "file://deploy/aliyun/bucket-public-access-block.xml",
        )
    return passed(BLOCK_PUBLIC_ACCESS, f"Block Public Access is on for {bucket}")


def check_rights(s: ConsoleDoctorSettings) -> CheckResult:
    """The console's key may list and delete under the prefix and read the lifecycle.

    The delete targets a key that does not exist (OSS answers an allowed delete of an absent
    key with success), so the probe changes nothing.
    """
    bucket = _bucket(s)
    absent = f"{s.prefix}doctor-{s.probe_id}/absent"
    refused = []
    for what, call in (
        (f"list under {s.prefix}", lambda: bucket.list_objects(prefix=s.prefix, max_keys=1)),
        (f"delete under {s.prefix}", lambda: bucket.delete_object(absent)),
        ("read the lifecycle", bucket.get_bucket_lifecycle),
    ):
        try:
            call()
        except oss2.exceptions.NoSuchLifecycle:
            pass  # allowed, none set yet
        except oss2.exceptions.OssError as exc:
            refused.append(f"{what} ({error_code(exc)})")
    if refused:
        return failed(RIGHTS, f"the console's key may not {', '.join(refused)}", _POLICY_FIX)
    return passed(
        RIGHTS, f"the console's key may list and delete under {s.prefix} and read the lifecycle"
    )


def check_registry(s: ConsoleDoctorSettings) -> CheckResult:
    """The registry opens with the console's master key."""
    return registry_result(s.console.registry)


def check_tls(s: ConsoleDoctorSettings) -> CheckResult:
    """The console's broker verifies against its CA file."""
    return tls_result(s.console.mqtt, s.timeout_s)


def check_login(s: ConsoleDoctorSettings) -> CheckResult:
    """The console's broker account logs in."""
    user = s.console.mqtt.username or "(anonymous)"
    try:
        probe = connect(s.console.mqtt, f"doctor-{s.probe_id}-console", s.timeout_s)
    except DoctorError as exc:
        return failed(
            LOGIN,
            f"the console's account {user} cannot log in: {exc}",
            "check [mqtt] username and password in the console's configuration",
        )
    probe.close()
    return passed(LOGIN, f"the console's account {user} logs in")


__all__ = [
    "BLOCK_PUBLIC_ACCESS",
    "EXISTS",
    "LOGIN",
    "REGISTRY",
    "RIGHTS",
    "TLS",
    "ConsoleDoctorSettings",
]
