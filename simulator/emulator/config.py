"""What the emulator is populated with: accounts, access keys, roles, buckets.

Read from a TOML or JSON file (``--config``) or generated (:func:`default_config`). Policies
may be written as tables/objects or as JSON strings. Example (TOML)::

    [[accounts]]
    id = "1000000000000001"

    [[accounts.access_keys]]
    id = "LTAI5tExampleRootKey0001"
    secret = "..."                       # no `user`: a root key

    [[accounts.roles]]
    name = "camera-writer"
    max_session_duration = 3600
    policies = ['{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:PutObject"],"Resource":["acs:oss:*:*:ossmedia/*"]}]}']

    [[buckets]]
    name = "ossmedia"
    account = "1000000000000001"
"""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.durations import (
    DEFAULT_SESSION_DURATION_S,
    MAX_SESSION_DURATION_S,
    MIN_ROLE_MAX_SESSION_S,
)
from simulator.base.errors import EmulatorConfigError
from simulator.iam import tokens

DEFAULT_ACCOUNT = "1000000000000001"
DEFAULT_BUCKET = "ossmedia"
DEFAULT_ROLE = "camera-writer"

PolicyDoc = dict[str, Any] | str


class AccessKeyConfig(BaseModel):
    """A long-term key; without ``user`` it is the account's root key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    secret: str = Field(min_length=1, repr=False)
    user: str | None = None
    policies: tuple[PolicyDoc, ...] = ()


class RoleConfig(BaseModel):
    """A role; ``trust_policy`` (a RAM trust policy) or ``trusted_accounts`` (default: the
    owning account) says who may assume it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    policies: tuple[PolicyDoc, ...] = ()
    trusted_accounts: tuple[str, ...] | None = None
    trust_policy: PolicyDoc | None = None
    max_session_duration: int = Field(
        default=DEFAULT_SESSION_DURATION_S, ge=MIN_ROLE_MAX_SESSION_S, le=MAX_SESSION_DURATION_S
    )


class AccountConfig(BaseModel):
    """One account with its keys and roles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^\d+$")
    access_keys: tuple[AccessKeyConfig, ...] = ()
    roles: tuple[RoleConfig, ...] = ()


class BucketConfig(BaseModel):
    """A bucket to create at start (kept if it already exists)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    account: str | None = None


class EmulatorConfig(BaseModel):
    """The whole population of an emulator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accounts: tuple[AccountConfig, ...] = Field(min_length=1)
    buckets: tuple[BucketConfig, ...] = ()

    def bucket_owner(self, bucket: BucketConfig) -> str:
        """The account that owns ``bucket`` (the first account unless it says otherwise)."""
        return bucket.account or self.accounts[0].id

    def root_key(self) -> AccessKeyConfig | None:
        """The first root key of the first account that has one."""
        for account in self.accounts:
            for key in account.access_keys:
                if key.user is None:
                    return key
        return None


def role_arn(account_id: str, role_name: str) -> str:
    """The ARN RAM gives a role."""
    return f"acs:ram::{account_id}:role/{role_name.lower()}"


def writer_policy(bucket: str) -> dict[str, Any]:
    """The default camera-writer role policy: put and get objects in ``bucket``."""
    return {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["oss:PutObject", "oss:GetObject"],
                "Resource": [f"acs:oss:*:*:{bucket}/*"],
            }
        ],
    }


def default_config(rng: random.Random) -> EmulatorConfig:
    """Account 1000000000000001 with a random root key, role ``camera-writer``, bucket ``ossmedia``."""
    key = AccessKeyConfig(id=tokens.access_key_id(rng), secret=tokens.access_key_secret(rng))
    role = RoleConfig(name=DEFAULT_ROLE, policies=(writer_policy(DEFAULT_BUCKET),))
    account = AccountConfig(id=DEFAULT_ACCOUNT, access_keys=(key,), roles=(role,))
    return EmulatorConfig(accounts=(account,), buckets=(BucketConfig(name=DEFAULT_BUCKET),))


def parse_document(path: Path) -> object:
    """Decode a TOML (``.toml``) or JSON file.

    Raises:
        EmulatorConfigError: unreadable or not valid TOML/JSON.
    """
    try:
        text = path.read_text("utf-8")
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise EmulatorConfigError(str(exc), source=str(path)) from None


def _read_policy_file(path: Path, source: str) -> object:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EmulatorConfigError(f"policy file {path}: {exc}", source=source) from None


def _inline_policy_files(document: object, base: Path, source: str) -> object:
    """Replace ``policy_files`` / ``trust_policy_file`` with the documents they name.

    Paths are relative to the config file; the files are RAM policy JSON exactly as RAM takes
    them (``deploy/aliyun/*.json`` load unmodified).
    """
    if not isinstance(document, dict):
        return document
    for account in document.get("accounts", ()):
        if not isinstance(account, dict):
            continue
        for entry in [*account.get("access_keys", ()), *account.get("roles", ())]:
            if not isinstance(entry, dict):
                continue
            files = entry.pop("policy_files", ())
            if files:
                loaded = [_read_policy_file(base / str(f), source) for f in files]
                entry["policies"] = [*entry.get("policies", ()), *loaded]
            trust = entry.pop("trust_policy_file", None)
            if trust is not None:
                entry["trust_policy"] = _read_policy_file(base / str(trust), source)
    return document


def load_config(path: Path) -> EmulatorConfig:
    """Read an emulator config file.

    Keys and roles may name policy documents by file: ``policy_files = ["a.json", ...]`` (added
    to ``policies``) and, for roles, ``trust_policy_file``; paths are relative to the config.

    Raises:
        EmulatorConfigError: the file or a policy file is unreadable or invalid.
    """
    document = _inline_policy_files(parse_document(path), path.parent, str(path))
    try:
        return EmulatorConfig.model_validate(document)
    except ValidationError as exc:
        raise EmulatorConfigError(str(exc), source=str(path)) from None
