"""Addressing: which bucket and key a request names (path-style or virtual-host style).

``oss2`` never puts the bucket in the Host header when the endpoint is an IP literal or
``localhost``: it sends ``/<bucket>/<quote(key, safe='')>``. The OSS C SDK, with an IP endpoint,
joins bucket and key and percent-encodes the whole as one segment
(``/ossmedia%2Fvideos%2Fseg-1.ts``). OSS resolves both alike, and so does :class:`Router`: a
path-style path is percent-decoded first (strict UTF-8; ``+`` stays a plus, as OSS treats it),
then split once at its first ``/`` into bucket and key, so keys containing ``/`` or ``//``
survive either encoding. With a host name endpoint the bucket is in ``<bucket>.<host>`` and the
whole decoded path is the key.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from simulator.oss.errors import InvalidArgument, InvalidObjectName, OssError
from simulator.oss.names import check_bucket_name, check_object_key
from simulator.oss.settings import OssSettings

_HOST_CACHE_LIMIT = 1024

Level = Literal["service", "bucket", "object"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a request addresses.

    Attributes:
        bucket: the bucket name, or ``None`` for service-level requests (ListBuckets).
        key: the decoded object key, or ``None`` for bucket-level requests.
        virtual_host: whether the bucket came from the Host header.
    """

    bucket: str | None
    key: str | None
    virtual_host: bool = False


SERVICE = Target(None, None)


def level_of(target: Target) -> Level:
    """``service``, ``bucket`` or ``object``."""
    if target.bucket is None:
        return "service"
    return "bucket" if target.key is None else "object"


class Router:
    """Maps (Host, raw path) to a :class:`Target`.

    Args:
        settings: provides the base host and extra path-style host names.
    """

    def __init__(self, settings: OssSettings) -> None:
        base = settings.base_host.lower()
        self._suffix = "." + base
        self._path_style = {base, "localhost", *(h.lower() for h in settings.path_style_hosts)}
        # Host name -> bucket (or None for path-style); hosts repeat on every request.
        self._hosts: dict[str, str | None] = {}

    def route(self, host: str, raw_path: str) -> Target:
        """Resolve a request target.

        Args:
            host: the Host header (may carry a port, may be an IPv6 literal in brackets).
            raw_path: the request path exactly as received (still percent-encoded).

        Returns:
            The addressed target.

        Raises:
            InvalidBucketName: the bucket segment is not a valid bucket name.
            InvalidObjectName: the key is not valid UTF-8 or breaks the OSS key rules.
            InvalidArgument: the request target is not a path.
        """
        if not raw_path.startswith("/"):
            raise InvalidArgument(
                "The request target must be an absolute path.", name="path", value=raw_path
            )
        try:
            vhost_bucket = self._hosts[host]
        except KeyError:
            vhost_bucket = self._classify(host)
        if vhost_bucket is not None:
            rest = raw_path[1:]
            return Target(vhost_bucket, _decode_key(rest) if rest else None, virtual_host=True)
        rest = _decode(raw_path[1:])
        if not rest:
            return SERVICE
        bucket_text, _, key = rest.partition("/")
        bucket = check_bucket_name(bucket_text)
        return Target(bucket, check_object_key(key) if key else None)

    def level(self, host: str, raw_path: str) -> Level:
        """What a request addresses, without checking any name (for naming a request that may
        yet be refused: an invalid bucket name still addresses a bucket)."""
        try:
            vhost = self.host_bucket(host) is not None
        except OssError:
            vhost = True
        rest = raw_path[1:] if raw_path.startswith("/") else raw_path
        if vhost:
            return "object" if rest else "bucket"
        if not rest:
            return "service"
        with contextlib.suppress(OssError):
            rest = _decode(rest)
        return "object" if rest.partition("/")[2] else "bucket"

    def host_bucket(self, host: str) -> str | None:
        """The bucket a Host header names (virtual-host style), or None (path style).

        Raises:
            InvalidBucketName: a virtual-host name whose bucket part is not a valid name.
        """
        try:
            return self._hosts[host]
        except KeyError:
            return self._classify(host)

    def _classify(self, host: str) -> str | None:
        name = _strip_port(host).lower()
        bucket: str | None = None
        if name not in self._path_style and not _is_ip(name) and name.endswith(self._suffix):
            bucket = check_bucket_name(name[: -len(self._suffix)])
        if len(self._hosts) >= _HOST_CACHE_LIMIT:
            self._hosts.clear()
        self._hosts[host] = bucket
        return bucket


def _strip_port(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _decode(raw: str) -> str:
    # The ASGI raw path arrives as bytes decoded latin-1 by the caller: re-encode to get the
    # original octets, then percent-decode as strict UTF-8.
    try:
        return unquote(raw.encode("latin-1").decode("utf-8"), errors="strict")
    except UnicodeError:
        raise InvalidObjectName("the name is not valid UTF-8") from None


def _decode_key(raw: str) -> str:
    return check_object_key(_decode(raw))
