"""Random identifiers shaped like the real ones (lengths and alphabets), from an injected RNG."""

from __future__ import annotations

import base64
import random
import string

_ALNUM = string.ascii_letters + string.digits


def access_key_id(rng: random.Random, *, temporary: bool = False) -> str:
    """A long-term (``LTAI`` + 20) or temporary (``STS.`` + 24) access key id."""
    prefix, length = ("STS.", 24) if temporary else ("LTAI", 20)
    return prefix + "".join(rng.choice(_ALNUM) for _ in range(length))


def access_key_secret(rng: random.Random) -> str:
    """A 30-character secret like RAM's."""
    return "".join(rng.choice(_ALNUM) for _ in range(30))


def numeric_id(rng: random.Random, digits: int = 17) -> str:
    """A numeric id such as a role id (no leading zero)."""
    return str(rng.randint(10 ** (digits - 1), 10**digits - 1))


def security_token(rng: random.Random) -> str:
    """An opaque token in the shape of a real one: ``CAIS`` + long padded base64.

    It always contains ``+``, ``/`` and ``=`` so clients' quoting of those characters in
    headers and presigned URLs is exercised on every token, not on a lucky few.
    """
    body = list(base64.b64encode(rng.randbytes(301)).decode("ascii"))  # 301 % 3 == 1 -> "=="
    if "+" not in body or "/" not in body:
        body[0:2] = ["+", "/"]
    return "CAIS" + "".join(body)
