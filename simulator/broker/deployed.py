"""``deploy/mosquitto/mosquitto.conf`` made runnable on this machine, for tests and benches.

Only machine-specific values are swapped: the two listeners' ports (bound to loopback), the
paths of the certificates, password file, ACL, dynamic-security plugin and its file, the
persistence directory, and the run-as user. Every other directive is used exactly as
shipped. Without TLS material the listeners' TLS lines are left out (plain MQTT; a bench
then measures the broker's work, not encryption).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from simulator.broker.binaries import find_dynsec_plugin
from simulator.broker.config import MosquittoSettings, PasswordEntry, TlsSettings
from simulator.broker.dynsec import write_bootstrap
from simulator.broker.errors import BrokerConfigError
from simulator.broker.process import MosquittoProcess, pick_free_port
from simulator.broker.render import write_password_file

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
_TLS_KEYS = frozenset({"certfile", "keyfile", "cafile", "tls_version", "require_certificate"})


@dataclass(frozen=True)
class DeployedBroker:
    """The adapted configuration and what clients need to reach it.

    Attributes:
        config_file: the ``mosquitto.conf`` to run.
        camera_port: the camera listener (dynamic-security plugin, ``use_username_as_clientid``).
        service_port: the service listener (password file and ACL).
        tls: the camera listener's TLS settings, ``None`` for plain MQTT.
        replaced: the directives that were swapped, in file order (a test checks them).
    """

    config_file: Path
    camera_port: int
    service_port: int
    tls: TlsSettings | None
    replaced: tuple[str, ...]

    def process(self, workdir: Path) -> MosquittoProcess:
        """An unstarted :class:`MosquittoProcess` for it (its ``url`` is the camera listener)."""
        settings = MosquittoSettings(port=self.camera_port, tls=self.tls)
        return MosquittoProcess(settings, workdir, config_file=self.config_file)


def adapt_deploy_config(
    workdir: Path,
    *,
    services: Mapping[str, str],
    admins: Mapping[str, str],
    tls: TlsSettings | None = None,
    deploy_dir: Path = DEPLOY_DIR,
) -> DeployedBroker:
    """Write the deploy configuration with this machine's ports and paths into ``workdir``.

    Args:
        workdir: an existing private directory.
        services: service accounts (password file of the service listener).
        admins: dynamic-security admin accounts of the camera listener (the first one is
            written as ``svc.provisioner`` is by ``dynsec-init``, the others with the same role).
        tls: certificate and key for both listeners, or ``None`` for plain MQTT.
        deploy_dir: where ``mosquitto.conf`` and ``acl`` are.

    Raises:
        BrokerConfigError: the deploy files are missing, or a directive was not where expected.
        MosquittoNotFoundError: ``mosquitto_passwd`` or the plugin is not installed.
    """
    try:
        shipped = (deploy_dir / "mosquitto.conf").read_text(encoding="utf-8")
        acl_text = (deploy_dir / "acl").read_text(encoding="utf-8")
    except OSError as exc:
        raise BrokerConfigError(f"cannot read the deploy configuration: {exc}") from None
    camera_port, service_port = pick_free_port(), pick_free_port()
    while service_port == camera_port:
        service_port = pick_free_port()
    passwd = workdir / "passwd"
    entries = tuple(
        PasswordEntry(username=user, password=SecretStr(secret))
        for user, secret in services.items()
    )
    write_password_file(MosquittoSettings(passwords=entries), passwd)
    acl = workdir / "acl"
    acl.write_text(acl_text, encoding="utf-8")
    (workdir / "data").mkdir(exist_ok=True)
    dynsec = workdir / "dynamic-security.json"
    write_bootstrap(dynsec, admins)
    replacements = {
        "plugin": find_dynsec_plugin(),
        "plugin_opt_config_file": str(dynsec),
        "password_file": str(passwd),
        "acl_file": str(acl),
        "persistence_location": f"{workdir / 'data'}/",
    }
    if tls is not None:
        replacements.update(
            certfile=str(tls.certfile),
            keyfile=str(tls.keyfile),
            cafile=str(tls.cafile or tls.certfile),
        )
    ports = iter([camera_port, service_port])
    replaced: list[str] = []
    # Started as root, Mosquitto would switch to the "mosquitto" user, who cannot read files
    # in a private work directory.
    lines = [f"user {pwd.getpwuid(os.geteuid()).pw_name}"]
    for line in shipped.splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {next(ports)} 127.0.0.1"
        elif tls is None and key in _TLS_KEYS:
            replaced.append(key)
            continue
        elif key in replacements:
            line = f"{key} {replacements[key]}"
        else:
            lines.append(line)
            continue
        replaced.append(key)
        lines.append(line)
    missing = set(replacements) - set(replaced)
    if missing or replaced.count("listener") != 2:
        raise BrokerConfigError(f"the deploy configuration lacks {sorted(missing)} or a listener")
    config = workdir / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return DeployedBroker(config, camera_port, service_port, tls, tuple(replaced))
