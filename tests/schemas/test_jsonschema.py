"""The committed JSON Schema files, and the ``ossmedia schemas`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas import cli, encode
from schemas.jsonschema import PACKAGED_DIR, render, stale_files
from tests.schemas import strategies as S

EXPECTED_FILES = {
    "creds_request.json",
    "creds_response.json",
    "creds_response_ok.json",
    "creds_response_error.json",
    "sealed_payload.json",
    "segment_closed.json",
    "segment_opened.json",
    "hls_key.json",
    "status.json",
}


def test_committed_schemas_are_up_to_date() -> None:
    stale = stale_files(PACKAGED_DIR)
    assert stale == [], f"run: ossmedia schemas export {PACKAGED_DIR}"
    assert {p.name for p in PACKAGED_DIR.glob("*.json")} == EXPECTED_FILES


def test_export_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli.main(["check", str(out)]) == 1
    assert cli.main(["export", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == EXPECTED_FILES
    assert cli.main(["check", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_detects_changed_missing_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export", str(tmp_path)]) == 0
    (tmp_path / "status.json").write_text("{}\n")
    (tmp_path / "creds_request.json").unlink()
    (tmp_path / "old_message.json").write_text("{}\n")
    capsys.readouterr()
    assert cli.main(["check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    for name in ("status.json", "creds_request.json", "old_message.json"):
        assert name in err
    assert cli.main(["export", str(tmp_path)]) == 0
    assert not (tmp_path / "old_message.json").exists()
    assert stale_files(tmp_path) == []


def test_check_defaults_to_the_packaged_copy() -> None:
    assert cli.main(["check"]) == 0


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    assert "ossmedia schemas" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_documents_are_strict() -> None:
    for name, text in render().items():
        doc = json.loads(text)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        candidates = [doc, *doc.get("$defs", {}).values()]
        models = [m for m in candidates if "properties" in m]
        assert models, name
        for model in models:
            assert model["additionalProperties"] is False, name
            assert model["required"] == list(model["properties"]), name


def _check(schema: dict[str, Any], value: Any, root: dict[str, Any]) -> None:
    """Check a value against the subset of JSON Schema the generated documents use."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        errors = 0
        for option in schema["anyOf"]:
            try:
                _check(option, value, root)
            except AssertionError:
                errors += 1
        assert errors < len(schema["anyOf"]), value
        return
    kind = schema.get("type")
    python_type = {
        "object": dict,
        "string": str,
        "integer": int,
        "boolean": bool,
        "null": type(None),
        "array": list,
    }
    if kind is not None:
        assert isinstance(value, python_type[kind]), (kind, value)
        if kind == "integer":
            assert not isinstance(value, bool)
    if "const" in schema:
        assert value == schema["const"]
    if "enum" in schema:
        assert value in schema["enum"]
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), (schema["pattern"], value)
    if "maxLength" in schema:
        assert len(value) <= schema["maxLength"]
    if "minLength" in schema:
        assert len(value) >= schema["minLength"]
    if "minimum" in schema:
        assert value >= schema["minimum"]
    if "exclusiveMaximum" in schema:
        assert value < schema["exclusiveMaximum"]
    if "maximum" in schema:
        assert value <= schema["maximum"]
    if kind == "array":
        for item in value:
            _check(schema["items"], item, root)
    if kind == "object":
        assert set(value) == set(schema["properties"])
        for key, sub in schema["properties"].items():
            _check(sub, value[key], root)


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        S.requests.map(lambda m: ("creds_request.json", m)),
        S.ok_responses.map(lambda m: ("creds_response.json", m)),
        S.error_responses.map(lambda m: ("creds_response.json", m)),
        S.sealed_payloads.map(lambda m: ("sealed_payload.json", m)),
        S.segments.map(lambda m: ("segment_closed.json", m)),
        S.hls_keys.map(lambda m: ("hls_key.json", m)),
        S.statuses.map(lambda m: ("status.json", m)),
    )
)
def test_wire_payloads_conform_to_their_schema(case: tuple[str, BaseModel]) -> None:
    name, model = case
    doc = json.loads(render()[name])
    _check(doc, json.loads(encode(model)), doc)


def test_status_schema_says_unsigned_means_offline() -> None:
    doc = json.loads(render()["status.json"])
    assert doc["if"] == {"properties": {"sig": {"type": "null"}}}
    assert doc["then"] == {"properties": {"state": {"const": "offline"}}}
