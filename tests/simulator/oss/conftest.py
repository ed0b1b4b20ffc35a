"""Fixtures of the OSS emulator tests.

``oss_server`` runs one emulator (with :class:`simulator.oss.OssApp` as its OSS backend) for the
whole session; ``oss`` hands each test a fresh bucket on it. Every test talks to the server over
real HTTP with the real oss2 client (or raw HTTP for requests oss2 cannot produce).
"""

from __future__ import annotations

from collections.abc import Iterator

import oss2
import pytest

from tests.simulator.oss._server import OssEnv, running_oss


@pytest.fixture(scope="session")
def oss_server() -> Iterator[OssEnv]:
    """One in-memory emulator for the session."""
    with running_oss() as env:
        yield env


@pytest.fixture
def oss(oss_server: OssEnv) -> OssEnv:
    """The session emulator with a bucket of this test's own."""
    return OssEnv.from_handle(oss_server.handle)


@pytest.fixture
def bucket(oss: OssEnv) -> oss2.Bucket:
    """A V1-signed oss2 Bucket on the test's bucket."""
    return oss.bucket_client()


@pytest.fixture(params=["v1", "v4"])
def any_bucket(request: pytest.FixtureRequest, oss: OssEnv) -> oss2.Bucket:
    """The test's bucket through V1 and then V4 signatures."""
    return oss.bucket_client(oss.auth(request.param))
