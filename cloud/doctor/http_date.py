"""Read a server's ``Date`` header (any answer carries one, an error page too)."""

from __future__ import annotations

import email.utils
import ssl
import urllib.error
import urllib.request

from cloud.doctor.errors import DoctorError


def server_date(url: str, *, timeout_s: float) -> float:
    """The server's time, from the ``Date`` header of a plain GET of ``url``.

    Proxies from the environment are not used (they would answer with their own ``Date``).

    Raises:
        DoctorError: the server is not reachable or sent no readable ``Date``.
    """
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
    )
    headers = None
    try:
        with opener.open(url, timeout=timeout_s) as response:
            headers = response.headers
    except urllib.error.HTTPError as exc:
        headers = exc.headers
    except (OSError, ValueError) as exc:
        raise DoctorError(f"{url} is not reachable ({exc})") from None
    raw = headers.get("Date") if headers is not None else None
    parsed = email.utils.parsedate_to_datetime(raw) if raw else None
    if parsed is None:
        raise DoctorError(f"{url} answered without a Date header")
    return parsed.timestamp()
