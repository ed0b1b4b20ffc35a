"""Check family ``bucket``: the grant's bucket exists in the configured region, Block Public
Access is on.

Both read bucket settings with the console's key (its RAM policy allows ``GetBucketInfo`` and
``GetBucketPublicAccessBlock``). Without the console's configuration, existence is probed with
a camera credential instead and Block Public Access is not verified.
"""

from __future__ import annotations

import oss2

from cloud.doctor.oss_probe import camera_bucket, console_bucket, error_code
from cloud.doctor.report import CheckResult, failed, passed, skipped
from cloud.doctor.settings import DoctorSettings
from cloud.doctor.sts import AssumeRoleFailed, assume, probe_policy, probe_prefix

EXISTS = "bucket.exists"
BLOCK_PUBLIC_ACCESS = "bucket.block_public_access"
_CONSOLE_FIX = "attach deploy/aliyun/console-user-policy.json to the console's RAM user"


def _missing(s: DoctorSettings) -> CheckResult:
    grant = s.responder.grant
    return failed(
        EXISTS,
        f"bucket {grant.bucket} does not exist at {grant.oss_endpoint}",
        f"create it in {grant.region} (deploy/aliyun/README.md, step 'bucket'), or fix "
        "[grant] bucket / oss_endpoint in the responder's configuration",
    )


def check_exists(s: DoctorSettings) -> CheckResult:
    """The bucket exists, in the region cameras are told."""
    grant = s.responder.grant
    console = console_bucket(s)
    if console is None:
        return _exists_as_camera(s)
    if s.console is not None and s.console.bucket != grant.bucket:
        return failed(
            EXISTS,
            f"the console manages bucket {s.console.bucket}, cameras write to {grant.bucket}",
            "make [oss] bucket in the console's configuration and [grant] bucket in the "
            "responder's name the same bucket",
        )
    try:
        info = console.get_bucket_info()
    except oss2.exceptions.NoSuchBucket:
        return _missing(s)
    except oss2.exceptions.OssError as exc:
        return failed(
            EXISTS, f"cannot read bucket {grant.bucket} ({error_code(exc)})", _CONSOLE_FIX
        )
    expected = f"oss-{grant.region}"
    if info.location != expected:
        return failed(
            EXISTS,
            f"bucket {grant.bucket} is in {info.location}, cameras are told {expected}",
            "set [grant] region and oss_endpoint to the bucket's region",
        )
    return passed(EXISTS, f"bucket {grant.bucket} exists in {expected}")


def _exists_as_camera(s: DoctorSettings) -> CheckResult:
    grant = s.responder.grant
    try:
        creds = assume(s, policy=probe_policy(s), session_name=s.probe_device)
    except AssumeRoleFailed:
        return skipped(EXISTS, "needs sts.assume_role to pass, or the console's configuration")
    try:
        camera_bucket(s, creds).head_object(f"{probe_prefix(s)}doctor-{s.probe_id}.absent")
    except oss2.exceptions.NoSuchBucket:
        return _missing(s)
    except oss2.exceptions.NotFound:
        pass  # the key is absent, the bucket is there
    except oss2.exceptions.OssError as exc:
        return failed(
            EXISTS, f"cannot probe bucket {grant.bucket} ({error_code(exc)})", "check [grant]"
        )
    return passed(EXISTS, f"bucket {grant.bucket} exists (region not verified: no console key)")


def check_block_public_access(s: DoctorSettings) -> CheckResult:
    """Block Public Access is on for the bucket."""
    console = console_bucket(s)
    bucket = s.responder.grant.bucket
    if console is None:
        return skipped(BLOCK_PUBLIC_ACCESS, "needs the console's configuration (--console-config)")
    try:
        on = bool(console.get_bucket_public_access_block().block_public_access)
    except oss2.exceptions.OssError as exc:
        return failed(
            BLOCK_PUBLIC_ACCESS,
            f"cannot read Block Public Access of {bucket} ({error_code(exc)})",
            _CONSOLE_FIX,
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
