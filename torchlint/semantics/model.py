"""The per-file semantic model: imports, definitions, and a cache for analyses.

Built lazily from the module the first time a rule asks; the analyses in
the sibling modules (tensors, bounds, loops, losses, ...) keep their results
in :attr:`SemanticModel.cache` so each fact is computed once per file.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from torchlint.lazy import lazy_module
from torchlint.semantics.names import ImportTable, _bodies, collect_imports, dotted_name

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext


class SemanticModel:
    """Facts about one file that do not depend on which rule asks."""

    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.module = context.module
        self.cache: dict[Any, Any] = {}

    # -- names --------------------------------------------------------------

    @cached_property
    def imports(self) -> ImportTable:
        return collect_imports(self.module)

    def qualified_name(self, node: cst.BaseExpression) -> str | None:
        """``torch.nn.functional.sigmoid`` for ``F.sigmoid`` etc.; None if not imported."""
        return self.imports.resolve(node)

    def call_name(self, call: cst.Call) -> str | None:
        """Qualified name of the callee, or its plain dotted name if not imported."""
        return self.qualified_name(call.func) or dotted_name(call.func)

    # -- definitions --------------------------------------------------------

    @cached_property
    def _definitions(self) -> tuple[dict[str, cst.FunctionDef], dict[str, cst.ClassDef]]:
        functions: dict[str, cst.FunctionDef] = {}
        classes: dict[str, cst.ClassDef] = {}
        stack: list[cst.CSTNode] = [self.module]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.ClassDef):
                classes[node.name.value] = node
                continue
            if isinstance(node, cst.FunctionDef):
                functions.setdefault(node.name.value, node)
                continue
            for body in _bodies(node):
                stack.extend(reversed(body))
        return functions, classes

    @property
    def functions(self) -> dict[str, cst.FunctionDef]:
        """Functions defined outside classes (module level or under if/try)."""
        return self._definitions[0]

    @property
    def classes(self) -> dict[str, cst.ClassDef]:
        """Classes defined at module level (or under if/try)."""
        return self._definitions[1]

    def methods(self, cls: cst.ClassDef) -> dict[str, cst.FunctionDef]:
        """Methods defined directly in the class body."""
        key = ("methods", cls)
        found = self.cache.get(key)
        if found is None:
            found = {}
            if isinstance(cls.body, cst.IndentedBlock):
                for statement in cls.body.body:
                    if isinstance(statement, cst.FunctionDef):
                        found[statement.name.value] = statement
            self.cache[key] = found
        return found

    def base_names(self, cls: cst.ClassDef) -> list[str]:
        """Qualified (or dotted) names of the class's bases."""
        names = []
        for arg in cls.bases:
            name = self.qualified_name(arg.value) or dotted_name(arg.value)
            if name:
                names.append(name)
        return names

    def init_attributes(self, cls: cst.ClassDef) -> dict[str, list[cst.BaseExpression]]:
        """``self.<attr> = value`` assignments in ``__init__``, by attribute name."""
        key = ("init_attributes", cls)
        found = self.cache.get(key)
        if found is not None:
            return found
        found = {}
        init = self.methods(cls).get("__init__")
        if init is not None:
            for target, value in iter_assignments(init):
                if (
                    isinstance(target, cst.Attribute)
                    and isinstance(target.value, cst.Name)
                    and target.value.value == "self"
                ):
                    found.setdefault(target.attr.value, []).append(value)
        self.cache[key] = found
        return found

    # -- where a node sits ----------------------------------------------------

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """The innermost function (not lambda) containing ``node``."""
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                return ancestor
        return None

    def enclosing_class(self, node: cst.CSTNode) -> cst.ClassDef | None:
        """The innermost class containing ``node``."""
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, cst.ClassDef):
                return ancestor
        return None

    def class_of_method(self, fn: cst.FunctionDef) -> cst.ClassDef | None:
        """The class whose body directly defines ``fn``."""
        parent = self.context.parent(fn)
        if isinstance(parent, cst.IndentedBlock):
            grand = self.context.parent(parent)
            if isinstance(grand, cst.ClassDef):
                return grand
        return None


def iter_assignments(fn: cst.FunctionDef):
    """Yield ``(target, value)`` for each assignment in ``fn``'s body, in order.

    Covers ``x = v``, ``a = b = v``, ``x: T = v`` and tuple targets paired
    element-wise with tuple values (``a, b = p, q``); for a tuple target with
    a non-tuple value each element is paired with the whole value.  Nested
    functions and classes are not entered.
    """
    stack: list[cst.CSTNode] = list(reversed(_statements(fn)))
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                yield from _assignment_pairs(small)
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        for body in _bodies(node):
            stack.extend(reversed(body))


def _statements(fn: cst.FunctionDef):
    if isinstance(fn.body, cst.IndentedBlock):
        return list(fn.body.body)
    return [cst.SimpleStatementLine(body=fn.body.body)]


def assigned_targets(small: cst.BaseSmallStatement) -> list[cst.BaseExpression]:
    """What ``x = v``, ``a = b = v``, ``x: T = v`` and ``x += v`` write to, as written."""
    if isinstance(small, cst.Assign):
        return [target.target for target in small.targets]
    if isinstance(small, (cst.AugAssign, cst.AnnAssign)):
        return [small.target]
    return []


def _assignment_pairs(small: cst.BaseSmallStatement):
    if isinstance(small, cst.Assign):
        for target in small.targets:
            yield from _pair(target.target, small.value)
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        yield from _pair(small.target, small.value)


def _pair(target: cst.BaseExpression, value: cst.BaseExpression):
    if isinstance(target, (cst.Tuple, cst.List)):
        elements = [el.value for el in target.elements]
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(elements):
            for sub_target, sub_value in zip(elements, (el.value for el in value.elements)):
                yield from _pair(sub_target, sub_value)
        else:
            for sub_target in elements:
                yield from _pair(sub_target, value)
    else:
        yield target, value
