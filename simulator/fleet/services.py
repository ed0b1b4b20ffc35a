"""The services a fleet run talks to: started locally, or given from outside.

:class:`LocalServices` starts Mosquitto with the project's access model (cameras may only use
their own topics; the responder account answers everyone), the OSS + STS emulator in this
process, a device registry and a credential responder; optional TCP fault proxies sit in front
of the broker and the OSS endpoint so a ``link`` step can shape what cameras see. It also
carries out the disruptive steps: broker and responder restarts and emulator faults.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import oss2
from pydantic import SecretStr

from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.responder.app import Responder, build_responder
from cloud.settings import BrokerSettings as ResponderBroker
from cloud.settings import (
    GrantSettings,
    Limits,
    RegistrySettings,
    ResponderSettings,
    ServiceSettings,
    StsSettings,
)
from schemas.durations import MIN_SESSION_DURATION_S
from simulator.broker import (
    DEFAULT_RESPONDER_USER,
    MosquittoProcess,
    MosquittoSettings,
    project_acl,
)
from simulator.emulator.handle import AdminClient, EmulatorHandle, running_emulator
from simulator.emulator.settings import EmulatorSettings
from simulator.netfault import FaultProxy, LinkProfile, running_proxy

__all__ = ["LocalServices", "ServiceUrls", "local_services"]


@dataclass(frozen=True)
class ServiceUrls:
    """Where cameras connect (through the fault proxies when there are any)."""

    broker_url: str
    oss_endpoint: str


class LocalServices:
    """Broker, emulator, registry and responder(s) on this machine.

    Args:
        broker: a started Mosquitto (``None``: an external broker at ``broker_url``).
        emulator: a running emulator.
        workdir: where the registry lives.
        credential_duration_s: the largest credential lifetime the responder grants.
        responders: how many responder instances share the request topic.
        broker_proxy: fault proxy in front of the broker, if any.
        oss_proxy: fault proxy in front of the OSS endpoint, if any.
        broker_url: the external broker, when ``broker`` is ``None``.
        basic_broker: the broker speaks only MQTT 3.1.1 without shared subscriptions
            (the embedded amqtt broker); one responder then answers everything.
        prefix_template: where each camera's objects go (``{device_id}`` in it).
    """

    def __init__(
        self,
        broker: MosquittoProcess | None,
        emulator: EmulatorHandle,
        workdir: Path,
        *,
        broker_url: str | None = None,
        basic_broker: bool = False,
        credential_duration_s: int = 3600,
        responders: int = 1,
        broker_proxy: FaultProxy | None = None,
        oss_proxy: FaultProxy | None = None,
        prefix_template: str = "videos/{device_id}/",
    ) -> None:
        self.broker = broker
        self.emulator = emulator
        self.broker_proxy = broker_proxy
        self.oss_proxy = oss_proxy
        master = new_master_key()
        registry_url = f"sqlite:///{workdir / 'registry.db'}"
        self.registry = Registry(open_store(registry_url), MasterKey.from_text(master))
        oss_endpoint = emulator.oss_endpoint
        if oss_proxy is not None:
            oss_endpoint = f"http://127.0.0.1:{oss_proxy.port}"
        direct_broker = broker.url if broker is not None else broker_url or ""
        broker_url = direct_broker
        if broker_proxy is not None:
            broker_url = f"mqtt://127.0.0.1:{broker_proxy.port}"
        self.urls = ServiceUrls(broker_url=broker_url, oss_endpoint=oss_endpoint)
        self.settings = ResponderSettings(
            broker=ResponderBroker(
                url=direct_broker,
                username=DEFAULT_RESPONDER_USER,
                protocol="3.1.1" if basic_broker else "5",
                shared_group="" if basic_broker else "ossmedia-responders",
                keepalive_s=10,
                reconnect_initial_s=0.1,
                reconnect_max_s=1.0,
            ),
            sts=StsSettings(
                endpoint=emulator.sts_endpoint,
                region=emulator.region,
                access_key_id=emulator.access_key_id,
                access_key_secret=SecretStr(emulator.access_key_secret),
                role_arn=emulator.role_arn,
                max_duration_s=max(MIN_SESSION_DURATION_S, credential_duration_s),
            ),
            grant=GrantSettings(
                bucket=emulator.bucket,
                oss_endpoint=oss_endpoint,
                region=emulator.region,
                prefix_template=prefix_template,
            ),
            limits=Limits(device_requests_per_minute=120, device_burst=20),
            registry=RegistrySettings(url=registry_url, master_key=SecretStr(master)),
            service=ServiceSettings(metrics_port=-1, workers=8, log_level="ERROR"),
        )
        self._lock = threading.Lock()
        self.responders: list[Responder] = [self._start_responder() for _ in range(responders)]
        # Latency histograms of responders stopped by a restart, so no answer goes uncounted.
        self._past_latency: dict[float, float] = {}

    def _start_responder(self) -> Responder:
        responder = build_responder(self.settings, with_http=False)
        responder.start()
        if not responder.service.wait_connected(15):
            responder.stop()
            raise RuntimeError("the responder did not connect to the broker")
        return responder

    def provision(self, device_id: str) -> str:
        """Add a device to the registry and return its secret."""
        _, secret = self.registry.add(device_id)
        return secret

    def restart_broker(self, downtime_s: float, stop: threading.Event) -> None:
        """Kill Mosquitto, wait ``downtime_s``, start it again on the same port."""
        if self.broker is None:
            raise RuntimeError("cannot restart an external broker")
        self.broker.kill()
        stop.wait(downtime_s)
        self.broker.start()

    def restart_responder(self, downtime_s: float, stop: threading.Event) -> None:
        """Stop every responder, wait ``downtime_s``, start them again."""
        with self._lock:
            count = len(self.responders)
            for responder in self.responders:
                for bound, hits in _latency_buckets(responder).items():
                    self._past_latency[bound] = self._past_latency.get(bound, 0.0) + hits
                responder.stop()
            self.responders = []
        stop.wait(downtime_s)
        with self._lock:
            self.responders = [self._start_responder() for _ in range(count)]

    def set_link(self, profile: LinkProfile) -> None:
        """Shape the cameras' links to the broker and to OSS."""
        for proxy in (self.broker_proxy, self.oss_proxy):
            if proxy is not None:
                proxy.set_profile(profile)

    def reply_latencies(self) -> list[tuple[float, float]]:
        """The responders' latency histogram as (upper bound s, cumulative count) pairs."""
        with self._lock:
            merged = dict(self._past_latency)
            for responder in self.responders:
                for bound, count in _latency_buckets(responder).items():
                    merged[bound] = merged.get(bound, 0.0) + count
        return sorted(merged.items())

    def prefix_for(self, device_id: str) -> str:
        """Where ``device_id``'s objects go in this run."""
        return self.settings.grant.prefix_for(device_id)

    def bucket(self) -> oss2.Bucket:
        """The emulator bucket with root credentials, for reading back what cameras stored."""
        auth = oss2.Auth(self.emulator.access_key_id, self.emulator.access_key_secret)
        return oss2.Bucket(auth, self.emulator.oss_endpoint, self.emulator.bucket)

    def close(self) -> None:
        """Stop the responders and close the registry."""
        with self._lock:
            for responder in self.responders:
                responder.stop()
            self.responders = []
        self.registry.close()


