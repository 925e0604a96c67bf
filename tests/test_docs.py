"""The rule pages in docs/rules/ are the rules' docstrings, generated."""

from __future__ import annotations

from torchlint.docgen import DOCS_RULES, README, expected_pages, readme_with_table


def test_rule_pages_match_docstrings() -> None:
    stale = []
    for name, text in expected_pages().items():
        path = DOCS_RULES / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    assert not stale, f"regenerate with `python -m torchlint.docgen`: {stale}"


def test_readme_rule_table_is_generated() -> None:
    text = README.read_text(encoding="utf-8")
    assert text == readme_with_table(text), "regenerate with `python -m torchlint.docgen`"
