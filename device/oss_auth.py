"""oss2 request signing with the device's clock.

oss2 stamps every request with the *system* time, and OSS rejects a request whose time is
more than 15 minutes off. A camera whose clock is wrong learns the offset from a signed
``clock_skew`` reply; :class:`ClockedAuth` signs with that corrected time so its uploads are
accepted before (and without) the system clock being fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

import oss2
from oss2.credentials import Credentials, CredentialsProvider

from device.clock import Clock

if TYPE_CHECKING:
    from device.credentials import Lease

__all__ = ["ClockedAuth", "LeaseProvider"]

_SECURITY_TOKEN_HEADER = "x-oss-security-token"  # noqa: S105 - a header name


class ClockedAuth(oss2.ProviderAuth):  # type: ignore[misc]
    """``oss2.ProviderAuth`` (signature V1) whose ``Date`` comes from ``clock``.

    Args:
        provider: serves the current credentials for each request.
        clock: the device clock (with any adopted offset).
    """

    def __init__(self, provider: CredentialsProvider, clock: Clock) -> None:
        super().__init__(provider)
        self._clock = clock
        # oss2 keeps the string-to-sign logic private to ProviderAuth; fail at construction
        # rather than on the first upload if a future oss2 renames it.
        if not hasattr(self, "_ProviderAuth__make_signature"):
            raise RuntimeError("this oss2 version does not offer ProviderAuth's signer")

    def _sign_request(self, req: Any, bucket_name: str, key: str) -> None:
        credentials = self.credentials_provider.get_credentials()
        token = credentials.get_security_token()
        if token:
            req.headers[_SECURITY_TOKEN_HEADER] = token
        req.headers["date"] = formatdate(self._clock.wall_ms() / 1000.0, usegmt=True)
        signature = self._ProviderAuth__make_signature(req, bucket_name, key, credentials)
        req.headers["authorization"] = f"OSS {credentials.get_access_key_id()}:{signature}"


class LeaseProvider(CredentialsProvider):  # type: ignore[misc]
    """oss2 asks this for credentials each time it signs a request.

    Args:
        lease: returns the current lease (the credential client's ``get``), waiting at most
            ``timeout`` seconds.
        timeout: how long one request may wait for credentials.
    """

    def __init__(self, lease: Callable[[float | None], Lease], timeout: float | None) -> None:
        self._lease = lease
        self._timeout = timeout

    def get_credentials(self) -> Credentials:
        credentials = self._lease(self._timeout).credentials
        return Credentials(
            credentials.access_key_id,
            credentials.access_key_secret,
            credentials.security_token,
        )