def _latency_buckets(responder: Responder) -> dict[float, float]:
    out: dict[float, float] = {}
    for metric in responder.metrics.latency.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                out[bound] = out.get(bound, 0.0) + sample.value
    return out


@contextlib.contextmanager
def local_services(
    workdir: Path,
    *,
    credential_duration_s: int = 3600,
    with_proxies: bool = False,
    seed: int = 0,
    responders: int = 1,
    broker_url: str | None = None,
    emulator_endpoint: str | None = None,
    admin_token: str | None = None,
    basic_broker: bool = False,
    store_dir: Path | None = None,
    prefix_template: str = "videos/{device_id}/",
) -> Iterator[LocalServices]:
    """Start broker, emulator, registry and responder(s); stop them at the end.

    Args:
        workdir: scratch directory (broker files, registry).
        credential_duration_s: the largest credential lifetime granted.
        with_proxies: put TCP fault proxies in front of the broker and OSS.
        seed: seeds the emulator and the proxies.
        responders: number of responder instances.
        broker_url: use this broker instead of starting Mosquitto.
        emulator_endpoint: use this running emulator instead of starting one.
        admin_token: the running emulator's admin token.
        basic_broker: the external broker lacks MQTT 5 and shared subscriptions.
        store_dir: keep the emulator's objects in files here (not fsync'd) instead of in
            memory; for runs that store more than the machine's memory should hold.
        prefix_template: where each camera's objects go (``{device_id}`` in it).
    """
    broker: MosquittoProcess | None = None
    if broker_url is None:
        broker_settings = MosquittoSettings(
            acl=project_acl(), max_queued_messages=100_000, max_inflight_messages=1000
        )
        broker = MosquittoProcess(broker_settings, workdir / "broker")
        broker.start()
    try:
        with contextlib.ExitStack() as stack:
            if emulator_endpoint is None:
                emu_settings = EmulatorSettings(
                    port=0, access_log=False, seed=seed, data_dir=store_dir, fsync=False
                )
                emulator = stack.enter_context(running_emulator(emu_settings))
            else:
                admin = AdminClient(emulator_endpoint, admin_token or "")
                emulator = EmulatorHandle.from_info(admin.call("GET", "/info"))
            broker_proxy = oss_proxy = None
            if with_proxies and broker is not None:
                broker_proxy = stack.enter_context(
                    running_proxy(("127.0.0.1", broker.port), seed=seed)
                )
            if with_proxies:
                oss_proxy = stack.enter_context(
                    running_proxy(("127.0.0.1", emulator.port), seed=seed + 1)
                )
            services = LocalServices(
                broker,
                emulator,
                workdir,
                broker_url=broker_url,
                basic_broker=basic_broker,
                credential_duration_s=credential_duration_s,
                responders=responders,
                broker_proxy=broker_proxy,
                oss_proxy=oss_proxy,
                prefix_template=prefix_template,
            )
            try:
                yield services
            finally:
                services.close()
    finally:
        if broker is not None:
            broker.stop()
