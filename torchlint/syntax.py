"""One CPython ``ast`` parse of a file: its syntax check, and an index for pre-filters.

CPython's parser builds a tree about five times faster than libcst's, so
every file that passes the text pre-filters is parsed here first.  The
parse is the file's syntax check (a ``SyntaxError`` becomes a ``TL000``
with its location), and the nodes are grouped by type in one walk so that
each rule's syntactic pre-filter (see :mod:`torchlint.prefilter`) can ask
"is there an ``x *= k`` whose target names a learning rate?" without
walking the tree again.  Only files that some rule may still flag go on to
libcst.
"""

from __future__ import annotations

import ast
import warnings
from collections import defaultdict


class SyntaxIndex:
    """A parsed module and its nodes grouped by type."""

    __slots__ = ("_by_type", "_memo", "source", "tree")

    def __init__(self, source: str, tree: ast.Module) -> None:
        self.source = source
        self.tree = tree
        self._by_type = _group_by_type(tree)
        self._memo: dict[str, object] = {}

    @classmethod
    def parse(cls, source: str, path: str) -> SyntaxIndex:
        """Parse ``source`` and index it; raises as :func:`parse_tree` does."""
        return cls(source, parse_tree(source, path))

    def nodes(self, *kinds: type) -> list:
        """Every node of these types (in no particular order)."""
        if len(kinds) == 1:
            return self._by_type.get(kinds[0], [])
        found: list[ast.AST] = []
        for kind in kinds:
            found.extend(self._by_type.get(kind, ()))
        return found

    def memo(self, key: str, compute):
        """``compute(self)``, computed once per file (facts shared by several rules)."""
        if key not in self._memo:
            self._memo[key] = compute(self)
        return self._memo[key]


def parse_tree(source: str, path: str) -> ast.Module:
    """``ast.parse``, silent about the file's own warnings (invalid escapes and the like).

    Raises ``SyntaxError``, and ``ValueError``, ``RecursionError`` or
    ``MemoryError`` for files CPython cannot take at all.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, filename=path)


# Fields that hold only operator and context singletons (`Add()`, `Load()`): never walked.
_SKIPPED_FIELDS = frozenset({"ctx", "op", "ops"})
_child_fields: dict[type, tuple[str, ...]] = {}


def _group_by_type(tree: ast.AST) -> defaultdict[type, list[ast.AST]]:
    """Every node of ``tree`` by type, in one walk that skips operator and context nodes.

    ``ast.walk`` yields those singletons too and goes through a generator per
    node; this loop is about twice as fast on real files.
    """
    by_type: defaultdict[type, list[ast.AST]] = defaultdict(list)
    node_type = ast.AST
    fields_of = _child_fields
    stack = [tree]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        kind = type(node)
        by_type[kind].append(node)
        fields = fields_of.get(kind)
        if fields is None:
            fields = fields_of[kind] = tuple(
                name for name in kind._fields if name not in _SKIPPED_FIELDS
            )
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type):
                        push(item)
            elif isinstance(value, node_type):
                push(value)
    return by_type


def last_name(expr: ast.AST) -> str | None:
    """``sigmoid`` for ``torch.sigmoid`` and ``sigmoid``; None for other expressions."""
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return None


def first_argument(call: ast.Call) -> ast.AST | None:
    """The first argument as written (positional, else keyword); None for none or ``*``/``**``."""
    if call.args:
        first = call.args[0]
        return None if isinstance(first, ast.Starred) else first
    if call.keywords and call.keywords[0].arg is not None:
        return call.keywords[0].value
    return None


def argument_values(call: ast.Call) -> list[ast.AST]:
    """The values of every argument, positional and keyword (``*x`` gives ``x``)."""
    values = [arg.value if isinstance(arg, ast.Starred) else arg for arg in call.args]
    values.extend(keyword.value for keyword in call.keywords)
    return values


def assignment_pairs(target: ast.AST, value: ast.AST, unpacked: bool = True) -> list:
    """The ``(target, value)`` pairs one assignment binds, as the judgements pair them.

    ``a, b = x, y`` pairs element by element when both sides have the same
    length and no starred item.  Any other unpacking (``a, b = f()``) pairs
    each target element with the whole value when ``unpacked`` is true, and
    binds nothing otherwise.
    """
    out: list = []
    if isinstance(target, (ast.Tuple, ast.List)):
        elements = [el.value if isinstance(el, ast.Starred) else el for el in target.elts]
        if (
            isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == len(elements)
            and not any(isinstance(el, ast.Starred) for el in value.elts)
        ):
            for element, item in zip(elements, value.elts):
                out.extend(assignment_pairs(element, item, unpacked))
        elif unpacked:
            for element in elements:
                out.extend(assignment_pairs(element, value, unpacked))
    else:
        out.append((target, value))
    return out
