"""Retention: settings become bucket lifecycle rules in the real emulator."""

from __future__ import annotations

import oss2
import pytest

from cloud.console.errors import ConflictError, InvalidInputError
from cloud.console.retention import plan_rules
from cloud.console.settings import OssSettings
from tests.cloud.console.conftest import Operator, Stack

OSS = OssSettings(
    endpoint="http://127.0.0.1:1",
    bucket="b-1",
    region="cn-hangzhou",
    access_key_id="id",
    access_key_secret="secret",  # type: ignore[arg-type]
)


def bucket_rules(bucket: oss2.Bucket) -> dict[str, tuple[str, int]]:
    try:
        rules = bucket.get_bucket_lifecycle().rules
    except oss2.exceptions.NoSuchLifecycle:
        return {}
    return {r.id: (r.prefix, r.expiration.days) for r in rules}


def test_plan_fleet_and_shorter_camera_rules() -> None:
    plan = plan_rules(OSS, 30, {"cam-1": 7})
    assert [(r.rule_id, r.prefix, r.days) for r in plan.rules] == [
        ("ossmedia-fleet", "videos/", 30),
        ("ossmedia-camera-cam-1", "videos/cam-1/", 7),
    ]


def test_plan_refuses_camera_longer_than_fleet() -> None:
    with pytest.raises(ConflictError, match="cam-1"):
        plan_rules(OSS, 30, {"cam-1": 30})
    assert plan_rules(OSS, None, {"cam-1": 400}).rules[0].days == 400


@pytest.mark.parametrize("days", [0, -1, 36501])
def test_plan_refuses_out_of_range_days(days: int) -> None:
    with pytest.raises(InvalidInputError):
        plan_rules(OSS, days, {})


@pytest.fixture
def clean_lifecycle(root_bucket: oss2.Bucket) -> oss2.Bucket:
    root_bucket.delete_bucket_lifecycle()
    return root_bucket


def test_api_applies_rules_to_the_bucket(
    stack: Stack, operator: Operator, clean_lifecycle: oss2.Bucket
) -> None:
    bucket = clean_lifecycle
    foreign = oss2.models.LifecycleRule(
        "logs-cleanup",
        "logs/",
        status=oss2.models.LifecycleRule.ENABLED,
        expiration=oss2.models.LifecycleExpiration(days=3),
    )
    bucket.put_bucket_lifecycle(oss2.models.BucketLifecycle([foreign]))
    stack.camera("cam-1")
    h = operator.headers()

    reply = operator.http.put("/api/retention", json={"days": 30}, headers=h)
    assert reply.status_code == 200
    assert reply.json()["fleet_days"] == 30
    assert bucket_rules(bucket) == {
        "logs-cleanup": ("logs/", 3),
        "ossmedia-fleet": ("videos/", 30),
    }

    reply = operator.http.put("/api/cameras/cam-1/retention", json={"days": 7}, headers=h)
    assert reply.json()["camera_days"] == {"cam-1": 7}
    assert bucket_rules(bucket)["ossmedia-camera-cam-1"] == ("videos/cam-1/", 7)

    refused = operator.http.put("/api/cameras/cam-1/retention", json={"days": 60}, headers=h)
    assert refused.status_code == 409
    assert bucket_rules(bucket)["ossmedia-camera-cam-1"] == ("videos/cam-1/", 7)
    refused = operator.http.put("/api/retention", json={"days": 5}, headers=h)
    assert refused.status_code == 409
    assert operator.http.get("/api/retention").json()["fleet_days"] == 30

    unknown = operator.http.put("/api/cameras/cam-404/retention", json={"days": 1}, headers=h)
    assert unknown.status_code == 404
    bad = operator.http.put("/api/retention", json={"days": 0}, headers=h)
    assert bad.status_code == 400

    operator.http.put("/api/cameras/cam-1/retention", json={"days": None}, headers=h)
    operator.http.put("/api/retention", json={"days": None}, headers=h)
    assert bucket_rules(bucket) == {"logs-cleanup": ("logs/", 3)}
    assert operator.http.get("/api/retention").json() == {
        "fleet_days": None,
        "camera_days": {},
        "rules": [],
    }


def test_only_console_rules_exist_when_bucket_had_none(
    stack: Stack, operator: Operator, clean_lifecycle: oss2.Bucket
) -> None:
    operator.http.put("/api/retention", json={"days": 10}, headers=operator.headers())
    operator.http.put("/api/retention", json={"days": None}, headers=operator.headers())
    with pytest.raises(oss2.exceptions.NoSuchLifecycle):
        clean_lifecycle.get_bucket_lifecycle()


def test_rules_removed_behind_the_consoles_back_are_shown_as_drift_and_reapplied(
    stack: Stack, operator: Operator, clean_lifecycle: oss2.Bucket
) -> None:
    h = operator.headers()
    stack.camera("cam-1")
    assert operator.http.put("/api/retention", json={"days": 30}, headers=h).status_code == 200
    assert (
        operator.http.put("/api/cameras/cam-1/retention", json={"days": 7}, headers=h).status_code
        == 200
    )
    assert operator.http.get("/api/retention/bucket").json()["in_step"] is True

    # Someone deletes the lifecycle configuration in the OSS console and adds a rule of ours.
    clean_lifecycle.delete_bucket_lifecycle()
    stray = oss2.models.LifecycleRule(
        "ossmedia-camera-cam-9",
        "videos/cam-9/",
        status=oss2.models.LifecycleRule.ENABLED,
        expiration=oss2.models.LifecycleExpiration(days=1),
    )
    clean_lifecycle.put_bucket_lifecycle(oss2.models.BucketLifecycle([stray]))
    drift = operator.http.get("/api/retention/bucket").json()
    assert drift["in_step"] is False
    assert {r["rule_id"] for r in drift["missing"]} == {
        "ossmedia-fleet",
        "ossmedia-camera-cam-1",
    }
    assert [r["rule_id"] for r in drift["unexpected"]] == ["ossmedia-camera-cam-9"]
    assert [r["rule_id"] for r in drift["rules"]] == ["ossmedia-camera-cam-9"]
    page = operator.http.get("/retention").text
    assert "does not hold what the settings above call for" in page
    assert "ossmedia-camera-cam-9" in page

    again = operator.http.post("/api/retention/reapply", headers=h)
    assert again.status_code == 200
    assert operator.http.get("/api/retention/bucket").json()["in_step"] is True
    assert bucket_rules(clean_lifecycle) == {
        "ossmedia-fleet": ("videos/", 30),
        "ossmedia-camera-cam-1": ("videos/cam-1/", 7),
    }
    assert "does not hold" not in operator.http.get("/retention").text
