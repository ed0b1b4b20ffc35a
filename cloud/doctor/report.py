"""What the doctor found: one result per check, and whether the setup is ready.

A check *passes*, *fails* (with the reason in plain words and the fix), or is *skipped*: a
check it depends on failed (its result would only repeat that failure), or the configuration
it needs was not given. The setup is ready when no check failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The outcome of one check."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: the check, ``family.what`` (``sts.assume_role``, ``broker.tls`` ...).
        status: pass, fail or skip.
        reason: what was found, in plain words (never a secret).
        fix: what to change when it failed; empty otherwise.
    """

    name: str
    status: Status
    reason: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "fix": self.fix,
        }


def passed(name: str, reason: str) -> CheckResult:
    """A passing result."""
    return CheckResult(name, Status.PASS, reason)


def failed(name: str, reason: str, fix: str) -> CheckResult:
    """A failing result; ``fix`` says what to change."""
    return CheckResult(name, Status.FAIL, reason, fix)


def skipped(name: str, reason: str) -> CheckResult:
    """A check that did not run (reason: which prerequisite is missing)."""
    return CheckResult(name, Status.SKIP, reason)


@dataclass(frozen=True)
class Report:
    """Every check's result, in the order they ran."""

    results: tuple[CheckResult, ...]

    @property
    def ready(self) -> bool:
        """No check failed."""
        return all(r.status is not Status.FAIL for r in self.results)

    def by_name(self) -> dict[str, CheckResult]:
        """Results keyed by check name."""
        return {r.name: r for r in self.results}

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {"ready": self.ready, "checks": [r.to_json() for r in self.results]}

    def render(self) -> str:
        """Readable lines: one per check, the fix indented under each failure."""
        lines = []
        for r in self.results:
            lines.append(f"{r.status.value.upper():4}  {r.name}: {r.reason}")
            if r.fix:
                lines.append(f"      fix: {r.fix}")
        verdict = "ready" if self.ready else "NOT ready"
        failures = sum(r.status is Status.FAIL for r in self.results)
        lines.append(f"{verdict}: {failures} check(s) failed")
        return "\n".join(lines) + "\n"
