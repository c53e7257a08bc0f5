"""docs/rules.md lists every built-in rule as the rule files say (regenerate it when they change)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_pack import pack_files
from rules_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_rules_doc_is_up_to_date() -> None:
    if not DOC.is_file():
        pytest.fail("docs/rules.md is missing: python tests/rules/rules_doc.py > docs/rules.md")
    assert DOC.read_text(encoding="utf-8") == render(), "regenerate: python tests/rules/rules_doc.py > docs/rules.md"


def test_rules_doc_names_every_rule_id() -> None:
    text = render()
    for rule_file in pack_files():
        assert str(rule_file.main["id"]) in text
