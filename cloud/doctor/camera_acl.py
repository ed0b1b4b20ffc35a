"""``broker.acl`` from a camera's configuration: what the camera's own account may do.

The camera subscribes to every camera's request and reply topics, sends a forged request and a
forged reply as another camera, then its own signed request. The responder's reply to that
request is the barrier: Mosquitto routes each PUBLISH as it reads it, so anything the forged
messages (or the responder's answer to a forged request) delivered to the camera is queued
before that reply. The camera must receive its own reply and nothing addressed to another
camera. A camera account alone cannot see a leak that lets it *read* another camera's replies
while it may not *write* there (nobody else sends to that camera here): the responder's run
(``broker.acl`` with ``--camera-user``) covers that case.
"""

from __future__ import annotations

from collections.abc import Callable

from cloud.doctor.broker import ACL
from cloud.doctor.creds import answers
from cloud.doctor.errors import DoctorError
from cloud.doctor.mqtt_probe import MqttProbe
from cloud.doctor.report import CheckResult, failed, passed
from schemas import build_request, encode
from schemas.broker import BrokerConnection
from schemas.keys import DeviceKeys
from schemas.topics import Topics

_FIX = (
    "give the camera only its own topics (deploy/mosquitto/acl: 'pattern write "
    "P/v1/%u/creds/req', 'pattern read P/v1/%u/creds/res', plus its events and status); "
    "remove any rule that grants cameras '+' or '#' on these topics"
)


def check_camera_acl(
    *,
    broker: BrokerConnection,
    device_id: str,
    other: str,
    keys: DeviceKeys,
    topics: Topics,
    access: str,
    duration_s: int,
    client_id: str,
    timeout_s: float,
    clock: Callable[[], float],
) -> CheckResult:
    """The camera may request and read its own replies, and nothing of another camera's."""
    request = build_request(
        keys, device_id, access=access, duration_s=duration_s, now_ms=int(clock() * 1000)
    )
    own_reply = topics.creds_res(device_id)
    probe = MqttProbe(broker, client_id=client_id, timeout_s=timeout_s)
    try:
        probe.connect()
        probe.subscribe(topics.creds_req_subscription())
        probe.subscribe(topics.creds_res(other).replace(f"/{other}/", "/+/"))
        probe.publish(topics.creds_req(other), b"doctor forged request")
        probe.publish(topics.creds_res(other), b"doctor forged reply")
        probe.publish(topics.creds_req(device_id), encode(request))
        reply = probe.wait_message(own_reply, lambda p: answers(p, request.request_id))
        leaks = [
            what
            for what, topic in (
                ("send requests as another camera", topics.creds_req(other)),
                ("read another camera's credential replies", topics.creds_res(other)),
            )
            if probe.received(topic)
        ]
    except DoctorError as exc:
        return failed(ACL, f"the ACL probe could not run: {exc}", "fix broker.login first")
    finally:
        probe.close()
    if reply is None:
        return failed(
            ACL,
            f"camera {device_id} got no reply on {own_reply} within {timeout_s:g} s",
            "let the camera write its request topic and read its reply topic, and check that "
            "the responder runs (see creds.request)",
        )
    if leaks:
        return failed(ACL, f"camera {device_id} can {' and '.join(leaks)}", _FIX)
    return passed(
        ACL,
        f"camera {device_id} requests and reads its own replies; requests and replies as "
        "another camera are not delivered",
    )
