"""The list of rules torchlint knows, in code order.

``rule_index()`` answers codes, names and defaults without importing any
rule (or libcst); ``all_rules()`` imports the rule classes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchlint.rule import Rule
    from torchlint.rules import RuleEntry


def rule_index() -> tuple[RuleEntry, ...]:
    """Code, name, default and location of every rule, sorted by code; imports nothing."""
    from torchlint.rules import discover

    return discover()


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class, sorted by code."""
    return tuple(entry.load() for entry in rule_index())


def rules_by_code() -> dict[str, type[Rule]]:
    """Rule classes keyed by their code."""
    return {rule.code: rule for rule in all_rules()}


def rule_entries(codes) -> tuple[RuleEntry, ...]:
    """The index entries of just these rules, in the order given; imports no rule."""
    entries = {entry.code: entry for entry in rule_index()}
    return tuple(entries[code] for code in codes)


def find_rule(code_or_name: str) -> type[Rule] | None:
    """The rule with this code (``TL001``) or name (``sigmoid-after-residual``)."""
    wanted = code_or_name.strip()
    for entry in rule_index():
        if entry.code == wanted.upper() or entry.name == wanted.lower():
            return entry.load()
    return None
