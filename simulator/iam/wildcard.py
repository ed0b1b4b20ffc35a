"""Glob patterns as RAM uses them: ``*`` is any run of characters (even none), ``?`` one."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=4096)
def compile_glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile a RAM glob to an anchored regular expression.

    Args:
        pattern: the glob, e.g. ``acs:oss:*:*:bucket/cam-?/*``.
        ignore_case: match letters case-insensitively (used for action names).

    Returns:
        A compiled pattern; use ``fullmatch`` semantics via the anchors it carries.
    """
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts) + r"\Z", flags)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Tell whether ``value`` matches the RAM glob ``pattern`` as a whole."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return compile_glob(pattern, ignore_case=ignore_case).match(value) is not None
