"""A rule cannot exist without its documentation and examples."""

from __future__ import annotations

import pytest

from torchlint.engine import RuleSelection, check_source
from torchlint.registry import all_rules

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_definition_is_complete(rule) -> None:
    assert rule.validate_definition() == []


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_invalid_examples_are_flagged(rule) -> None:
    for example in rule.invalid:
        codes = {d.code for d in check_source(example, "ex.py", RuleSelection((rule,), {}))}
        assert rule.code in codes, f"{rule.code} missed:\n{example}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_valid_examples_stay_quiet(rule) -> None:
    for example in rule.valid:
        found = check_source(example, "ex.py", RuleSelection((rule,), {}))
        assert not found, f"{rule.code} flagged a valid example: {found}\n{example}"
