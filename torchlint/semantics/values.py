"""Following a value through the assignments of one function.

Each function (and the module body) gets a :class:`Flow`: its statements in
source order, and every binding of a local name (``x = v``, ``x += v``,
``a, b = v``, ``for x in v``, ``with v as x``, parameters).  A use of a name
at some statement sees the bindings that reach it: the latest one before it
that is not hidden in a branch, plus the branch bindings after that one
(``if c: x = a`` / ``else: x = b``).  This is not full data flow: loop-carried
values and bindings in nested functions are not followed, which keeps a
question to a dictionary lookup and a short list scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module

cst = lazy_module("libcst", globals(), "cst")


if TYPE_CHECKING:
    from torchlint.context import FileContext
    from torchlint.semantics.model import SemanticModel

UNKNOWN_ORDER = 1 << 30


@dataclass(frozen=True)
class Binding:
    """One place where a local name receives a value.

    ``kind`` is ``assign`` (``x = value``), ``augment`` (``x op= value``;
    ``operator`` holds the libcst operator), ``unpack`` (element ``index`` of
    ``value``), ``loop`` (an element of the iterable ``value``), ``with``
    (``value`` is the context manager), ``param`` (``param`` holds the
    parameter), ``def`` (a nested function or class), or ``import``.
    """

    name: str
    kind: str
    order: int
    path: tuple
    value: cst.BaseExpression | None = None
    index: int | None = None
    operator: cst.CSTNode | None = None
    param: cst.Param | None = None
    statement: cst.CSTNode | None = None


@dataclass(frozen=True)
class Scope:
    """Where an expression is evaluated: its flow and the statement's place in it."""

    flow: Flow
    order: int
    path: tuple

    def at(self, binding: Binding) -> Scope:
        """The scope of the value of ``binding`` (evaluated at its statement)."""
        return Scope(self.flow, binding.order, binding.path)


@dataclass(eq=False)
class Flow:
    """The bindings and returns of one function (or of the module body)."""

    owner: cst.CSTNode
    model: SemanticModel
    order_of: dict = field(default_factory=dict)
    path_of: dict = field(default_factory=dict)
    bindings: dict = field(default_factory=dict)
    returns: list = field(default_factory=list)

    @property
    def function(self) -> cst.FunctionDef | None:
        """The function this flow belongs to (None for the module body)."""
        return self.owner if isinstance(self.owner, cst.FunctionDef) else None

    def scope_at(self, statement: cst.CSTNode | None) -> Scope:
        """The scope of code inside ``statement`` (end of the flow if unknown)."""
        if statement is None or statement not in self.order_of:
            return Scope(self, UNKNOWN_ORDER, ())
        return Scope(self, self.order_of[statement], self.path_of[statement])

    def end_scope(self) -> Scope:
        """The scope after the last statement: every binding reaches it."""
        return Scope(self, UNKNOWN_ORDER, ())

    def reaching(self, name: str, scope: Scope) -> list[Binding]:
        """Bindings of ``name`` that may hold its value at ``scope``, latest first."""
        candidates = self.bindings.get(name)
        if not candidates:
            return []
        found = []
        for binding in reversed(candidates):
            if binding.order >= scope.order:
                continue
            found.append(binding)
            if scope.path[: len(binding.path)] == binding.path:
                # Straight-line code, or a block the use is inside: it hides all before.
                break
        return found

    def parameter(self, name: str) -> cst.Param | None:
        """The parameter called ``name``, if the owner is a function that has one."""
        for binding in self.bindings.get(name, ()):
            if binding.kind == "param":
                return binding.param
        return None

    # -- building ----------------------------------------------------------

    def _bind(self, name: str, kind: str, order: int, path: tuple, **extra) -> None:
        self.bindings.setdefault(name, []).append(
            Binding(name=name, kind=kind, order=order, path=path, **extra)
        )

    def _bind_target(self, target, value, order, path, statement, kind="assign", index=None):
        if isinstance(target, cst.Name):
            self._bind(
                target.value, kind, order, path, value=value, index=index, statement=statement
            )
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = [element.value for element in target.elements]
            pairs_up = (
                kind == "assign"
                and isinstance(value, (cst.Tuple, cst.List))
                and len(value.elements) == len(elements)
                and not any(isinstance(el, cst.StarredElement) for el in value.elements)
            )
            for position, element in enumerate(elements):
                if isinstance(element, cst.StarredElement):
                    element = element.value
                if pairs_up:
                    self._bind_target(
                        element, value.elements[position].value, order, path, statement
                    )
                else:
                    sub_kind = "unpack" if kind == "assign" else kind
                    self._bind_target(element, value, order, path, statement, sub_kind, position)

    def _scan_small(self, small, order, path, statement) -> None:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                self._bind_target(target.target, small.value, order, path, statement)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self._bind_target(small.target, small.value, order, path, statement)
        elif isinstance(small, cst.AugAssign):
            if isinstance(small.target, cst.Name):
                self._bind(
                    small.target.value,
                    "augment",
                    order,
                    path,
                    value=small.value,
                    operator=small.operator,
                    statement=statement,
                )
        elif isinstance(small, cst.Return):
            self.returns.append((small, Scope(self, order, path)))
        elif isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(
            getattr(small, "names", None), cst.ImportStar
        ):
            for alias in small.names:
                try:
                    local = alias.evaluated_alias or alias.evaluated_name.split(".", 1)[0]
                except Exception:  # unusual alias shapes: nothing to bind
                    continue
                self._bind(local, "import", order, path, statement=statement)

    def _scan_block(self, statements, path) -> None:
        for statement in statements:
            self._scan_statement(statement, path)

    def _scan_statement(self, statement, path) -> None:
        order = len(self.order_of)
        self.order_of[statement] = order
        self.path_of[statement] = path
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                self._scan_small(small, order, path, statement)
            return
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            self._bind(statement.name.value, "def", order, path, statement=statement)
            return
        if isinstance(statement, cst.For):
            self._bind_target(statement.target, statement.iter, order, path, statement, "loop")
        elif isinstance(statement, cst.With):
            for item in statement.items:
                if item.asname is not None:
                    self._bind_target(item.asname.name, item.item, order, path, statement, "with")
        inner = (*path, statement)
        for suite in _suites(statement):
            if isinstance(suite, cst.SimpleStatementSuite):
                for small in suite.body:
                    self._scan_small(small, order, inner, statement)
            elif isinstance(suite, cst.IndentedBlock):
                self._scan_block(suite.body, inner)
            elif _is_statement(suite):
                self._scan_statement(suite, inner)


