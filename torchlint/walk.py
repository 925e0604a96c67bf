"""One traversal of a libcst tree that feeds every enabled rule.

libcst's own ``CSTNode.visit`` rebuilds every node it passes (it is made for
transformers), and its metadata providers cost ten times the parse.  This
walker reads the dataclass fields of each node instead, skips pure trivia
(whitespace, parentheses, commas, comments), records each node's parent, and
calls ``visit_<Node>`` before the children and ``leave_<Node>`` after them.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Callable

from torchlint.lazy import lazy_module

cst = lazy_module("libcst", globals(), "cst")

# Fields that hold only formatting: never a place a rule looks.
_TRIVIA_PREFIXES = ("whitespace", "lpar", "rpar", "comma", "semicolon", "leading_lines")
_TRIVIA_FIELDS = frozenset(
    {"header", "footer", "lines_after_decorators", "trailing_whitespace", "newline", "colon"}
)

_child_fields_cache: dict[type, tuple[str, ...]] = {}


def child_fields(node_type: type) -> tuple[str, ...]:
    """Names of the fields of ``node_type`` that may hold child nodes worth visiting."""
    fields = _child_fields_cache.get(node_type)
    if fields is None:
        fields = tuple(
            f.name
            for f in dataclasses.fields(node_type)
            if not f.name.startswith(_TRIVIA_PREFIXES) and f.name not in _TRIVIA_FIELDS
        )
        _child_fields_cache[node_type] = fields
    return fields


def iter_children(node: cst.CSTNode):
    """Yield the non-trivia child nodes of ``node`` in field (mostly source) order."""
    for name in child_fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            for item in value:
                if is_node_type(type(item)):
                    yield item
        elif is_node_type(kind):
            yield value


_node_type_cache: dict[type, bool] = {}


def simple_statements(node: cst.CSTNode):
    """The small statements of ``node`` and of the blocks nested in it, in source order.

    Assignments, calls, returns...; not those inside nested functions and classes.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            yield from current.body
        elif not isinstance(current, (cst.BaseExpression, cst.FunctionDef, cst.ClassDef)):
            stack.extend(reversed(list(iter_children(current))))


def is_node_type(kind: type) -> bool:
    """``issubclass(kind, cst.CSTNode)``, cached.

    libcst nodes are ABCs, and ``isinstance`` against an ABC costs about a
    microsecond; the walk asks this for every field of every node.
    """
    known = _node_type_cache.get(kind)
    if known is None:
        known = _node_type_cache[kind] = issubclass(kind, cst.CSTNode)
    return known


# Nodes with no child nodes worth visiting: names, literals and operators, most of
# a file's nodes.  The walk records their parent without entering them (when no
# rule has a handler for them), and the call index skips them.
@lru_cache(maxsize=1)
def leaf_types() -> frozenset[type]:
    """The leaf node types (computed on first use, when libcst is imported)."""
    return frozenset(
        {cst.Name, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.Ellipsis}
        | {
            kind
            for kind in vars(cst).values()
            if isinstance(kind, type)
            and issubclass(
                kind,
                (
                    cst.BaseBinaryOp,
                    cst.BaseBooleanOp,
                    cst.BaseCompOp,
                    cst.BaseUnaryOp,
                    cst.BaseAugOp,
                ),
            )
        }
    )


Handler = Callable[["cst.CSTNode"], None]


class Walker:
    """Walks a module once, dispatching nodes by type name to rule handlers.

    ``visit`` and ``leave`` map a node class name (``"Call"``) to the
    handlers to call.  ``parents`` maps each visited node to its parent.
    ``on_error(handler, node, exc)`` is called when a handler raises; the
    walk goes on.
    """

    def __init__(
        self,
        visit: dict[str, list[Handler]],
        leave: dict[str, list[Handler]],
        parents: dict[cst.CSTNode, cst.CSTNode | None],
        on_error: Callable[[Handler, cst.CSTNode, BaseException], None],
    ) -> None:
        self._visit = visit
        self._leave = leave
        self._parents = parents
        self._on_error = on_error
        self._leaves = frozenset(
            kind
            for kind in leaf_types()
            if kind.__name__ not in visit and kind.__name__ not in leave
        )

    def _call(self, handlers: list[Handler], node: cst.CSTNode) -> None:
        for handler in list(handlers):
            try:
                handler(node)
            except Exception as exc:  # a broken rule must not stop the others
                self._on_error(handler, node, exc)

    def walk(self, node: cst.CSTNode, parent: cst.CSTNode | None = None) -> None:
        """Walk ``node`` and everything below it."""
        self._parents[node] = parent
        kind = type(node)
        name = kind.__name__
        handlers = self._visit.get(name)
        if handlers:
            self._call(handlers, node)
        node_types = _node_type_cache
        leaves = self._leaves
        parents = self._parents
        for field_name in child_fields(kind):
            value = getattr(node, field_name)
            value_kind = type(value)
            if value_kind is tuple or value_kind is list:
                for item in value:
                    item_kind = type(item)
                    if item_kind in leaves:
                        parents[item] = node
                        continue
                    is_node = node_types.get(item_kind)
                    if is_node is None:
                        is_node = is_node_type(item_kind)
                    if is_node:
                        self.walk(item, node)
            elif value_kind in leaves:
                parents[value] = node
            else:
                is_node = node_types.get(value_kind)
                if is_node is None:
                    is_node = is_node_type(value_kind)
                if is_node:
                    self.walk(value, node)
        handlers = self._leave.get(name)
        if handlers:
            self._call(handlers, node)
