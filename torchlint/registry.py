"""The list of rules torchlint knows, in code order."""

from __future__ import annotations

from functools import lru_cache

from torchlint.rule import Rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class, sorted by code."""
    from torchlint.rules import RULES

    return tuple(sorted(RULES, key=lambda rule: rule.code))


def rules_by_code() -> dict[str, type[Rule]]:
    """Rule classes keyed by their code."""
    return {rule.code: rule for rule in all_rules()}


def find_rule(code_or_name: str) -> type[Rule] | None:
    """The rule with this code (``TL001``) or name (``sigmoid-after-residual``)."""
    wanted = code_or_name.strip()
    for rule in all_rules():
        if rule.code == wanted.upper() or rule.name == wanted.lower():
            return rule
    return None
