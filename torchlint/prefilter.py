"""What a file must contain for a rule to flag it, decided before libcst parses it.

Parsing with libcst is the largest cost of a check, and most files cannot
produce a finding for most rules.  Each rule therefore declares a
:class:`Prefilter` in two stages, both cheap and both *sound* (a file a
stage rejects cannot produce a finding under the rule's logic):

* ``tokens``: substrings of the text (``"sigmoid"``).  Checked first, with no
  parse at all.
* ``syntax``: a function of the file's :class:`~torchlint.syntax.SyntaxIndex`
  (the CPython ``ast`` parse, five times cheaper than libcst) and the
  rule's settings, that looks for the shapes the rule starts from (a call
  of a squashing function on a sum, an ``x *= k`` on a learning rate).

Prefilters are defined without libcst (``rules/prefilters.py``), so a file
no rule can flag is checked without importing libcst or any rule module.
``--no-prefilter`` turns both stages off; the test-suite and the benchmark
check that the findings are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchlint.syntax import SyntaxIndex

SyntaxTest = Callable[["SyntaxIndex", Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Prefilter:
    """A rule's two-stage pre-filter (see the module docstring).

    ``tokens`` is either a tuple of substrings, any of which must occur
    (``("sigmoid", "tanh")``), or a tuple of such tuples, each of which must
    be satisfied (``(("if", "while"), ("forward", "loss"))``).  Empty means
    every text passes.  ``syntax`` is None when the rule has no syntactic
    stage.
    """

    tokens: tuple[str, ...] | tuple[tuple[str, ...], ...] = ()
    syntax: SyntaxTest | None = None

    def token_groups(self) -> tuple[tuple[str, ...], ...]:
        """``tokens`` as all-of groups of any-of substrings (empty: accept every file)."""
        tokens = self.tokens
        if not tokens:
            return ()
        if isinstance(tokens[0], str):
            return (tokens,)  # type: ignore[return-value]
        return tokens  # type: ignore[return-value]

    def accepts_text(self, source: str) -> bool:
        """Whether the text stage lets ``source`` through."""
        return all(any(token in source for token in group) for group in self.token_groups())

    def accepts_syntax(self, index: SyntaxIndex, settings: Mapping[str, Any] | None) -> bool:
        """Whether the syntax stage lets the parsed file through."""
        return self.syntax is None or self.syntax(index, settings or {})
