"""The doctor's runner: dependencies skip, a crashing check fails alone, readiness."""

from __future__ import annotations

from cloud.doctor import Check, DoctorError, DoctorSettings, Status, run_checks
from cloud.doctor.checks import CHECKS
from cloud.doctor.config import camera_account
from cloud.doctor.report import CheckResult, failed, passed
from cloud.settings import ResponderSettings

SETTINGS = ResponderSettings()
DOCTOR = DoctorSettings(responder=SETTINGS, probe_id="u0")


def _ok(name: str) -> Check[DoctorSettings]:
    return Check(name, lambda _s: passed(name, "fine"))


def _bad(name: str) -> Check[DoctorSettings]:
    return Check(name, lambda _s: failed(name, "broken", "mend it"))


def _crash(_s: DoctorSettings) -> CheckResult:
    raise RuntimeError("secret-looking detail")


def _no_answer(_s: DoctorSettings) -> CheckResult:
    raise DoctorError("OSS did not answer")


def test_a_failed_prerequisite_skips_its_dependants_only() -> None:
    report = run_checks(
        DOCTOR, [_bad("a"), Check("b", lambda _s: passed("b", "x"), needs=("a",)), _ok("c")]
    )
    statuses = {r.name: r.status for r in report.results}
    assert statuses == {"a": Status.FAIL, "b": Status.SKIP, "c": Status.PASS}
    assert "needs a" in report.by_name()["b"].reason
    assert not report.ready


def test_a_crashing_check_fails_alone_without_its_message() -> None:
    report = run_checks(DOCTOR, [Check("a", _crash), Check("b", _no_answer), _ok("c")])
    a, b, c = report.results
    assert a.status is Status.FAIL
    assert "RuntimeError" in a.reason
    assert "secret-looking" not in a.reason
    assert b.status is Status.FAIL
    assert b.reason == "OSS did not answer"
    assert c.status is Status.PASS


def test_ready_means_nothing_failed() -> None:
    assert run_checks(DOCTOR, [_ok("a"), _ok("b")]).ready
    document = run_checks(DOCTOR, [_ok("a"), _bad("b")]).to_json()
    assert document["ready"] is False
    assert document["checks"][1] == {
        "name": "b",
        "status": "fail",
        "reason": "broken",
        "fix": "mend it",
    }


def test_every_check_is_declared_once_and_needs_only_earlier_checks() -> None:
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))
    for index, check in enumerate(CHECKS):
        assert set(check.needs) <= set(names[:index]), check.name


def test_the_camera_password_stays_out_of_reprs() -> None:
    account = camera_account(SETTINGS.broker, "cam-test", "pw-never-shown")
    assert "pw-never-shown" not in repr(account)
    assert "pw-never-shown" not in repr(DoctorSettings(SETTINGS, SETTINGS.broker, camera=account))
