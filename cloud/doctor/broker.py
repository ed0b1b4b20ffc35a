"""Check family ``broker``: reachable over verified TLS, the responder's account logs in, and
the ACL gives cameras and the responder exactly what protocol v1 needs.

``broker.acl`` proves what is *delivered*, not what SUBACKs say (Mosquitto grants a forbidden
subscription and filters at delivery). It relies on MQTT's per-publisher ordering: once a
later, allowed message from the same publisher has arrived, an earlier forbidden one would
have arrived before it. It needs a camera account; use a test camera, because the probe sends
a request and a reply on that camera's topics.
"""

from __future__ import annotations

import contextlib
import socket
import ssl

from cloud.doctor.errors import DoctorError
from cloud.doctor.mqtt_probe import MqttProbe
from cloud.doctor.report import CheckResult, failed, passed, skipped
from cloud.doctor.settings import DoctorSettings
from schemas.broker import BrokerConnection
from schemas.topics import Topics

TLS = "broker.tls"
LOGIN = "broker.login"
ACL = "broker.acl"
_ACL_FIX = (
    "use the project's ACL (deploy/mosquitto/acl): cameras only 'pattern write "
    "P/v1/%u/creds/req' and 'pattern read P/v1/%u/creds/res' (plus their events and status), "
    "the responder 'read P/v1/+/creds/req' and 'write P/v1/+/creds/res'; remove any rule "
    "that grants a camera '+' or '#' on these topics"
)


def check_tls(s: DoctorSettings) -> CheckResult:
    """TCP and TLS to the broker; its certificate verifies against the configured CA."""
    return tls_result(s.responder_broker, s.timeout_s)


def tls_result(a: BrokerConnection, timeout_s: float) -> CheckResult:
    """TCP and TLS to the broker of ``a``; its certificate verifies against ``a.ca_file``."""
    where = f"{a.host}:{a.port}"
    if not a.tls:
        return failed(
            TLS,
            f"the broker URL {a.url} is plain MQTT: passwords and replies cross the network "
            "unencrypted",
            "use mqtts://HOST:8883 in [broker] url with [broker] ca_file naming the broker's CA",
        )
    context = ssl.create_default_context(cafile=str(a.ca_file) if a.ca_file else None)
    try:
        if a.cert_file and a.key_file:
            context.load_cert_chain(str(a.cert_file), str(a.key_file))
    except (OSError, ssl.SSLError) as exc:
        return failed(
            TLS, f"cannot load the client certificate ({exc})", "check [broker] client_cert_file"
        )
    try:
        sock = socket.create_connection((a.host, a.port), timeout=timeout_s)
    except OSError as exc:
        return failed(
            TLS,
            f"the broker at {where} cannot be reached ({exc.strerror or exc})",
            "check [broker] url, that Mosquitto runs, and that the firewall lets this host in",
        )
    try:
        with context.wrap_socket(sock, server_hostname=a.host) as tls:
            version = tls.version()
    except ssl.SSLCertVerificationError as exc:
        ca = a.ca_file or "the system CAs"
        return failed(
            TLS,
            f"the broker's certificate does not verify against {ca}: {exc.verify_message}",
            f"set [broker] ca_file to the CA that signed the broker's certificate, or reissue "
            f"the broker's certificate from that CA for the name {a.host}",
        )
    except (OSError, ssl.SSLError) as exc:
        return failed(
            TLS, f"TLS handshake with {where} failed ({exc})", "check the broker's TLS listener"
        )
    finally:
        sock.close()
    return passed(
        TLS,
        f"{where} speaks {version}; its certificate verifies against {a.ca_file or 'the system CAs'}",
    )


def _connect(account: BrokerConnection, client_id: str, s: DoctorSettings) -> MqttProbe:
    return connect(account, client_id, s.timeout_s)


def connect(account: BrokerConnection, client_id: str, timeout_s: float) -> MqttProbe:
    """Log in with ``account``; raises :class:`DoctorError` when the broker refuses."""
    probe = MqttProbe(account, client_id=client_id, timeout_s=timeout_s)
    probe.connect()
    return probe


def check_login(s: DoctorSettings) -> CheckResult:
    """The responder's account logs in."""
    user = s.responder_broker.username or "(anonymous)"
    try:
        probe = _connect(s.responder_broker, f"doctor-{s.probe_id}-login", s)
    except DoctorError as exc:
        return failed(
            LOGIN,
            f"the responder's account {user} cannot log in: {exc}",
            "check [broker] username and password_file against the broker's accounts",
        )
    probe.close()
    return passed(LOGIN, f"the responder's account {user} logs in")


def check_acl(s: DoctorSettings) -> CheckResult:
    """Cameras and the responder may use exactly their protocol topics."""
    if s.camera is None:
        return skipped(ACL, "needs a test camera's account (--camera-user, --camera-password-file)")
    topics = Topics(s.responder.broker.topic_prefix)
    camera_id = s.camera.username or ""
    other = s.other_device
    with contextlib.ExitStack() as stack:
        try:
            responder = _connect(s.responder_broker, f"doctor-{s.probe_id}-r", s)
            stack.callback(responder.close)
            camera = _connect(s.camera, f"doctor-{s.probe_id}-c", s)
            stack.callback(camera.close)
            problems = _probe_acl(topics, responder, camera, camera_id, other)
        except DoctorError as exc:
            return failed(ACL, f"the ACL probe could not run: {exc}", "check both accounts' logins")
    if problems:
        return failed(ACL, "; ".join(problems), _ACL_FIX)
    return passed(
        ACL,
        f"camera {camera_id} may request and read only its own replies; the responder reads "
        "requests and answers cameras, and may not send as a camera",
    )


def _probe_acl(
    t: Topics, responder: MqttProbe, camera: MqttProbe, camera_id: str, other: str
) -> list[str]:
    problems: list[str] = []
    responder.subscribe(t.creds_req_subscription())
    camera.subscribe(t.creds_res(camera_id))
    camera.subscribe(t.creds_res(other).replace(f"/{other}/", "/+/"))
    # Forbidden first, then the allowed message from the same publisher as a barrier.
    camera.publish(t.creds_req(other), b"doctor forged request")
    responder.publish(t.creds_req(other), b"doctor responder as camera")
    camera.publish(t.creds_req(camera_id), b"doctor request")
    if not responder.wait_for(t.creds_req(camera_id), b"doctor request"):
        problems.append(f"the responder does not receive requests from camera {camera_id}")
    elif responder.received(t.creds_req(other)):
        problems.append("a camera or the responder can send requests as another camera")
    responder.publish(t.creds_res(other), b"doctor reply for another camera")
    if not responder.publish(t.creds_res(camera_id), b"doctor reply"):
        problems.append("the responder may not answer cameras")
    if not camera.wait_for(t.creds_res(camera_id), b"doctor reply"):
        problems.append(f"camera {camera_id} does not receive its replies")
    elif camera.received(t.creds_res(other)):
        problems.append(f"camera {camera_id} can read another camera's credential replies")
    return problems
