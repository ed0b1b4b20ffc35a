"""Range requests the way OSS serves them.

Only the first range of a ``Range: bytes=...`` header is served. By default OSS *ignores* a
range it cannot satisfy (end before start, start or end past the object, a suffix longer than
the object) and answers 200 with the whole object. With ``x-oss-range-behavior: standard`` an
end past the object is clamped and a start past it is 416 InvalidRange. Unparseable headers are
ignored in both modes.
"""

from __future__ import annotations

from simulator.oss.errors import InvalidRange


def select_range(header: str | None, size: int, *, standard: bool) -> tuple[int, int] | None:
    """Pick the byte range to serve.

    Args:
        header: the Range header value (or ``None``).
        size: the object's size.
        standard: ``x-oss-range-behavior: standard`` was sent.

    Returns:
        Inclusive (first, last) byte positions, or ``None`` to serve the whole object with 200.

    Raises:
        InvalidRange: standard behaviour and the range starts past the end of the object.
    """
    if not header:
        return None
    spec = header.strip()
    if not spec.lower().startswith("bytes="):
        return None
    first = spec[6:].split(",", 1)[0].strip()
    start_text, dash, end_text = first.partition("-")
    start_text, end_text = start_text.strip(), end_text.strip()
    if not dash or not (start_text or end_text):
        return None
    if not (start_text.isdigit() or not start_text) or not (end_text.isdigit() or not end_text):
        return None
    try:
        start = int(start_text) if start_text else None
        end = int(end_text) if end_text else None
    except ValueError:  # more digits than int() accepts: absurd, treat as unparseable
        return None
    if start is None:
        return _suffix(end or 0, size, standard, header)
    if end is not None and end < start:
        return None
    if start >= size:
        if standard:
            raise InvalidRange(requested=header, size=size)
        return None
    if end is None:
        return start, size - 1
    if end >= size:
        return (start, size - 1) if standard else None
    return start, end


def _suffix(count: int, size: int, standard: bool, header: str) -> tuple[int, int] | None:
    if count == 0 or size == 0:
        if standard:
            raise InvalidRange(requested=header, size=size)
        return None
    if count > size:
        return (0, size - 1) if standard else None
    return size - count, size - 1
