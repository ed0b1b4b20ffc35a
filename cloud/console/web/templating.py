"""Jinja2 environment for the pages: autoescaping everywhere, and a few display filters."""

from __future__ import annotations

import datetime as dt

import jinja2

__all__ = ["make_environment"]


def _ts(ms: int | None) -> str:
    if ms is None:
        return "—"
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(ms: int | None) -> str:
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%H:%M:%S")


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    seconds = abs(int(ms)) // 1000
    sign = "-" if ms < 0 else ""
    if seconds < 60:
        return f"{sign}{seconds} s" if seconds else f"{sign}{abs(int(ms))} ms"
    if seconds < 3600:
        return f"{sign}{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{sign}{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{sign}{seconds // 86400} d {seconds % 86400 // 3600} h"


def _ago(ms: int | None, now_ms: int) -> str:
    if ms is None:
        return "—"
    elapsed = now_ms - ms
    # A camera clock a little ahead of the console's is not "in the future" to an operator.
    return "just now" if elapsed < 1000 else f"{_duration(elapsed)} ago"


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - loop always returns


def make_environment() -> jinja2.Environment:
    """The template environment: package templates, autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cloud.console.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ts"] = _ts
    env.filters["clock"] = _clock
    env.filters["duration"] = _duration
    env.filters["size"] = _size
    env.filters["ago"] = _ago
    return env
