"""Retention: how long recordings stay, applied by OSS itself as bucket lifecycle rules.

The fleet setting becomes one expiration rule on the fleet prefix (``videos/``); a camera
setting becomes a rule on that camera's prefix (``videos/cam-0001/``). OSS applies every
rule whose prefix matches an object, so when rules overlap the shortest one wins. A camera
can therefore be given a *shorter* retention than the fleet, but not a longer one while a
fleet rule exists: such a setting is refused instead of silently not working.

The console owns only rules whose id starts with ``ossmedia-``; other rules in the bucket
are kept as they are. OSS is changed first and the ledger second, so a failed OSS call
leaves the saved settings unchanged.

The bucket can change behind the console's back (someone deletes or edits the lifecycle
configuration in the OSS console). :meth:`Retention.drift` reads the rules the bucket really
holds and compares them with the saved settings; :meth:`Retention.reapply` puts the saved
settings back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cloud.console.errors import ConflictError, InvalidInputError
from cloud.console.ledger import FLEET, Ledger
from cloud.console.settings import OssSettings
from cloud.console.storage import ExpiryRule, ObjectStore

__all__ = [
    "MAX_DAYS",
    "RULE_ID_PREFIX",
    "Retention",
    "RetentionDrift",
    "RetentionPlan",
    "plan_rules",
]

RULE_ID_PREFIX = "ossmedia-"
MAX_DAYS = 36500


@dataclass(frozen=True)
class RetentionPlan:
    """Retention settings and the lifecycle rules that implement them.

    Attributes:
        fleet_days: days every camera keeps recordings, or None to keep them forever.
        camera_days: per-camera overrides (shorter than ``fleet_days`` when that is set).
        rules: the lifecycle rules for the bucket.
    """

    fleet_days: int | None
    camera_days: dict[str, int]
    rules: tuple[ExpiryRule, ...]


@dataclass(frozen=True)
class RetentionDrift:
    """The console's lifecycle rules as the bucket holds them, against the saved settings.

    Attributes:
        in_bucket: the ``ossmedia-`` rules the bucket holds now.
        missing: rules the saved settings call for that the bucket lacks (or holds changed).
        unexpected: ``ossmedia-`` rules in the bucket that the settings do not call for (or
            that differ from them).
    """

    in_bucket: tuple[ExpiryRule, ...]
    missing: tuple[ExpiryRule, ...]
    unexpected: tuple[ExpiryRule, ...]

    @property
    def in_step(self) -> bool:
        """Whether the bucket holds exactly the rules the settings make."""
        return not self.missing and not self.unexpected


def _check_days(field: str, days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(field, f"days must be between 1 and {MAX_DAYS}")


def plan_rules(
    oss: OssSettings, fleet_days: int | None, camera_days: dict[str, int]
) -> RetentionPlan:
    """Turn retention settings into lifecycle rules.

    Args:
        oss: bucket layout (prefix template).
        fleet_days: the fleet setting, or None.
        camera_days: per-camera settings.

    Returns:
        The plan.

    Raises:
        InvalidInputError: a number of days is out of range.
        ConflictError: a camera would keep recordings longer than the fleet rule allows.
    """
    _check_days("fleet_days", fleet_days)
    rules: list[ExpiryRule] = []
    if fleet_days is not None:
        rules.append(ExpiryRule(f"{RULE_ID_PREFIX}fleet", oss.fleet_prefix, fleet_days))
    too_long = []
    for device_id, days in sorted(camera_days.items()):
        _check_days("days", days)
        if fleet_days is not None and days >= fleet_days:
            too_long.append(device_id)
        rules.append(
            ExpiryRule(f"{RULE_ID_PREFIX}camera-{device_id}", oss.device_prefix(device_id), days)
        )
    if too_long:
        raise ConflictError(
            f"camera retention must be shorter than the fleet's {fleet_days} days "
            f"(OSS applies the shortest matching rule): {', '.join(too_long)}"
        )
    return RetentionPlan(fleet_days, dict(camera_days), tuple(rules))


class Retention:
    """Reads and changes retention, keeping the bucket and the ledger in step.

    Args:
        ledger: where the settings are saved.
        store: the bucket.
        oss: bucket layout.
    """

    def __init__(self, ledger: Ledger, store: ObjectStore, oss: OssSettings) -> None:
        self._ledger = ledger
        self._store = store
        self._oss = oss
        # Settings changes are read-modify-write of one rule set: one at a time.
        self._lock = threading.Lock()

    def current(self) -> RetentionPlan:
        """The saved settings and their rules."""
        fleet, cameras = self._ledger.retention()
        overrides = {k: v for k, v in cameras.items() if v is not None}
        try:
            return plan_rules(self._oss, fleet, overrides)
        except ConflictError:
            # Saved settings were valid when saved; show them even if the rule set is odd.
            return RetentionPlan(fleet, overrides, ())

    def drift(self) -> RetentionDrift:
        """Read the bucket's lifecycle rules and compare them with the saved settings.

        Raises:
            StorageError: OSS could not be read.
        """
        planned = set(self.current().rules)
        ours = tuple(
            sorted(
                (r for r in self._store.expiry_rules() if r.rule_id.startswith(RULE_ID_PREFIX)),
                key=lambda r: r.rule_id,
            )
        )
        held = set(ours)
        missing = tuple(sorted(planned - held, key=lambda r: r.rule_id))
        unexpected = tuple(r for r in ours if r not in planned)
        return RetentionDrift(ours, missing, unexpected)

    def reapply(self) -> RetentionPlan:
        """Write the saved settings' rules to the bucket again.

        Raises:
            StorageError: OSS refused the lifecycle configuration.
        """
        with self._lock:
            plan = self.current()
            self._apply(plan)
            return plan

    def _apply(self, plan: RetentionPlan) -> None:
        self._store.replace_expiry_rules(RULE_ID_PREFIX, list(plan.rules))

    def set_fleet(self, days: int | None) -> RetentionPlan:
        """Set (or with None, remove) the fleet retention.

        Raises:
            InvalidInputError: ``days`` out of range.
            ConflictError: a camera override is not shorter than ``days``.
            StorageError: OSS refused the lifecycle configuration.
        """
        with self._lock:
            _, cameras = self._ledger.retention()
            overrides = {k: v for k, v in cameras.items() if v is not None}
            plan = plan_rules(self._oss, days, overrides)
            self._apply(plan)
            if days is None:
                self._ledger.clear_retention(FLEET)
            else:
                self._ledger.set_retention(FLEET, days)
            return plan

    def set_camera(self, device_id: str, days: int | None) -> RetentionPlan:
        """Set (or with None, remove) one camera's retention override.

        Args:
            device_id: a validated device id.
            days: days to keep its recordings, or None to follow the fleet setting.

        Raises:
            InvalidInputError: ``days`` out of range.
            ConflictError: ``days`` is not shorter than the fleet retention.
            StorageError: OSS refused the lifecycle configuration.
        """
        with self._lock:
            fleet, cameras = self._ledger.retention()
            overrides = {k: v for k, v in cameras.items() if v is not None}
            if days is None:
                overrides.pop(device_id, None)
            else:
                overrides[device_id] = days
            plan = plan_rules(self._oss, fleet, overrides)
            self._apply(plan)
            if days is None:
                self._ledger.clear_retention(device_id)
            else:
                self._ledger.set_retention(device_id, days)
            return plan
