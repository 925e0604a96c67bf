"""The text pre-filters (``Rule.tokens``) are sound: they never hide a finding.

Every fixture, every example and every rule's own ``valid``/``invalid``
snippet is checked with and without the pre-filter; the findings must be
identical.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from torchlint.engine import RuleSelection, check_source
from torchlint.registry import all_rules

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "tests" / "fixtures").glob("TL*/*.py")) + sorted(
    (ROOT / "examples").glob("**/*.py")
)
SNIPPETS = [
    (f"{rule.code}-{kind}-{index}", source)
    for rule in all_rules()
    for kind, sources in (("valid", rule.valid), ("invalid", rule.invalid))
    for index, source in enumerate(sources)
]


def _findings(source: str, path: str, use_prefilter: bool) -> list[tuple]:
    selection = RuleSelection(all_rules(), {}, use_prefilter=use_prefilter)
    return [
        (d.row, d.column, d.end_row, d.end_column, d.code, d.message)
        for d in check_source(source, path, selection)
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_prefilter_keeps_findings_of_files(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert _findings(source, str(path), True) == _findings(source, str(path), False)


@pytest.mark.parametrize(("name", "source"), SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_prefilter_keeps_findings_of_rule_examples(name: str, source: str) -> None:
    assert _findings(source, name, True) == _findings(source, name, False)


def test_token_groups() -> None:
    for rule in all_rules():
        for group in rule.prefilter.token_groups():
            assert group and all(isinstance(token, str) and token for token in group)
