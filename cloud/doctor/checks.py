"""Every check the doctor runs, declared once: name, what it needs, and the function.

A check runs only when every check it depends on passed; otherwise it is skipped and says
which one to fix first (its own result would only repeat that failure). The order here is the
order of the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cloud.doctor import broker, bucket, clock, grant, registry, sts
from cloud.doctor.errors import DoctorError
from cloud.doctor.report import CheckResult, Report, Status, failed, skipped
from cloud.doctor.settings import DoctorSettings


@dataclass(frozen=True)
class Check:
    """One check.

    Attributes:
        name: ``family.what``; the name results and ``--json`` use.
        run: the check itself.
        needs: checks that must pass first.
    """

    name: str
    run: Callable[[DoctorSettings], CheckResult]
    needs: tuple[str, ...] = ()


CHECKS: tuple[Check, ...] = (
    Check(clock.NAME, clock.check_clock),
    Check(sts.NAME, sts.check_sts, needs=(clock.NAME,)),
    Check(bucket.EXISTS, bucket.check_exists, needs=(clock.NAME,)),
    Check(bucket.BLOCK_PUBLIC_ACCESS, bucket.check_block_public_access, needs=(bucket.EXISTS,)),
    Check(grant.GRANT, grant.check_grant, needs=(sts.NAME, bucket.EXISTS)),
    Check(grant.ROLE_SCOPE, grant.check_role_scope, needs=(sts.NAME, bucket.EXISTS)),
    Check(broker.TLS, broker.check_tls),
    Check(broker.LOGIN, broker.check_login, needs=(broker.TLS,)),
    Check(broker.ACL, broker.check_acl, needs=(broker.LOGIN,)),
    Check(registry.NAME, registry.check_registry),
)


def run_checks(settings: DoctorSettings, checks: Sequence[Check] = CHECKS) -> Report:
    """Run the checks in order.

    Args:
        settings: what to check.
        checks: the checks (all of them unless a caller narrows them).

    Returns:
        The report; :attr:`Report.ready` says whether the setup is ready.
    """
    results: dict[str, CheckResult] = {}
    for check in checks:
        blocked = [n for n in check.needs if n in results and results[n].status is not Status.PASS]
        if blocked:
            results[check.name] = skipped(check.name, f"needs {', '.join(blocked)} to pass first")
            continue
        try:
            results[check.name] = check.run(settings)
        except DoctorError as exc:
            results[check.name] = failed(
                check.name, exc.message, "check the network path to the endpoint and run again"
            )
        except Exception as exc:  # one broken check must not hide the others
            results[check.name] = failed(
                check.name,
                f"the check stopped with {type(exc).__name__}",
                "run the doctor again; if it repeats, report it with the configuration",
            )
    return Report(tuple(results.values()))
