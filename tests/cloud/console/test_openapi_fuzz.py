"""schemathesis against the OpenAPI document: generated requests, real HTTP, no 5xx.

Every generated request carries a logged-in session and its CSRF token, so the fuzzing
reaches the handlers rather than stopping at the login check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from cloud.console.web.openapi import openapi_document
from tests.cloud.console.conftest import OPERATOR, PASSWORD, Stack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class FuzzSession:
    """A logged-in requests session for schemathesis, re-logged-in if a case logs out."""

    stack: Stack
    http: requests.Session
    csrf: str = ""

    def login(self) -> None:
        self.http.cookies.clear()
        token = self.http.get(self.stack.url + "/api/session", timeout=10).json()["csrf_token"]
        reply = self.http.post(
            self.stack.url + "/api/session",
            json={"username": OPERATOR, "password": PASSWORD},
            headers={"X-CSRF-Token": token},
            timeout=10,
        )
        assert reply.status_code == 200
        self.csrf = reply.json()["csrf_token"]


@pytest.fixture(scope="module")
def fuzz(shared_stack: Stack) -> Iterator[FuzzSession]:
    session = FuzzSession(shared_stack, requests.Session())
    session.login()
    # Something to find: a camera with a recording, so lookups do not all miss.
    cam = shared_stack.camera("cam-fuzz")
    shared_stack.ingest(cam.record("f.mp4", b"f" * 10, 0, 1000))
    yield session
    session.http.close()


# The document is built from the code at import time; the first test checks that it is
# exactly what the console serves.
schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_fuzzed_document_is_the_served_one(fuzz: FuzzSession) -> None:
    served = fuzz.http.get(fuzz.stack.url + "/api/openapi.json", timeout=10).json()
    assert served == openapi_document()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors(case: schemathesis.Case, fuzz: FuzzSession) -> None:
    if case.operation.path == "/api/session" and case.method == "POST":
        fuzz.http.cookies.clear()  # login is tried as a logged-out client
        fuzz.http.get(fuzz.stack.url + "/api/session", timeout=10)
    headers = {**(case.headers or {}), "X-CSRF-Token": fuzz.csrf}
    response = case.call(base_url=fuzz.stack.url, session=fuzz.http, headers=headers, timeout=10)
    case.validate_response(response, checks=CHECKS)
    if (
        response.status_code in {204, 200} and case.operation.path == "/api/session"
    ) or fuzz.http.get(fuzz.stack.url + "/api/cameras", timeout=10).status_code == 401:
        fuzz.login()
