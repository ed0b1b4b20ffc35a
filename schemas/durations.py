"""How long STS credentials may live: every duration bound of the system, each with its meaning.

The camera asks for a lifetime, the responder decides what it passes to AssumeRole, STS checks
it against the role. One bound per fact, used by all three::

    1 ─ MIN_REQUEST ······ 900 ─ MIN_SESSION ······ 3600 ─ DEFAULT_SESSION ······ 43200 ─ MAX_SESSION
        (wire accepts)         (STS grants)              (STS default; a role's       (longest any role
                                                          smallest maximum)             may grant)
"""

from __future__ import annotations

MIN_REQUEST_DURATION_S = 1
"""The shortest lifetime a camera may ask for on the wire; the responder raises anything below
:data:`MIN_SESSION_DURATION_S` to it, so a short request is never refused."""

MIN_SESSION_DURATION_S = 900
"""The shortest session AssumeRole grants (``DurationSeconds`` below it is
``InvalidParameter.DurationSeconds``)."""

DEFAULT_SESSION_DURATION_S = 3600
"""AssumeRole's ``DurationSeconds`` when the request leaves it out, and a new role's
``MaxSessionDuration``."""

MIN_ROLE_MAX_SESSION_S = 3600
"""The smallest ``MaxSessionDuration`` a RAM role may be given."""

MAX_SESSION_DURATION_S = 43200
"""The longest session any role may grant (the largest ``MaxSessionDuration``), hence also the
longest lifetime a camera may ask for and a responder may be configured to hand out."""

__all__ = [
    "DEFAULT_SESSION_DURATION_S",
    "MAX_SESSION_DURATION_S",
    "MIN_REQUEST_DURATION_S",
    "MIN_ROLE_MAX_SESSION_S",
    "MIN_SESSION_DURATION_S",
]
