"""``# noqa`` comments: on a line, for a statement, or for a whole file."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

# A bare noqa comment, or one with codes (`noqa: TL001, TL002`), as ruff and
# flake8 read them; codes of other tools in the same comment are ignored.
_LINE_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)
_FILE_NOQA = re.compile(
    r"#\s*torchlint:\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I
)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.I)
# The cheap test for "may this file have a noqa comment at all", in any case.
_ANY_NOQA = re.compile("noqa", re.I)

ALL = frozenset({"*"})


@dataclass
class Suppressions:
    """Which codes are silenced where in one file."""

    file_codes: frozenset[str] = frozenset()
    by_line: dict[int, frozenset[str]] = field(default_factory=dict)

    def is_suppressed(self, code: str, rows: range | tuple[int, ...]) -> bool:
        """True if ``code`` is silenced for the whole file or on any of ``rows``."""
        if _matches(code, self.file_codes):
            return True
        return any(_matches(code, self.by_line.get(row, frozenset())) for row in rows)


def _matches(code: str, codes: frozenset[str]) -> bool:
    return bool(codes) and (codes is ALL or "*" in codes or code in codes)


def _codes(match: re.Match) -> frozenset[str]:
    raw = match.group("codes")
    if not raw:
        return ALL
    return frozenset(code.upper() for code in _CODE.findall(raw))


def parse_suppressions(source: str) -> Suppressions:
    """Collect the ``noqa`` comments of ``source``.

    Only real comments count (found with :mod:`tokenize`), never ``# noqa``
    inside a string.  A file without the word ``noqa`` (in any case: ``NoQA``
    counts, as in ruff) is not tokenized.
    """
    if _ANY_NOQA.search(source) is None:
        return Suppressions()
    file_codes: set[str] = set()
    by_line: dict[int, frozenset[str]] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        tokens = []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        file_match = _FILE_NOQA.search(token.string)
        if file_match:
            codes = _codes(file_match)
            file_codes |= {"*"} if codes is ALL else codes
            continue
        line_match = _LINE_NOQA.search(token.string)
        if line_match:
            by_line[token.start[0]] = _codes(line_match)
    return Suppressions(frozenset(file_codes), by_line)
