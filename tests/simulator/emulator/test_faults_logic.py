"""Fault decisions and operation names as pure logic."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.base.errors import EmulatorConfigError
from simulator.emulator.faults import FaultConfig, FaultInjector
from simulator.emulator.operations import classify_oss, classify_sts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def draws(config: dict[str, Any], n: int, operation: str = "AppendObject") -> list[str]:
    injector = FaultInjector(FaultConfig.parse(config), Clock())
    return [injector.decide(operation, "oss").kind for _ in range(n)]


def test_same_seed_same_faults_and_rates_roughly_hold() -> None:
    config = {
        "seed": 42,
        "rules": [{"error_rate": 0.2, "reset_rate": 0.1, "lost_response_rate": 0.1}],
    }
    first, second = draws(config, 2000), draws(config, 2000)
    assert first == second
    assert draws({**config, "seed": 43}, 2000) != first
    share = {kind: first.count(kind) / 2000 for kind in ("error", "reset", "lost_response", "none")}
    assert 0.16 < share["error"] < 0.24
    assert 0.07 < share["reset"] < 0.13
    assert 0.07 < share["lost_response"] < 0.13
    assert 0.54 < share["none"] < 0.66


def test_rules_apply_only_to_their_operations_and_throttle_only_to_sts() -> None:
    injector = FaultInjector(
        FaultConfig.parse({"rules": [{"operations": ["PutObject"], "error_rate": 1, "error_status": 500},
                                     {"operations": ["AssumeRole", "GetObject"], "throttle_rate": 1}]}),
        Clock(),
    )  # fmt: skip
    put = injector.decide("PutObject", "oss")
    assert (put.kind, put.status) == ("error", 500)
    assert injector.decide("AppendObject", "oss").kind == "none"
    assert injector.decide("AssumeRole", "sts").kind == "throttle"
    assert injector.decide("GetObject", "oss").kind == "none"
    assert injector.snapshot()["injected"] == {
        "PutObject": {"error": 1},
        "AssumeRole": {"throttle": 1},
    }


def test_latency_with_jitter_adds_up_across_rules() -> None:
    injector = FaultInjector(
        FaultConfig.parse(
            {
                "rules": [
                    {"latency_ms": 100, "jitter_ms": 50},
                    {"operations": ["GetObject"], "latency_ms": 10},
                ]
            }
        ),
        Clock(),
    )
    delays = [injector.decide("GetObject", "oss").delay_s for _ in range(200)]
    assert all(0.11 <= d <= 0.16 for d in delays)
    assert len(set(delays)) > 100
    assert injector.counters["GetObject"]["delayed"] == 200


def test_outage_window_on_the_emulator_clock() -> None:
    clock = Clock()
    injector = FaultInjector(
        FaultConfig.parse({"outages": [{"after_s": 10, "duration_s": 5, "mode": "reset"}]}), clock
    )
    assert injector.decide("PutObject", "oss").kind == "none"
    clock.now += 10
    assert injector.decide("PutObject", "oss").kind == "outage_reset"
    assert injector.decide("AssumeRole", "sts").kind == "none"  # only OSS is down
    clock.now += 5
    assert injector.decide("PutObject", "oss").kind == "none"


def test_open_ended_outage_of_both_services() -> None:
    injector = FaultInjector(
        FaultConfig.parse({"outages": [{"services": ["oss", "sts"]}]}), Clock()
    )
    decision = injector.decide("AssumeRole", "sts")
    assert (decision.kind, decision.status) == ("outage_error", 503)
    injector.configure(FaultConfig())
    assert injector.decide("AssumeRole", "sts").kind == "none"


@pytest.mark.parametrize(
    "config",
    [
        {"rules": [{"error_rate": 0.7, "reset_rate": 0.7}]},
        {"rules": [{"error_rate": 1.5}]},
        {"rules": [{"error_status": 404}]},
        {"rules": [{"surprise": 1}]},
        {"outages": [{"mode": "explode"}]},
        {"seed": "x"},
    ],
)
def test_invalid_fault_configs(config: dict[str, Any]) -> None:
    with pytest.raises(EmulatorConfigError):
        FaultConfig.parse(config, source="test")


def scope(
    method: str, path: str, query: bytes = b"", host: bytes = b"127.0.0.1:9000", **headers: bytes
) -> dict[str, Any]:
    hdrs = [(b"host", host), *((k.replace("_", "-").encode(), v) for k, v in headers.items())]
    return {"method": method, "path": path, "query_string": query, "headers": hdrs}


@pytest.mark.parametrize(
    ("request_scope", "operation"),
    [
        (scope("GET", "/"), "ListBuckets"),
        (scope("PUT", "/b"), "PutBucket"),
        (scope("DELETE", "/b/"), "DeleteBucket"),
        (
            scope("GET", "/b/", b"prefix=&delimiter=&marker=&max-keys=100&encoding-type=url"),
            "ListObjects",
        ),
        (scope("GET", "/b/", b"list-type=2&prefix="), "ListObjectsV2"),
        (scope("GET", "/b", b"bucketInfo"), "GetBucketInfo"),
        (scope("PUT", "/b", b"lifecycle"), "PutBucketLifecycle"),
        (scope("POST", "/b/", b"delete="), "DeleteMultipleObjects"),
        (scope("PUT", "/b/k/x.ts"), "PutObject"),
        (scope("PUT", "/b/k", x_oss_copy_source=b"/b/src"), "CopyObject"),
        (scope("POST", "/b/k", b"append=&position=0"), "AppendObject"),
        (scope("GET", "/b/k"), "GetObject"),
        (scope("HEAD", "/b/k"), "HeadObject"),
        (scope("HEAD", "/b/k", b"objectMeta"), "GetObjectMeta"),
        (scope("GET", "/b/k", b"acl"), "GetObjectAcl"),
        (scope("DELETE", "/b/k"), "DeleteObject"),
        (scope("POST", "/b/k", b"uploads"), "InitiateMultipartUpload"),
        (scope("PUT", "/b/k", b"partNumber=1&uploadId=x"), "UploadPart"),
        (scope("POST", "/b/k", b"uploadId=x"), "CompleteMultipartUpload"),
        (scope("DELETE", "/b/k", b"uploadId=x"), "AbortMultipartUpload"),
        (scope("PUT", "/k/x.ts", host=b"b.oss-cn-hangzhou.aliyuncs.com"), "PutObject"),
        (scope("GET", "/", b"prefix=", host=b"b.oss-cn-hangzhou.aliyuncs.com"), "ListObjects"),
        (scope("GET", "/", host=b"oss-cn-hangzhou.aliyuncs.com"), "ListBuckets"),
        (scope("GET", "/b/k", host=b"localhost:9000"), "GetObject"),
        (scope("GET", "/b/k", host=b"[::1]:9000"), "GetObject"),
        (scope("PATCH", "/b/k"), "Unknown"),
    ],
)
def test_oss_operation_names(request_scope: dict[str, Any], operation: str) -> None:
    assert classify_oss(request_scope) == operation


def test_sts_operation_names_stay_bounded() -> None:
    assert classify_sts(b"Action=AssumeRole&Version=x") == "AssumeRole"
    assert classify_sts(b"") == "AssumeRole"  # parameters in the body
    assert classify_sts(b"Action=" + b"x" * 500) == "Unknown"
