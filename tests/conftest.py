"""Shared test helpers."""

from __future__ import annotations

import pytest

from torchlint.engine import RuleSelection, check_source
from torchlint.registry import all_rules


def lint(source: str, path: str = "example.py", codes=None, options=None):
    """Diagnostics for ``source`` with every registered rule (or only ``codes``)."""
    rules = tuple(r for r in all_rules() if codes is None or r.code in codes)
    return check_source(source, path, RuleSelection(rules, options or {}))


@pytest.fixture
def run_lint():
    return lint
