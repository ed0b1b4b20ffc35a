"""Check family ``creds``: one credential request end to end, as the camera makes it.

The doctor signs a request with the camera's secret, sends it on the camera's request topic
with the camera's account, and waits for the responder's reply on the camera's reply topic. It
passes when the reply is a credential the camera can open (sealed with the key its secret
derives). A refusal is explained in plain words: a signed refusal by its code; an unsigned one
(the responder does not know the device, or the secret differs from the registry's, so it
cannot sign for this camera) as unverifiable.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from cloud.doctor.errors import DoctorError
from cloud.doctor.mqtt_probe import MqttProbe
from cloud.doctor.report import CheckResult, failed, passed
from schemas import (
    CredsResponseError,
    CredsResponseOk,
    ErrorCode,
    SchemaError,
    build_request,
    encode,
    open_ok_response,
    parse_response,
    verify_error_response,
)
from schemas.broker import BrokerConnection
from schemas.keys import DeviceKeys
from schemas.topics import Topics

NAME = "creds.request"
_REPROVISION_FIX = (
    "the camera's secret is not the one the registry holds for {device}: write a fresh "
    "camera.toml with 'ossmedia devices --config responder.toml rotate {device} "
    "--config-out camera.toml' (or 'add' if the device was never provisioned)"
)
_CODE_WORDS: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.REVOKED: (
        "the device is revoked",
        "reinstate it ('ossmedia devices reinstate {device}') if it should run again",
    ),
    ErrorCode.ACCESS_DENIED: (
        "the device may not have the access it asks for ({access})",
        "set [credentials] access in camera.toml to an access the device was provisioned "
        "with, or re-provision it with 'ossmedia devices add --access'",
    ),
    ErrorCode.CLOCK_SKEW: (
        "this host's clock is too far from the responder's",
        "synchronise the camera's clock (NTP) and run again",
    ),
    ErrorCode.STS_UNAVAILABLE: (
        "the responder could not reach STS",
        "run 'ossmedia doctor --config responder.toml' on the responder's host",
    ),
}


def check_request(
    *,
    broker: BrokerConnection,
    device_id: str,
    keys: DeviceKeys,
    topics: Topics,
    access: str,
    duration_s: int,
    client_id: str,
    timeout_s: float,
    clock: Callable[[], float],
) -> CheckResult:
    """Send one signed credential request as the camera and judge the reply."""
    request = build_request(
        keys, device_id, access=access, duration_s=duration_s, now_ms=int(clock() * 1000)
    )
    probe = MqttProbe(broker, client_id=client_id, timeout_s=timeout_s)
    try:
        probe.connect()
        probe.subscribe(topics.creds_res(device_id))
        probe.publish(topics.creds_req(device_id), encode(request))
        payload = probe.wait_message(
            topics.creds_res(device_id), lambda p: answers(p, request.request_id)
        )
    except DoctorError as exc:
        return failed(NAME, f"the request could not be sent: {exc}", "fix broker.login first")
    finally:
        probe.close()
    if payload is None:
        return failed(
            NAME,
            f"no reply from the responder within {timeout_s:g} s",
            "check that the responder runs, is connected to this broker with the same "
            "topic_prefix, and that the broker ACL lets it read requests and answer cameras",
        )
    try:
        reply = parse_response(payload)
    except SchemaError as exc:
        return failed(
            NAME,
            f"the reply on the camera's topic is not a protocol v1 reply ({exc})",
            "check that only the responder may write to cameras' reply topics (broker ACL)",
        )
    return _judge(reply, keys, device_id, access)


def answers(payload: bytes, request_id: str) -> bool:
    """Whether ``payload`` is a reply to ``request_id``."""
    try:
        return bool(json.loads(payload).get("request_id") == request_id)
    except (ValueError, AttributeError):
        return False


def _judge(
    reply: CredsResponseOk | CredsResponseError, keys: DeviceKeys, device_id: str, access: str
) -> CheckResult:
    if isinstance(reply, CredsResponseError):
        code = reply.error.code
        if not verify_error_response(keys, reply):
            return failed(
                NAME,
                f"the responder refused the request ({code.value}) and could not sign the "
                f"refusal for this camera: it does not know {device_id} with this secret",
                _REPROVISION_FIX.format(device=device_id),
            )
        words, fix = _CODE_WORDS.get(
            code, (f"the responder refused the request ({code.value})", "see docs/protocol.md")
        )
        return failed(
            NAME,
            f"{words.format(access=access)} ({code.value}: {reply.error.message})",
            fix.format(device=device_id),
        )
    try:
        sealed = open_ok_response(keys, reply)
    except SchemaError:
        return failed(
            NAME,
            "the responder's credential cannot be opened with this camera's secret",
            _REPROVISION_FIX.format(device=device_id),
        )
    grant = sealed.grant
    return passed(
        NAME,
        f"the responder answered with a credential the camera opens: {grant.access} under "
        f"{grant.prefix} in bucket {grant.bucket} ({grant.endpoint})",
    )
