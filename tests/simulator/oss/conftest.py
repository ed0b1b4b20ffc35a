"""Fixtures of the OSS emulator tests.

Every test talks to a running emulator over real HTTP with the real oss2 client (or raw HTTP
for requests oss2 cannot produce). ``oss_server`` is one emulator per session and per mode: the
suite runs once against an emulator in this process and once against a separate
``ossmedia emulator`` process. ``oss`` hands each test a fresh bucket on it; ``fresh_oss``
starts a private emulator for tests that move its clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import oss2
import pytest

from simulator.emulator.handle import EmulatorHandle
from tests.simulator.oss._server import MODES, OssEnv, start_emulator


@pytest.fixture(scope="session", params=MODES)
def oss_server(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    """One in-memory emulator per mode for the session."""
    with start_emulator(request.param) as handle:
        yield handle


@pytest.fixture
def oss(oss_server: EmulatorHandle) -> OssEnv:
    """The session emulator with a bucket of this test's own."""
    return OssEnv.from_handle(oss_server)


@pytest.fixture(params=MODES)
def fresh_oss(request: pytest.FixtureRequest) -> Iterator[OssEnv]:
    """A private emulator (each mode) whose clock the test may move."""
    with start_emulator(request.param) as handle:
        yield OssEnv.from_handle(handle)


@pytest.fixture
def bucket(oss: OssEnv) -> oss2.Bucket:
    """A V1-signed oss2 Bucket on the test's bucket."""
    return oss.bucket_client()


@pytest.fixture(params=["v1", "v4"])
def any_bucket(request: pytest.FixtureRequest, oss: OssEnv) -> oss2.Bucket:
    """The test's bucket through V1 and then V4 signatures."""
    return oss.bucket_client(oss.auth(request.param))
