"""Emulated RAM: accounts, access keys, roles, policies and STS sessions (no HTTP here).

The OSS and STS wire layers call :class:`Iam` to resolve credentials, authorise requests and
mint temporary credentials.
"""

from simulator.iam.entities import AccessKey, Principal, Role, TemporaryCredentials
from simulator.iam.errors import IamError, PolicyGrammarError
from simulator.iam.models import Iam
from simulator.iam.policy import ALLOW_ALL, Policy, Statement, is_allowed
from simulator.iam.store import IamStore

__all__ = [
    "ALLOW_ALL",
    "AccessKey",
    "Iam",
    "IamError",
    "IamStore",
    "Policy",
    "PolicyGrammarError",
    "Principal",
    "Role",
    "Statement",
    "TemporaryCredentials",
    "is_allowed",
]
