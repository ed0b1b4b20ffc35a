"""Start-up checks: a responder that cannot answer correctly must not join the group.

``ossmedia responder --check`` and every start run the same checks:

- secrets present and well-formed: the STS AccessKey id and secret, the role ARN, the broker
  password when one is configured, the master key;
- the shared state backend answers;
- the master key is the registry's (its stored check value matches, see
  :meth:`~cloud.registry.Registry.verify_key`).

A start also asks STS once for credentials (one AssumeRole call, outside the call cap), so an
AccessKey or role STS refuses stops the process before it subscribes; an STS that does not
answer only produces a warning, since that is the outage every request already reports as
``sts_unavailable``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from cloud.errors import CloudError, ConfigError, StsRejected, StsUnavailable
from cloud.registry import KeyCheck, Registry, master_key_from, open_registry
from cloud.settings import ResponderSettings
from cloud.state import SharedState, open_state

_log = logging.getLogger("ossmedia.responder.preflight")
_ROLE_ARN = re.compile(r"acs:ram::\d+:role/[A-Za-z0-9.@_+=,\-]{1,64}\Z", re.ASCII)
_KEY_TEXT = re.compile(r"[\x21-\x7e]+\Z", re.ASCII)  # printable ASCII, no whitespace


@dataclass(frozen=True)
class Findings:
    """What the checks found.

    Attributes:
        problems: one sentence per broken thing (never a secret).
        notes: facts worth telling the operator (the registry is empty, STS did not answer).
    """

    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing is broken."""
        return not self.problems


def settings_problems(settings: ResponderSettings) -> list[str]:
    """Secrets and identifiers that are missing or malformed (no network)."""
    problems: list[str] = []
    sts = settings.sts
    if not sts.access_key_id:
        problems.append("sts.access_key_id is empty")
    elif not _KEY_TEXT.match(sts.access_key_id):
        problems.append("sts.access_key_id holds spaces or control characters")
    secret = sts.access_key_secret.get_secret_value()
    if not secret:
        problems.append(
            "no STS AccessKey secret: set OSSMEDIA_STS_ACCESS_KEY_SECRET or "
            "sts.access_key_secret_file (a non-empty file)"
        )
    elif not _KEY_TEXT.match(secret):
        problems.append("the STS AccessKey secret holds spaces or control characters")
    if not sts.role_arn:
        problems.append("sts.role_arn is empty")
    elif not _ROLE_ARN.match(sts.role_arn):
        problems.append("sts.role_arn is not of the form acs:ram::ACCOUNT:role/NAME")
    broker = settings.broker
    if broker.password is not None and not broker.password.get_secret_value():
        problems.append("the broker password is empty (OSSMEDIA_BROKER_PASSWORD or password_file)")
    if broker.password is not None and broker.username is None:
        problems.append("a broker password is set but broker.username is not")
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(broker, name)
        if path is not None:
            try:
                path.read_bytes()
            except OSError as exc:
                problems.append(f"broker.{name}: cannot read {path} ({exc.strerror})")
    quarantine = settings.quarantine
    if quarantine.url is not None:
        if quarantine.password is None or not quarantine.password.get_secret_value():
            problems.append(
                "the quarantine password is empty (OSSMEDIA_QUARANTINE_PASSWORD or password_file)"
            )
        if quarantine.ca_file is not None:
            try:
                quarantine.ca_file.read_bytes()
            except OSError as exc:
                problems.append(
                    f"quarantine.ca_file: cannot read {quarantine.ca_file} ({exc.strerror})"
                )
    try:
        master_key_from(settings.registry)
    except ConfigError as exc:
        problems.append(exc.message)
    return problems


def check_setup(settings: ResponderSettings) -> Findings:
    """What ``ossmedia responder --check`` runs: every check but the STS call, writing nothing.

    Args:
        settings: the loaded settings.
    """
    problems = settings_problems(settings)
    if problems:
        return Findings(tuple(problems))
    state = open_state(settings.state)
    try:
        registry = open_registry(settings.registry)
    except CloudError as exc:
        state.close()
        return Findings((exc.message,))
    try:
        found, notes = check_dependencies(state, registry, record_key=False)
    finally:
        registry.close()
        state.close()
    return Findings(tuple(found), tuple(notes))


def check_dependencies(
    state: SharedState, registry: Registry, *, record_key: bool
) -> tuple[list[str], list[str]]:
    """Probe the state backend and the registry.

    Args:
        state: the shared state.
        registry: the registry, opened with the configured master key.
        record_key: record the key's check value in a registry that has none yet.

    Returns:
        ``(problems, notes)``.
    """
    problems: list[str] = []
    notes: list[str] = []
    try:
        state.ping()
    except CloudError as exc:
        problems.append(f"the state backend does not answer ({exc.message})")
    try:
        found = registry.verify_key(record=record_key)
    except CloudError as exc:
        problems.append(exc.message)
    else:
        if found is KeyCheck.EMPTY:
            notes.append("the registry has no device yet; the first 'add' records the key")
    return problems, notes


def probe_sts(probe: Callable[[], None]) -> tuple[list[str], list[str]]:
    """Ask STS once; a refusal is a problem, no answer only a note.

    Returns:
        ``(problems, notes)``.
    """
    try:
        probe()
    except StsRejected as exc:
        return [f"STS refused the responder's AccessKey or role ({exc.code})"], []
    except StsUnavailable as exc:
        _log.warning("STS did not answer the start-up check", extra={"fields": {"code": exc.code}})
        return [], [f"STS did not answer the start-up check ({exc.code}); starting anyway"]
    except CloudError as exc:
        return [], [f"STS start-up check inconclusive: {exc.message}"]
    return [], []
