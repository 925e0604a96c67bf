"""Identifiers and expressions as domain words: ``trainLoader_2`` -> ``train``, ``loader``.

Training code says what a value is in its names (``train_loader``,
``num_epochs``, ``w_reconstruction``); the loop, scheduler and ramp analyses
read those words instead of guessing from raw substrings, so ``ce`` matches
``ce_loss`` but not ``trace``.
"""

from __future__ import annotations

from torchlint.lazy import lazy_module
from torchlint.semantics.vocabulary import identifier_words
from torchlint.walk import iter_children

cst = lazy_module("libcst", globals(), "cst")


def expression_names(expr: cst.CSTNode, limit: int = 200) -> list[str]:
    """Names, attribute names and string keys mentioned in ``expr`` (depth-first).

    ``len(self.train_loader) * 30`` -> ``len``, ``self``, ``train_loader``.
    Stops after ``limit`` nodes so a huge expression costs a bounded amount.
    """
    names: list[str] = []
    stack: list[cst.CSTNode] = [expr]
    seen = 0
    while stack and seen < limit:
        node = stack.pop()
        seen += 1
        if isinstance(node, cst.Name):
            names.append(node.value)
            continue
        if isinstance(node, cst.Attribute):
            names.append(node.attr.value)
            stack.append(node.value)
            continue
        if isinstance(node, cst.SimpleString):
            text = _string_value(node)
            if text is not None:
                names.append(text)
            continue
        stack.extend(reversed(list(iter_children(node))))
    return names


def expression_words(expr: cst.CSTNode) -> set[str]:
    """All words of all names in ``expr``."""
    words: set[str] = set()
    for name in expression_names(expr):
        words.update(identifier_words(name))
    return words


def _string_value(node: cst.SimpleString) -> str | None:
    try:
        value = node.evaluated_value
    except Exception:  # malformed escapes in odd files
        return None
    return value if isinstance(value, str) else None


def string_value(node: cst.CSTNode) -> str | None:
    """The text of a plain string literal, else None."""
    if isinstance(node, cst.SimpleString):
        return _string_value(node)
    return None
