"""The bucket CORS rule the console's players need, and a helper that puts it on a bucket.

Both players read the bucket straight from the browser with XHR through presigned URLs:
hls.js fetches HLS segments, and the live player reads byte ranges of appendable fMP4
objects still being written. A browser lets a page read such an answer from another origin
only when the bucket's CORS rules allow the page's origin, the method and the ``Range``
request header, and expose the length, range and ETag headers the players read. That is one
rule, declared here; ``deploy/aliyun/bucket-cors.xml`` is the same rule for a real bucket
(a test checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Sequence

import oss2
from oss2.models import BucketCors, CorsRule

__all__ = [
    "ALLOWED_HEADERS",
    "ALLOWED_METHODS",
    "EXPOSE_HEADERS",
    "MAX_AGE_S",
    "allow_console",
    "console_origins",
    "player_rule",
]

ALLOWED_METHODS = ("GET", "HEAD")
ALLOWED_HEADERS = ("Range",)
EXPOSE_HEADERS = ("Content-Length", "Content-Range", "ETag")
MAX_AGE_S = 600


def console_origins(url: str) -> list[str]:
    """The origins a browser may show a console served at ``url`` under.

    A console on loopback (``http://127.0.0.1:8080/``) is reached as ``localhost`` too, and
    the two are different origins to a browser.
    """
    scheme, _, rest = url.partition("://")
    host_port = rest.split("/", 1)[0]
    origins = [f"{scheme}://{host_port}"]
    host, sep, port = host_port.rpartition(":")
    if sep and host in ("127.0.0.1", "localhost"):
        other = "localhost" if host == "127.0.0.1" else "127.0.0.1"
        origins.append(f"{scheme}://{other}:{port}")
    return origins


def player_rule(origins: Sequence[str]) -> CorsRule:
    """The CORS rule letting pages from ``origins`` play recordings out of the bucket."""
    return CorsRule(
        allowed_origins=list(origins),
        allowed_methods=list(ALLOWED_METHODS),
        allowed_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
        max_age_seconds=MAX_AGE_S,
    )


def allow_console(bucket: oss2.Bucket, origins: Sequence[str]) -> None:
    """Replace the bucket's CORS rules with the players' rule for ``origins``.

    Meant for buckets the console alone uses (the demo's, the tests'): ``PutBucketCors``
    replaces every rule the bucket held.

    Raises:
        oss2.exceptions.OssError: the bucket refused (``oss:PutBucketCors`` not granted ...).
    """
    bucket.put_bucket_cors(BucketCors([player_rule(origins)]))
