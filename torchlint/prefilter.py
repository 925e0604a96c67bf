"""What a file must contain for a rule to flag it, decided before libcst parses it.

Parsing with libcst is the largest cost of a check, and most files cannot
produce a finding for most rules.  Each rule therefore declares, in its own
module and from the same vocabulary its judgement uses, a
:class:`Prefilter` in two stages, both cheap and both *sound* (a file a
stage rejects cannot produce a finding under the rule's judgement):

* ``tokens``: substrings of the text, matched case-insensitively
  (``"sigmoid"`` matches ``nn.Sigmoid``).  Checked first, with no parse at
  all.  Build them with :func:`text_tokens` from the rule's word lists, so
  a word added to the vocabulary reaches the text stage too.
* ``syntax``: a function of the file's :class:`~torchlint.syntax.SyntaxIndex`
  (the CPython ``ast`` parse, five times cheaper than libcst) and the
  rule's settings, that looks for the shapes the rule starts from (a call
  of a squashing function on a sum, an ``x *= k`` on a learning rate).

A rule module binds libcst lazily (:mod:`torchlint.lazy`), so a file no
rule can flag is checked without importing libcst.  ``--no-prefilter``
turns both stages off; ``tests/test_prefilter.py`` checks that the findings
are the same either way, on every fixture and example and on variants of
each rule's examples with every word of its vocabulary substituted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchlint.syntax import SyntaxIndex

SyntaxTest = Callable[["SyntaxIndex", Mapping[str, Any]], bool]


def text_tokens(*collections: Iterable[str]) -> tuple[str, ...]:
    """One any-of token group from word lists: lower-cased, deduplicated, sorted.

    Matching is case-insensitive, so ``text_tokens(SQUASH_MODULES)`` lets
    through ``nn.Sigmoid`` as well as ``torch.sigmoid``.
    """
    return tuple(sorted({word.lower() for words in collections for word in words}))


@dataclass(frozen=True)
class Prefilter:
    """A rule's two-stage pre-filter (see the module docstring).

    ``tokens`` is either a tuple of substrings, any of which must occur
    (``("sigmoid", "tanh")``), or a tuple of such tuples, each of which must
    be satisfied (``(("if", "while"), ("forward", "loss"))``).  Matching
    ignores case.  Empty means every text passes.  ``syntax`` is None when
    the rule has no syntactic stage.
    """

    tokens: tuple[str, ...] | tuple[tuple[str, ...], ...] = ()
    syntax: SyntaxTest | None = None

    def __post_init__(self) -> None:
        tokens = self.tokens
        if not tokens:
            groups: tuple[tuple[str, ...], ...] = ()
        else:
            raw = (tokens,) if isinstance(tokens[0], str) else tokens
            groups = tuple(tuple(token.lower() for token in group) for group in raw)  # type: ignore[union-attr]
        object.__setattr__(self, "_groups", groups)

    def token_groups(self) -> tuple[tuple[str, ...], ...]:
        """``tokens`` as all-of groups of lower-case any-of substrings (empty: every file)."""
        return self._groups  # type: ignore[attr-defined]

    def accepts_text(self, source: str) -> bool:
        """Whether the text stage lets ``source`` through."""
        return self.accepts_lowered_text(source.lower())

    def accepts_lowered_text(self, lowered: str) -> bool:
        """:meth:`accepts_text` for a text already lower-cased (done once per file)."""
        return all(any(token in lowered for token in group) for group in self._groups)  # type: ignore[attr-defined]

    def accepts_syntax(self, index: SyntaxIndex, settings: Mapping[str, Any] | None) -> bool:
        """Whether the syntax stage lets the parsed file through."""
        return self.syntax is None or self.syntax(index, settings or {})
