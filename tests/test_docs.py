"""Generated reference docs stay in sync with the code."""

from __future__ import annotations

from pathlib import Path

from ringfinder.docs import input_tables_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_input_tables_doc_is_current() -> None:
    current = (ROOT / "docs" / "input-tables.md").read_text(encoding="utf-8")
    assert current == input_tables_markdown(), "run: python -m ringfinder.docs"
