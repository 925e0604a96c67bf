"""Every fixture file under tests/fixtures/ is linted with all default rules.

A line that must be flagged ends with ``# expect: TL001`` (several codes are
comma-separated); every other line must stay quiet.  Findings are compared
as (line, code) sets, so a rule firing in another rule's fixture fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchlint.engine import RuleSelection, check_source
from torchlint.registry import all_rules

FIXTURES = Path(__file__).parent / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>TL\d{3}(?:\s*,\s*TL\d{3})*)")
FIXTURE_FILES = sorted(FIXTURES.glob("TL*/*.py"))


def expected_findings(source: str) -> set[tuple[int, str]]:
    found = set()
    for row, line in enumerate(source.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group("codes")):
                found.add((row, code))
    return found


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    rules = tuple(rule for rule in all_rules() if rule.default_enabled)
    diagnostics = check_source(source, str(path), RuleSelection(rules, {}))
    actual = {(d.row, d.code) for d in diagnostics}
    expected = expected_findings(source)
    missed = sorted(expected - actual)
    spurious = sorted(
        (d.row, d.code, d.message) for d in diagnostics if (d.row, d.code) not in expected
    )
    assert not missed and not spurious, f"missed={missed} spurious={spurious}"


def test_every_rule_has_fixtures_with_more_lookalikes_than_bugs() -> None:
    for rule in all_rules():
        files = sorted((FIXTURES / rule.code).glob("*.py"))
        assert files, f"{rule.code} has no fixtures in tests/fixtures/{rule.code}/"
        flagged = sum(
            1
            for path in files
            for _, code in expected_findings(path.read_text(encoding="utf-8"))
            if code == rule.code
        )
        assert flagged > 0, f"{rule.code}: its fixtures flag nothing"
