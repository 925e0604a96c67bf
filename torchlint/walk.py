"""One traversal of a libcst tree that feeds every enabled rule.

libcst's own ``CSTNode.visit`` rebuilds every node it passes (it is made for
transformers), and its metadata providers cost ten times the parse.  This
walker reads the dataclass fields of each node instead, skips pure trivia
(whitespace, parentheses, commas, comments), records each node's parent, and
calls ``visit_<Node>`` before the children and ``leave_<Node>`` after them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import libcst as cst

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
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


Handler = Callable[[cst.CSTNode], None]


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

    def _call(self, handlers: list[Handler], node: cst.CSTNode) -> None:
        for handler in list(handlers):
            try:
                handler(node)
            except Exception as exc:  # a broken rule must not stop the others
                self._on_error(handler, node, exc)

    def walk(self, node: cst.CSTNode, parent: cst.CSTNode | None = None) -> None:
        """Walk ``node`` and everything below it."""
        self._parents[node] = parent
        name = type(node).__name__
        handlers = self._visit.get(name)
        if handlers:
            self._call(handlers, node)
        for field_name in child_fields(type(node)):
            value = getattr(node, field_name)
            if isinstance(value, cst.CSTNode):
                self.walk(value, node)
            elif isinstance(value, (tuple, list)):
                for item in value:
                    if isinstance(item, cst.CSTNode):
                        self.walk(item, node)
        handlers = self._leave.get(name)
        if handlers:
            self._call(handlers, node)
