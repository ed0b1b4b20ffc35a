"""The operation declarations: routing, refusal and classification all derive from them."""

from __future__ import annotations

import pytest

from simulator.emulator.operations import classify_oss
from simulator.iam import Iam
from simulator.oss import MemoryStore, OssModel, OssSettings
from simulator.oss.errors import InvalidArgument, MethodNotAllowed, NotImplementedByEmulator
from simulator.oss.handlers import Handlers
from simulator.oss.object_handlers import ObjectHandlers
from simulator.oss.operations import BY_NAME, OPERATIONS, Operation, classify, select

PATHS = {"service": "/", "bucket": "/media/", "object": "/media/cam/x.ts"}


def _request(op: Operation) -> tuple[dict[str, str], dict[str, str]]:
    query = dict.fromkeys(sorted(op.subresources), "")
    if op.query is not None:
        query[op.query[0]] = op.query[1]
    headers = {op.header: "/media/src"} if op.header is not None else {}
    return query, headers


def test_names_and_selectors_are_unique() -> None:
    assert len(BY_NAME) == len(OPERATIONS)
    keys = [(op.level, op.method, op.subresources, op.header, op.query) for op in OPERATIONS]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_each_declaration_routes_to_itself_or_is_refused_as_unserved(op: Operation) -> None:
    query, headers = _request(op)
    if op.served:
        assert select(op.level, op.method, query, headers) is op
    else:
        with pytest.raises(NotImplementedByEmulator):
            select(op.level, op.method, query, headers)
    assert classify(op.level, op.method, query, frozenset(headers)) == op.name


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_the_emulator_names_each_raw_request_by_the_same_declaration(op: Operation) -> None:
    query, headers = _request(op)
    raw_query = "&".join(f"{k}={v}" if v else k for k, v in query.items()).encode()
    scope = {
        "method": op.method,
        "path": PATHS[op.level],
        "query_string": raw_query,
        "headers": [(b"host", b"127.0.0.1:9000")]
        + [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    assert classify_oss(scope) == op.name


def test_refusals_follow_real_oss() -> None:
    with pytest.raises(NotImplementedByEmulator):
        select("object", "GET", {"website": ""}, {})
    with pytest.raises(InvalidArgument):
        select("bucket", "GET", {"lifecycle": "", "location": ""}, {})
    with pytest.raises(MethodNotAllowed):
        select("object", "PUT", {"append": ""}, {})
    # Parameters that are not sub-resources, and modifiers, select nothing.
    assert select("bucket", "GET", {"prefix": "a", "max-keys": "9"}, {}).name == "ListObjects"
    assert select("object", "POST", {"append": "", "position": "0"}, {}).name == "AppendObject"


def test_a_handler_of_the_wrong_level_is_refused_when_the_app_is_built() -> None:
    model = OssModel(MemoryStore(), max_append_object_size=1 << 20)
    wrong = Operation("PutThing", "bucket", "PUT", "oss:PutThing", ObjectHandlers.put_object)
    with pytest.raises(TypeError, match="PutThing"):
        Handlers(model, Iam(), OssSettings(), operations=[wrong])  # type: ignore[arg-type]