def _suites(statement: cst.CSTNode):
    """The bodies of a compound statement, in source order (elif as a statement)."""
    body = getattr(statement, "body", None)
    if isinstance(body, cst.BaseSuite):
        yield body
    for handler in getattr(statement, "handlers", ()) or ():
        yield handler.body
    for case in getattr(statement, "cases", ()) or ():
        yield case.body
    orelse = getattr(statement, "orelse", None)
    if isinstance(orelse, cst.If):
        yield orelse
    elif orelse is not None:
        yield orelse.body
    final = getattr(statement, "finalbody", None)
    if final is not None:
        yield final.body


def flow_of(context: FileContext, owner: cst.CSTNode | None) -> Flow:
    """The :class:`Flow` of a function, or of the module body when ``owner`` is None."""
    model = context.semantics
    if owner is None:
        owner = model.module
    key = ("flow", owner)
    flow = model.cache.get(key)
    if flow is None:
        flow = Flow(owner=owner, model=model)
        if isinstance(owner, cst.FunctionDef):
            params = owner.params
            every = [
                *params.posonly_params,
                *params.params,
                *params.kwonly_params,
                *(p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)),
            ]
            for param in every:
                flow._bind(param.name.value, "param", -1, (), param=param)
            if isinstance(owner.body, cst.IndentedBlock):
                flow._scan_block(owner.body.body, ())
            else:
                for small in owner.body.body:
                    flow._scan_small(small, 0, (), owner)
        else:
            flow._scan_block(model.module.body, ())
        model.cache[key] = flow
    return flow


def scope_of(context: FileContext, node: cst.CSTNode) -> Scope | None:
    """The scope in which ``node`` (already reached by the walk) is evaluated.

    None for code in a class body outside methods, or when the walk has not
    reached ``node`` yet and its place is unknown.
    """
    model = context.semantics
    context = model.context
    if node not in context.parents:
        return None
    statement = node if _is_statement(node) else None
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, cst.FunctionDef):
            return flow_of(context, ancestor).scope_at(statement)
        if isinstance(ancestor, cst.ClassDef):
            return None
        if statement is None and _is_statement(ancestor):
            statement = ancestor
    return flow_of(context, None).scope_at(statement)


def enclosing_flows(context: FileContext, flow: Flow):
    """Flows whose names ``flow`` can see: itself, enclosing functions, the module."""
    model = context.semantics
    yield flow
    owner = flow.owner
    if isinstance(owner, cst.Module):
        return
    for ancestor in model.context.ancestors(owner):
        if isinstance(ancestor, cst.FunctionDef):
            yield flow_of(context, ancestor)
    yield flow_of(context, None)


def lookup(context: FileContext, name: str, scope: Scope) -> tuple[list[Binding], Scope]:
    """Bindings of ``name`` visible at ``scope``, and the scope they belong to.

    Local bindings first; a name not bound locally is looked up in enclosing
    functions and then the module body (where every binding counts).
    """
    found = scope.flow.reaching(name, scope)
    if found:
        return found, scope
    for flow in enclosing_flows(context, scope.flow):
        if flow is scope.flow:
            continue
        outer = flow.end_scope()
        found = flow.reaching(name, outer)
        if found:
            return found, outer
    return [], scope


def is_self(expr: cst.BaseExpression | None) -> bool:
    """``self`` (the conventional receiver of a method)."""
    return isinstance(expr, cst.Name) and expr.value == "self"


def self_attribute(expr: cst.BaseExpression) -> str | None:
    """``attr`` for ``self.attr``, else None."""
    if isinstance(expr, cst.Attribute) and is_self(expr.value):
        return expr.attr.value
    return None


def _is_statement(node) -> bool:
    return isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
