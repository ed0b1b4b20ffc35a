"""Where a request for ``bucket/key`` goes: host, port, ``Host`` header and request path.

As in oss2: an endpoint whose host is an IP literal or ``localhost`` is addressed path-style
(``Host: 127.0.0.1:9000``, ``/<bucket>/<key>``); any other host virtual-host style
(``Host: <bucket>.oss-cn-hangzhou.aliyuncs.com``, ``/<key>``). The key is percent-encoded
with nothing kept safe but letters, digits and ``_.-~`` (``/`` travels as ``%2F``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from device.errors import ConfigError

__all__ = ["Address"]


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Address:
    """One bucket on one endpoint.

    Attributes:
        scheme: ``http`` or ``https``.
        host: the host to connect to.
        port: the port to connect to.
        host_header: the ``Host`` header to send.
        bucket: the bucket name.
        path_style: whether the bucket goes in the path rather than the host name.
    """

    scheme: str
    host: str
    port: int
    host_header: str
    bucket: str
    path_style: bool

    @classmethod
    def of(cls, endpoint: str, bucket: str) -> Address:
        """Address ``bucket`` on ``endpoint`` (``http://127.0.0.1:9000``, ``oss-…aliyuncs.com``).

        Raises:
            ConfigError: the endpoint is not an http(s) URL or host name.
        """
        if "://" not in endpoint:
            endpoint = "http://" + endpoint  # oss2's default scheme
        parts = urlsplit(endpoint)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"not an OSS endpoint: {endpoint!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ConfigError(f"not an OSS endpoint: {endpoint!r}") from None
        netloc = parts.netloc.rpartition("@")[2]
        path_style = _is_ip_or_localhost(parts.hostname)
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port,
            host_header=netloc if path_style else f"{bucket}.{netloc}",
            bucket=bucket,
            path_style=path_style,
        )

    def connect_host(self) -> str:
        """The host name to open a connection to (the bucket's own name when virtual-host)."""
        return self.host if self.path_style else f"{self.bucket}.{self.host}"

    def target(self, key: str, query: str = "") -> str:
        """The request target for ``key`` with an already encoded ``query``."""
        encoded = quote(key, safe="")
        path = f"/{self.bucket}/{encoded}" if self.path_style else f"/{encoded}"
        return f"{path}?{query}" if query else path
