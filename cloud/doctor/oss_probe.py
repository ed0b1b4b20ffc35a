"""Small helpers over ``oss2`` for the doctor's OSS checks: clients and "was it refused?"."""

from __future__ import annotations

from collections.abc import Callable

import oss2

from cloud.doctor.errors import DoctorError
from cloud.doctor.settings import DoctorSettings
from cloud.doctor.sts import Minted

DENIED = 403


def camera_bucket(s: DoctorSettings, creds: Minted) -> oss2.Bucket:
    """The grant's bucket as a camera holding ``creds`` sees it."""
    auth = oss2.StsAuth(creds.access_key_id, creds.access_key_secret, creds.security_token)
    grant = s.responder.grant
    return oss2.Bucket(auth, grant.oss_endpoint, grant.bucket, connect_timeout=s.timeout_s)


def console_bucket(s: DoctorSettings) -> oss2.Bucket | None:
    """The grant's bucket through the console's key, or None without the console's settings."""
    if s.console is None:
        return None
    auth = oss2.Auth(s.console.access_key_id, s.console.access_key_secret)
    return oss2.Bucket(
        auth, s.console.endpoint, s.responder.grant.bucket, connect_timeout=s.timeout_s
    )


def error_code(exc: oss2.exceptions.OssError) -> str:
    """OSS's error code, or the HTTP status when there is none."""
    return str(exc.code or exc.status)


def leaked(what: str, call: Callable[[], object]) -> str | None:
    """Run a call that must be refused; return ``what`` when OSS allowed it, else None.

    Any answer but 403 counts as allowed: a 404 for a missing key still means the permission
    check let the request through.

    Raises:
        DoctorError: OSS did not answer at all (the probe proves nothing then).
    """
    try:
        call()
    except oss2.exceptions.OssError as exc:
        if exc.status < 0:  # oss2's RequestError: no HTTP answer
            raise DoctorError(f"OSS did not answer while probing '{what}'") from None
        return None if exc.status == DENIED else what
    return what


def delete_quietly(bucket: oss2.Bucket | None, key: str) -> bool:
    """Delete ``key`` if possible; True when it is gone."""
    if bucket is None:
        return False
    try:
        bucket.delete_object(key)
    except oss2.exceptions.OssError:
        return False
    return True
