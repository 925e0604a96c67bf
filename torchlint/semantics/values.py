"""Following a value through the assignments of one file: the one value engine.

Each function (and the module body) gets a :class:`Flow`: its statements in
source order, and every binding of a local name (``x = v``, ``x += v``,
``a, b = v``, ``for x in v``, ``with v as x``, parameters).  A use of a name
at some statement sees the bindings that reach it: the latest one before it
that is not hidden in a branch, plus the branch bindings after that one
(``if c: x = a`` / ``else: x = b``).  This is not full data flow: loop-carried
values and bindings in nested functions are not followed, which keeps a
question to a dictionary lookup and a short list scan.

The second half of the module follows values further, flow-insensitively,
over the same bindings: through calls, returns, ``self.<attr>`` and
parameters (:func:`possible_values`, :func:`constant_number`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.names import _bodies, dotted_name

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


# -- following values: flow-insensitive views of the same bindings -------------
#
# ``possible_values(context, expr)`` follows a name to the expressions
# assigned to it: plain, annotated and chained assignments, tuple unpacking
# (``opt, sched = build(cfg)`` takes element 1 of ``build``'s ``return``),
# ``self.<attr>`` assigned in any method of the class (``__init__``,
# ``configure_optimizers``, ``setup``), parameters through the call sites of
# their function in the same file (and their defaults), and calls to functions
# and methods of the same file through their ``return`` statements.  What
# cannot be followed further is returned as it is.  It needs the call index,
# so rules ask it after the walk (in ``leave_Module``).
#
# ``constant_number(context, expr)`` evaluates numeric constants through the
# same links (``gamma = 0.1``; ``1 / 10``; ``0.5 ** 2``).

MAX_DEPTH = 6
MAX_VALUES = 16


def possible_values(
    context: FileContext, expr: cst.BaseExpression, depth: int = MAX_DEPTH
) -> list[cst.BaseExpression]:
    """Expressions ``expr`` may evaluate to, followed through this file (at most 16)."""
    key = None
    if isinstance(expr, cst.Name):
        # Flow-insensitive: every read of a name in one scope has the same values.
        scope = context.semantics.enclosing_function(expr)
        key = ("dataflow.values", scope, expr.value, depth)
        cached = context.semantics.cache.get(key)
        if cached is not None:
            return cached
    found: list[cst.BaseExpression] = []
    _follow(context, expr, None, depth, found, set())
    found = found[:MAX_VALUES]
    if key is not None:
        context.semantics.cache[key] = found
    return found


def _follow(context, expr, index, depth, found, seen) -> None:
    if len(found) >= MAX_VALUES:
        return
    key = (id(expr), index)
    if key in seen:
        return
    seen.add(key)
    if depth <= 0:
        found.append(_element(expr, index))
        return
    sources: list[tuple[cst.BaseExpression, int | None]] | None = None
    if isinstance(expr, cst.Name):
        sources = _name_sources(context, expr)
    elif (
        isinstance(expr, cst.Attribute)
        and isinstance(expr.value, cst.Name)
        and expr.value.value == "self"
    ):
        sources = _self_attribute_sources(context, expr)
    elif isinstance(expr, cst.Attribute):
        default = argparse_default(context, expr.attr.value)
        if default is not None:
            sources = [(default, None)]
    elif isinstance(expr, cst.Call):
        passed = _passed_through(expr, index)
        if passed is not None:
            _follow(context, passed, None, depth - 1, found, seen)
            return
        sources = _return_sources(context, expr)
    elif isinstance(expr, (cst.Tuple, cst.List)) and index is not None:
        if index < len(expr.elements):
            _follow(context, expr.elements[index].value, None, depth - 1, found, seen)
            return
    elif isinstance(expr, cst.IfExp):
        _follow(context, expr.body, index, depth - 1, found, seen)
        _follow(context, expr.orelse, index, depth - 1, found, seen)
        return
    if not sources:
        found.append(_element(expr, index))
        return
    for value, value_index in sources:
        combined = value_index if index is None else index
        if value_index is not None and index is not None:
            # `a, b = f()` where `f()` itself returned a tuple: rare, stop here.
            found.append(value)
            continue
        _follow(context, value, combined, depth - 1, found, seen)


# `model, opt, loader, sched = accelerator.prepare(model, opt, loader, sched)` returns
# its arguments, wrapped, in order.
_PASS_THROUGH_CALLS = frozenset({"prepare", "prepare_scheduler"})


def _passed_through(call: cst.Call, index: int | None) -> cst.BaseExpression | None:
    func = call.func
    if not (isinstance(func, cst.Attribute) and func.attr.value in _PASS_THROUGH_CALLS):
        return None
    positional = [arg.value for arg in call.args if arg.keyword is None and not arg.star]
    if index is None:
        return positional[0] if len(positional) == 1 else None
    return positional[index] if index < len(positional) else None


def _element(expr, index):
    if index is not None and isinstance(expr, (cst.Tuple, cst.List)) and index < len(expr.elements):
        return expr.elements[index].value
    return expr


def scope_assignments(
    context: FileContext, owner
) -> dict[str, list[tuple[cst.BaseExpression, int | None]]]:
    """``name -> [(value, tuple index or None)]`` for the plain names ``owner`` assigns.

    ``owner`` is a function or the module.  A view of the bindings of :func:`flow_of`,
    flow-insensitive: ``a, b = f()`` records ``(f(), 0)`` for ``a`` and
    ``(f(), 1)`` for ``b``; ``a, b = x, y`` records ``x`` and ``y``.  Nested
    functions and classes are not entered; ``for`` targets, ``with ... as``,
    augmented assignments and parameters are not assignments.
    """
    cache = context.semantics.cache
    key = ("dataflow.assignments", owner)
    table = cache.get(key)
    if table is not None:
        return table
    table = {}
    flow = flow_of(context, owner if type(owner) is cst.FunctionDef else None)
    for name, bindings in flow.bindings.items():
        pairs = [
            (binding.value, binding.index)
            for binding in bindings
            if binding.kind in _ASSIGNMENT_KINDS and binding.value is not None
        ]
        if pairs:
            table[name] = pairs
    cache[key] = table
    return table


_ASSIGNMENT_KINDS = frozenset({"assign", "unpack"})


def assigned_values(context: FileContext, expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    """One hop, no calls followed: what a name or ``self.<attr>`` is assigned in this file.

    Cheap (cached tables only); for when a rule needs a hint, not every value.
    """
    if isinstance(expr, cst.Name):
        scope = context.semantics.enclosing_function(expr)
        while scope is not None:
            assigned = scope_assignments(context, scope).get(expr.value)
            if assigned:
                return [value for value, _ in assigned]
            if parameter_named(scope, expr.value) is not None:
                return []
            scope = context.semantics.enclosing_function(scope)
        return [
            value for value, _ in scope_assignments(context, context.module).get(expr.value, [])
        ]
    if (
        isinstance(expr, cst.Attribute)
        and isinstance(expr.value, cst.Name)
        and expr.value.value == "self"
    ):
        return [value for value, _ in _self_attribute_sources(context, expr) or []]
    return []


def _name_sources(context, name: cst.Name):
    semantics = context.semantics
    scope = semantics.enclosing_function(name)
    while scope is not None:
        assigned = scope_assignments(context, scope).get(name.value)
        if assigned:
            return assigned
        parameter = parameter_named(scope, name.value)
        if parameter is not None:
            return _parameter_sources(context, scope, parameter)
        scope = semantics.enclosing_function(scope)
    return scope_assignments(context, context.module).get(name.value)


def parameter_named(fn: cst.FunctionDef, name: str) -> cst.Param | None:
    """The parameter of ``fn`` called ``name`` (positional-only, plain or keyword-only)."""
    params = fn.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == name:
            return param
    return None


def _parameter_sources(context, fn, parameter: cst.Param):
    from torchlint.semantics.callgraph import bound_argument, calls_of

    sources = []
    for call, _ in calls_of(context, fn):
        argument = bound_argument(context, call, fn, parameter.name.value)
        if argument is not None:
            sources.append((argument, None))
    if parameter.default is not None:
        sources.append((parameter.default, None))
    return sources


def _self_attribute_sources(context, attribute: cst.Attribute):
    semantics = context.semantics
    cls = semantics.enclosing_class(attribute)
    if cls is None:
        return None
    key = ("dataflow.self_attributes", cls)
    table = semantics.cache.get(key)
    if table is None:
        table = {}
        for method in semantics.methods(cls).values():
            for target, value in _self_assignments(method):
                table.setdefault(target, []).append((value, None))
        semantics.cache[key] = table
    return table.get(attribute.attr.value)


def _self_assignments(method: cst.FunctionDef):
    from torchlint.semantics.model import iter_assignments

    for target, value in iter_assignments(method):
        if (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == "self"
        ):
            yield target.attr.value, value


def argparse_default(context: FileContext, option: str) -> cst.BaseExpression | None:
    """The ``default=`` of ``parser.add_argument("--<option>", ...)`` in this file.

    ``args.step_size`` reads the value the command line gives, or this default:
    the best a single file can say about it.  Dashes and underscores are the
    same option, as argparse makes them.
    """
    from torchlint.semantics.callgraph import calls_named

    key = ("dataflow.argparse", option)
    cache = context.semantics.cache
    if key in cache:
        return cache[key]
    found = None
    for call in calls_named(context).get("add_argument", ()):
        flags = []
        for arg in call.args:
            if arg.keyword is None and isinstance(arg.value, cst.SimpleString):
                text = arg.value.evaluated_value
                if isinstance(text, str):
                    flags.append(text.lstrip("-").replace("-", "_"))
        if option in flags:
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == "default":
                    found = arg.value
            break
    cache[key] = found
    return found


def _return_sources(context, call: cst.Call):
    """Return expressions of the same-file function or method ``call`` calls."""
    semantics = context.semantics
    func = call.func
    target: cst.FunctionDef | None = None
    if isinstance(func, cst.Name):
        target = semantics.functions.get(func.value)
    elif (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value == "self"
    ):
        cls = semantics.enclosing_class(call)
        if cls is not None:
            target = semantics.methods(cls).get(func.attr.value)
    if target is None:
        return None
    return [(value, None) for value in function_returns(context, target)]


def function_returns(context: FileContext, fn: cst.FunctionDef) -> list[cst.BaseExpression]:
    """The expressions ``fn`` returns (nested functions excluded)."""
    key = ("dataflow.returns", fn)
    cache = context.semantics.cache
    found = cache.get(key)
    if found is not None:
        return found
    found = []
    stack: list[cst.CSTNode] = (
        list(fn.body.body) if isinstance(fn.body, cst.IndentedBlock) else [fn.body]
    )
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in node.body:
                if isinstance(small, cst.Return) and small.value is not None:
                    found.append(small.value)
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        for body in _bodies(node):
            stack.extend(body)
    cache[key] = found
    return found


# -- numbers ----------------------------------------------------------------


def constant_number(context: FileContext, expr: cst.BaseExpression, depth: int = 3) -> float | None:
    """The numeric value of ``expr`` when it is a constant, followed through names."""
    if isinstance(expr, (cst.Integer, cst.Float)):
        try:
            return float(expr.evaluated_value)
        except (ValueError, OverflowError):
            return None
    if isinstance(expr, cst.UnaryOperation):
        inner = constant_number(context, expr.expression, depth)
        if inner is None:
            return None
        if isinstance(expr.operator, cst.Minus):
            return -inner
        if isinstance(expr.operator, cst.Plus):
            return inner
        return None
    if isinstance(expr, cst.BinaryOperation):
        left = constant_number(context, expr.left, depth)
        right = constant_number(context, expr.right, depth) if left is not None else None
        if left is None or right is None:
            return None
        return _arithmetic(expr.operator, left, right)
    if depth > 0 and isinstance(expr, (cst.Name, cst.Attribute)) and dotted_name(expr):
        values = possible_values(context, expr, depth=2)
        numbers = {
            constant_number(context, value, depth - 1) for value in values if value is not expr
        }
        if len(numbers) == 1:
            return numbers.pop()
    return None


def _arithmetic(operator, left: float, right: float) -> float | None:
    try:
        if isinstance(operator, cst.Add):
            return left + right
        if isinstance(operator, cst.Subtract):
            return left - right
        if isinstance(operator, cst.Multiply):
            return left * right
        if isinstance(operator, cst.Divide):
            return left / right
        if isinstance(operator, cst.FloorDivide):
            return float(left // right)
        if isinstance(operator, cst.Power):
            if abs(right) > 1e4:
                return None
            result = left**right
            return result if isinstance(result, float) else float(result)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None
    return None
