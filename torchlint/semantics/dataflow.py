"""What a name may hold: following values through the assignments of one file.

``possible_values(context, expr)`` follows a name to the expressions
assigned to it: plain, annotated and chained assignments, tuple unpacking
(``opt, sched = build(cfg)`` takes element 1 of ``build``'s ``return``),
``self.<attr>`` assigned in any method of the class (``__init__``,
``configure_optimizers``, ``setup``), parameters through the call sites of
their function in the same file (and their defaults), and calls to functions
and methods of the same file through their ``return`` statements.  What
cannot be followed further is returned as it is.  Call after the walk.

``constant_number(context, expr)`` evaluates numeric constants through the
same links (``gamma = 0.1``; ``1 / 10``; ``0.5 ** 2``).
"""

from __future__ import annotations

from torchlint.context import FileContext
from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import bound_argument, calls_named, calls_of
from torchlint.semantics.names import _bodies, dotted_name
from torchlint.semantics.values import flow_of

cst = lazy_module("libcst", globals(), "cst")

MAX_DEPTH = 6
MAX_VALUES = 16

Scope = "cst.Module | cst.FunctionDef"


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
    context: FileContext, scope
) -> dict[str, list[tuple[cst.BaseExpression, int | None]]]:
    """``name -> [(value, tuple index or None)]`` for the plain names a scope assigns.

    A view of the bindings of :func:`torchlint.semantics.values.flow_of`,
    flow-insensitive: ``a, b = f()`` records ``(f(), 0)`` for ``a`` and
    ``(f(), 1)`` for ``b``; ``a, b = x, y`` records ``x`` and ``y``.  Nested
    functions and classes are not entered; ``for`` targets, ``with ... as``,
    augmented assignments and parameters are not assignments.
    """
    cache = context.semantics.cache
    key = ("dataflow.assignments", scope)
    table = cache.get(key)
    if table is not None:
        return table
    table = {}
    flow = flow_of(context, scope if type(scope) is cst.FunctionDef else None)
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
            if _parameter(scope, expr.value) is not None:
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
        parameter = _parameter(scope, name.value)
        if parameter is not None:
            return _parameter_sources(context, scope, parameter)
        scope = semantics.enclosing_function(scope)
    return scope_assignments(context, context.module).get(name.value)


def _parameter(fn: cst.FunctionDef, name: str) -> cst.Param | None:
    params = fn.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == name:
            return param
    return None


def _parameter_sources(context, fn, parameter: cst.Param):
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


__all__ = [
    "constant_number",
    "function_returns",
    "possible_values",
    "scope_assignments",
]
