"""Every protocol error code has one camera reaction, and docs/protocol.md lists them all."""

from __future__ import annotations

import re
from pathlib import Path

from schemas import REACTIONS, ErrorCode, Reaction

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
_ROW = re.compile(r"^\| `([a-z_]+)` \| `([a-z_]+)` \|", re.MULTILINE)


def _doc_table() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    rows = _ROW.findall(section)
    table = dict(rows)
    assert len(table) == len(rows), "a code is listed twice"
    return table


def test_every_code_has_a_reaction() -> None:
    assert set(REACTIONS) == set(ErrorCode)
    for code in ErrorCode:
        assert isinstance(code.reaction, Reaction)


def test_the_protocol_doc_lists_every_code_with_its_declared_reaction() -> None:
    assert _doc_table() == {code.value: code.reaction.value for code in ErrorCode}


def test_the_doc_table_parser_sees_a_missing_row() -> None:
    table = _doc_table()
    table.pop(ErrorCode.REVOKED.value)
    assert table != {code.value: code.reaction.value for code in ErrorCode}
