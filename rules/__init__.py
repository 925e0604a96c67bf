"""The rules of torchlint, one module per rule (installed as ``torchlint.rules``).

A rule is one module, ``rules/tlNNN_<name>.py``, holding one
:class:`~torchlint.rule.Rule` subclass: its vocabulary, its cheap stage
(text tokens and an ``ast`` test, :mod:`torchlint.prefilter`), its libcst
judgement, its documentation and its examples.  Its fixtures live in
``tests/fixtures/TLNNN/``.  Nothing else lists rules: this package finds
every ``tlNNN_*.py`` module beside it, and the docs pages and tables are
generated from the classes.  ``python -m torchlint.devtools new-rule TL011
some-name`` writes the skeleton of a new one.

The index is read from the modules' source with CPython's ``ast`` (code,
name, default, class), without importing them: a run whose files are all
answered by the cache imports no rule module, and a rule module, once
imported for its cheap stage, imports libcst only when its judgement runs
(``tests/test_rule_definitions.py`` checks both, and that the index agrees
with the classes).
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_MODULE_NAME = re.compile(r"^tl\d{3}_[a-z0-9_]+$")


@dataclass(frozen=True)
class RuleEntry:
    """What is known of a rule before its module is imported."""

    code: str
    name: str
    default_enabled: bool
    module: str
    class_name: str

    def load(self):
        """The rule class (imports its module, not libcst)."""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.class_name)

    @property
    def prefilter(self):
        """The rule's cheap stage (imports its module, not libcst)."""
        return self.load().prefilter


class RuleModuleError(Exception):
    """A module in ``rules/`` that does not define a rule the way the index can read."""


@lru_cache(maxsize=1)
def discover() -> tuple[RuleEntry, ...]:
    """Every rule module beside this file, by code."""
    entries = [read_entry(path) for path in sorted(Path(__file__).parent.glob("tl*.py"))]
    return tuple(sorted(entries, key=lambda entry: entry.code))


def read_entry(path: Path) -> RuleEntry:
    """The index entry of one rule module, read from its source."""
    if not _MODULE_NAME.match(path.stem):
        raise RuleModuleError(f"{path.name}: a rule module is named like tl011_some_name.py")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        values = _literal_attributes(node)
        if "code" in values and "name" in values:
            found.append(
                RuleEntry(
                    code=values["code"],
                    name=values["name"],
                    default_enabled=values.get("default_enabled", True),
                    module=path.stem,
                    class_name=node.name,
                )
            )
    if len(found) != 1:
        raise RuleModuleError(
            f"{path.name}: a rule module defines exactly one rule class with literal "
            f"`code` and `name` attributes (found {len(found)})"
        )
    return found[0]


def _literal_attributes(node: ast.ClassDef) -> dict:
    values = {}
    for statement in node.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Constant)
        ):
            values[statement.targets[0].id] = statement.value.value
    return values
