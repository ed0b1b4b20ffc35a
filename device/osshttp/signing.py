"""OSS header signatures, version 1 (``authorization: OSS <id>:<signature>``), as oss2 signs.

The string to sign is::

    VERB \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedOSSHeaders CanonicalizedResource

with the ``x-oss-*`` headers lower-cased and sorted, and the resource ``/<bucket>/<key>`` (the
key raw, not percent-encoded) followed by the signed sub-resources (``?append&position=0``).
The signature is base64 of HMAC-SHA1 keyed with the AccessKey secret. With STS credentials
``x-oss-security-token`` is set before signing, so it is part of the signed headers.

``Date`` comes from the device clock, which carries any offset adopted from a ``clock_skew``
reply, so a camera with a wrong system clock is still within OSS's 15-minute window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from email.utils import formatdate

from device.clock import Clock

__all__ = ["AccessKeys", "RequestSigner", "canonical_resource", "string_to_sign"]

_SECURITY_TOKEN_HEADER = "x-oss-security-token"  # noqa: S105 - a header name

# The sub-resources this client sends. V1 signs only parameters OSS treats as sub-resources
# (oss2 2.19.1 lists about ninety, ``ProviderAuth._subresource_key_set``); the client's own
# requests use these two, and any other parameter is left out of the signature as oss2 does.
SUBRESOURCES = frozenset(["append", "position"])


@dataclass(frozen=True)
class AccessKeys:
    """One set of credentials; the repr hides the secret and the token.

    Attributes:
        access_key_id: the AccessKey id (``STS.…`` for temporary credentials).
        access_key_secret: the AccessKey secret.
        security_token: the STS token, ``None`` for a permanent key.
    """

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


def canonical_resource(bucket: str, key: str, params: Mapping[str, str]) -> str:
    """``/<bucket>/<key>`` plus the signed sub-resources, sorted, values raw."""
    subresources = sorted((name, value) for name, value in params.items() if name in SUBRESOURCES)
    resource = f"/{bucket}/{key}"
    if not subresources:
        return resource
    return resource + "?" + "&".join(f"{n}={v}" if v else n for n, v in subresources)


def string_to_sign(method: str, headers: Mapping[str, str], resource: str) -> str:
    """The V1 string to sign; ``headers`` must have lower-case names."""
    oss_headers = sorted((n, v) for n, v in headers.items() if n.startswith("x-oss-"))
    return "".join(
        [
            f"{method}\n",
            headers.get("content-md5", "") + "\n",
            headers.get("content-type", "") + "\n",
            (headers.get("x-oss-date") or headers.get("date", "")) + "\n",
            *(f"{name}:{value}\n" for name, value in oss_headers),
            resource,
        ]
    )


def _signature(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class RequestSigner:
    """Signs requests with the current credentials and the device clock.

    Args:
        credentials: returns the credentials to sign the next request with; for a camera it
            asks the credential client, so refreshes (and the forced refresh after an auth
            error) take effect on the next request.
        clock: the device clock.
    """

    def __init__(self, credentials: Callable[[], AccessKeys], clock: Clock) -> None:
        self._credentials = credentials
        self._clock = clock

    def sign(
        self,
        method: str,
        bucket: str,
        key: str,
        params: Mapping[str, str],
        headers: MutableMapping[str, str],
    ) -> None:
        """Add ``date``, ``x-oss-security-token`` (STS) and ``authorization`` to ``headers``.

        Args:
            method: the HTTP method.
            bucket: the bucket name.
            key: the object key, raw.
            params: the query parameters.
            headers: the request headers with lower-case names; completed in place.

        Raises:
            CredentialError: no credentials could be obtained.
        """
        keys = self._credentials()
        if keys.security_token:
            headers[_SECURITY_TOKEN_HEADER] = keys.security_token
        headers["date"] = formatdate(self._clock.wall_ms() / 1000.0, usegmt=True)
        text = string_to_sign(method, headers, canonical_resource(bucket, key, params))
        headers["authorization"] = (
            f"OSS {keys.access_key_id}:{_signature(keys.access_key_secret, text)}"
        )
