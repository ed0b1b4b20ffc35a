"""The emulator as a run finds it and leaves it: counters read as differences, faults put back.

An emulator given with ``--endpoint`` may serve other runs and tests: a run does not reset its
counters (it reports what changed while its cameras ran) and puts back the fault configuration
it found.
"""

from __future__ import annotations

from typing import Any

from simulator.fleet.services import LocalServices

__all__ = ["delta_stats", "injected_by_cause", "restore_faults"]


def delta_stats(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The emulator's counters ``after`` minus ``before`` (requests and injected faults)."""
    out: dict[str, Any] = {}
    for section in ("requests", "faults"):
        old = before.get(section, {})
        delta: dict[str, dict[str, int]] = {}
        for op, counts in after.get(section, {}).items():
            for kind, n in counts.items():
                diff = n - old.get(op, {}).get(kind, 0)
                if diff > 0:
                    delta.setdefault(op, {})[kind] = diff
        out[section] = delta
    return out


def injected_by_cause(injected: dict[str, dict[str, int]]) -> dict[str, int]:
    """Injected faults that make a camera retry, by service and kind (``oss:error``,
    ``sts:throttle``); added latency is not a retry and is left out."""
    causes: dict[str, int] = {}
    for op, kinds in injected.items():
        service = "sts" if op == "AssumeRole" else "oss"
        for kind, n in kinds.items():
            if kind != "delayed":
                causes[f"{service}:{kind}"] = causes.get(f"{service}:{kind}", 0) + n
    return causes


def restore_faults(services: LocalServices, config: dict[str, Any]) -> str:
    """Put back the fault configuration the emulator had before the run."""
    if not config.get("rules") and not config.get("outages"):
        return ""
    try:
        services.emulator.set_faults(config)
    except Exception as exc:
        return f"could not restore its fault configuration ({exc}); it injects none now"
    return "its fault configuration was restored (outage windows count from now)"
