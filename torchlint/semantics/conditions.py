"""Reading a condition: its atoms, and whether it is a guard rather than a decision.

Losses and forwards protect themselves with conditions that do not decide
what the model computes: NaN/inf checks (``if torch.isnan(y).any(): raise``),
empty-batch checks (``if mask.sum() == 0:``, ``if num_pos > 0:``) and
branches that only raise or warn.  Rules that judge data-dependent control
flow ask these questions to leave such guards alone.
"""

from __future__ import annotations

from torchlint.lazy import lazy_module
from torchlint.semantics.values import lookup
from torchlint.semantics.vocabulary import (
    CONVERSION_CALLS,
    COUNT_CALLS,
    SIGNED_MEASURE_CALLS,
    SIZE_ATTRIBUTES,
    SIZE_CALLS,
    is_count_name,
)

cst = lazy_module("libcst", globals(), "cst")

_NAN_CHECKS = frozenset({"isnan", "isinf", "isfinite", "isneginf", "isposinf", "nan_to_num"})
_LOGGING_CALLS = frozenset({"warn", "warning", "print", "info", "debug", "error", "log"})
# The calls an `only_raises_or_warns` body may make (for cheap stages that mirror it).
LOGGING_CALLS = _LOGGING_CALLS


def condition_atoms(test: cst.BaseExpression):
    """The comparisons and values a condition combines with ``and``/``or``/``not``."""
    if isinstance(test, cst.BooleanOperation):
        yield from condition_atoms(test.left)
        yield from condition_atoms(test.right)
    elif isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        yield from condition_atoms(test.expression)
    else:
        yield test


def read_back_tensor(side: cst.BaseExpression) -> cst.BaseExpression:
    """``x`` for ``x.item()`` and ``float(x)``: a tensor read back to Python still decides."""
    if isinstance(side, cst.Call):
        func = side.func
        if isinstance(func, cst.Attribute) and func.attr.value in CONVERSION_CALLS:
            return func.value
        if isinstance(func, cst.Name) and func.value in ("float", "bool") and side.args:
            return side.args[0].value
    return side


def _called_names(expr: cst.BaseExpression):
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute):
                yield func.attr.value
                stack.append(func.value)
            elif isinstance(func, cst.Name):
                yield func.value
            stack.extend(arg.value for arg in node.args)
        elif isinstance(node, cst.Comparison):
            stack.append(node.left)
            stack.extend(t.comparator for t in node.comparisons)
        elif isinstance(node, (cst.BinaryOperation,)):
            stack.extend((node.left, node.right))
        elif isinstance(node, cst.UnaryOperation):
            stack.append(node.expression)
        elif isinstance(node, (cst.Attribute, cst.Subscript)):
            stack.append(node.value)


def mentions_nan_check(atom: cst.BaseExpression) -> bool:
    """Whether ``atom`` calls ``isnan``/``isinf``/``isfinite``/``nan_to_num``."""
    return any(name in _NAN_CHECKS for name in _called_names(atom))


def is_emptiness_check(atom: cst.BaseExpression) -> bool:
    """``mask.sum() == 0``, ``num_pos > 0``, ``not valid.any()``, ``x.numel() == 0``."""
    atom = read_back_tensor(atom)
    if isinstance(atom, cst.Call):
        return _called_last(read_back_tensor(atom)) in ("any", "all")
    if isinstance(atom, cst.Comparison) and len(atom.comparisons) == 1:
        counted, literal = atom.left, atom.comparisons[0].comparator
        limit = _small_integer(literal)
        if limit is None:
            counted, literal = literal, counted
            limit = _small_integer(literal)
        if limit is None or limit > 1:
            return False
        if _tests_a_sign(atom, counted):
            return False  # `torch.mean(h) > 0`: a signed measurement, not a count
        if isinstance(literal, cst.Integer) and limit == 0:
            return True  # `remaining > 0`, `text_len != 0`: counts, not measurements
        counted = read_back_tensor(counted)
        return _called_last(counted) in COUNT_CALLS or _count_name(counted)
    return False


def _tests_a_sign(atom: cst.Comparison, counted: cst.BaseExpression) -> bool:
    """``torch.mean(h) > 0``, ``out.median() < 0``: the sign of a mean or median of
    values (an ordering; equality with zero stays a degenerate-batch guard). The mean
    of a mask (``(m > 0).float().mean() > 0``) is a fraction of a count."""
    if type(atom.comparisons[0].operator).__name__ not in _ORDERINGS:
        return False
    counted = read_back_tensor(counted)
    if _called_last(counted) not in SIGNED_MEASURE_CALLS or not isinstance(counted, cst.Call):
        return False
    func = counted.func
    measured = (
        func.value
        if isinstance(func, cst.Attribute)
        and not (isinstance(func.value, cst.Name) and func.value.value == "torch")
        else (counted.args[0].value if counted.args else None)
    )
    while isinstance(measured, cst.Call) and isinstance(measured.func, cst.Attribute):
        measured = measured.func.value  # `.float()`, `.detach()`, `.abs()`
    return measured is not None and not isinstance(measured, cst.Comparison)


def _called_last(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute):
            return func.attr.value
        if isinstance(func, cst.Name):
            return func.value
    return None


def _count_name(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Name):
        return is_count_name(expr.value)
    return False


def _small_integer(expr: cst.BaseExpression) -> int | None:
    if isinstance(expr, cst.Integer):
        try:
            return int(expr.evaluated_value)  # handles 0x4E00, 1_000
        except ValueError:
            return None
    if isinstance(expr, cst.Float):
        try:
            value = float(expr.value)
        except ValueError:
            return None
        return int(value) if value in (0.0, 1.0) else None
    return None


def only_raises_or_warns(statement: cst.CSTNode) -> bool:
    """Whether an ``if``/``while`` body (with no ``else``) only raises, asserts or warns."""
    body = getattr(statement, "body", None)
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    if isinstance(statement, cst.If) and statement.orelse is not None:
        return False
    for line in lines:
        smalls = getattr(line, "body", None)
        if not isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return False
        for small in smalls:
            if isinstance(small, (cst.Raise, cst.Assert, cst.Pass, cst.Continue)):
                continue
            if isinstance(small, cst.Expr) and _called_last(small.value) in _LOGGING_CALLS:
                continue
            return False
    return True


def only_records_for_logging(context, statement: cst.CSTNode) -> bool:
    """Whether an ``if`` body (with no ``else``) only sets flags that are only logged.

    ``if torch.mean(x) > 100: flag = 1`` then ``wandb.log({"flag": flag})``: the
    branch picks no computation, it records an observation. Each statement of the
    body assigns a literal to a name (or bumps a counter), and every other use of
    that name in the function is inside a logging call.
    """
    if not isinstance(statement, cst.If) or statement.orelse is not None:
        return False
    body = statement.body
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    names = set()
    for line in lines:
        if not isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return False
        for small in line.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AugAssign):
                target, value = small.target, small.value
            else:
                return False
            if not isinstance(target, cst.Name) or not _is_literal(value):
                return False
            names.add(target.value)
    if not names:
        return False
    function = next(
        (node for node in context.ancestors(statement) if isinstance(node, cst.FunctionDef)),
        None,
    )
    if function is None:
        return False
    stack = [function.body]
    while stack:
        node = stack.pop()
        if node is statement:
            continue
        if (
            isinstance(node, cst.Name)
            and node.value in names
            and not _assigned_or_logged(context, node)
        ):
            return False
        stack.extend(node.children)
    return True


def _is_literal(value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    return isinstance(value, cst.Name) and value.value in ("True", "False", "None")


def _assigned_or_logged(context, name: cst.Name) -> bool:
    parent = context.parent(name)
    if isinstance(parent, cst.AssignTarget) or (
        isinstance(parent, cst.AugAssign) and parent.target is name
    ):
        return True
    for ancestor in context.ancestors(name):
        if isinstance(ancestor, cst.Call) and _called_last(ancestor) in _LOGGING_CALLS:
            return True
        if isinstance(ancestor, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return False
    return False


def is_categorical_or_size_check(atom: cst.BaseExpression) -> bool:
    """``fn_id == 2``, ``task == Task.BINARY``, ``st < len(tokens)``, ``n <= x.shape[1]``.

    Equality with an integer or a named constant dispatches on a category;
    comparing with a length or a shape is index bookkeeping.  Neither is a
    threshold on a measured value.
    """
    if not isinstance(atom, cst.Comparison):
        return False
    sides = [atom.left, *(t.comparator for t in atom.comparisons)]
    for target in atom.comparisons:
        if isinstance(target.operator, (cst.Equal, cst.NotEqual)) and (
            isinstance(target.comparator, (cst.Integer, cst.Attribute, cst.SimpleString))
            or isinstance(atom.left, (cst.Integer, cst.SimpleString))
        ):
            return True
    return any(_is_size(side) for side in sides)


def _is_size(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Call) and _called_last(expr) in SIZE_CALLS:
        return True
    if isinstance(expr, cst.Subscript):
        expr = expr.value
    return isinstance(expr, cst.Attribute) and expr.attr.value in SIZE_ATTRIBUTES


def is_none_comparison(atom: cst.BaseExpression) -> bool:
    """``flow != None``, ``x == None``: a tensor compared with None gives a Python bool.

    ``Tensor.__eq__`` does not take None, so Python falls back to identity:
    the result is ``False``/``True`` whatever the tensor holds.
    """
    if not isinstance(atom, cst.Comparison):
        return False
    sides = [atom.left, *(t.comparator for t in atom.comparisons)]
    return any(isinstance(side, cst.Name) and side.value == "None" for side in sides)


# -- clamps: a branch that only moves the tested value to the threshold -------------

_ORDERINGS = ("LessThan", "LessThanEqual", "GreaterThan", "GreaterThanEqual")


def only_clamps(context, statement: cst.CSTNode, atom: cst.BaseExpression, scope) -> bool:
    """Whether ``statement`` only clamps or projects the value ``atom`` tests.

    ``if d > hi: d = hi``, ``while x >= 1 - 1e-5: x = x - 1e-5`` (a nudge by
    the margin the condition names) and ``if n > eps: v = v * eps / n`` where
    ``n`` measures ``v`` (a projection onto the ball): at the threshold both
    outcomes agree, so the value is continuous and nothing jumps.  Also the
    expression ``hi if x > hi else x`` (a ``min``/``max``).  ``scope`` is
    where the condition is evaluated.
    """
    if not _is_ordering(atom):
        return False
    sides = [atom.left, *(t.comparator for t in atom.comparisons)]
    if isinstance(statement, cst.IfExp):
        return any(_same_code(context, statement.body, side) for side in sides) and any(
            _same_code(context, statement.orelse, side) for side in sides
        )
    if not isinstance(statement, (cst.If, cst.While)) or statement.orelse is not None:
        return False
    body = statement.body
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    assignments = []
    for line in lines:
        if not isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return False
        assignments.extend(line.body)
    return bool(assignments) and all(
        _clamps(context, small, atom, sides, scope) for small in assignments
    )


def _is_ordering(atom: cst.BaseExpression) -> bool:
    return (
        isinstance(atom, cst.Comparison)
        and len(atom.comparisons) == 1
        and type(atom.comparisons[0].operator).__name__ in _ORDERINGS
    )


def _clamps(context, small, atom, sides, scope) -> bool:
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value, operator = small.targets[0].target, small.value, None
    elif isinstance(small, cst.AugAssign):
        target, value, operator = small.target, small.value, type(small.operator).__name__
    else:
        return False
    if not isinstance(target, cst.Name):
        return False
    name = target.value
    for k, side in enumerate(sides):
        thresholds = [other for j, other in enumerate(sides) if j != k]
        if isinstance(side, cst.Name) and side.value == name:
            # The tested value itself: set to the threshold, or nudged by its margin.
            if operator is None and any(_same_code(context, value, t) for t in thresholds):
                return True
            if _nudged_by_margin(name, value, operator, atom):
                return True
        measures = _measures(context, side, name, scope)
        if measures and _rescaled_to(context, name, value, operator, thresholds, measures):
            return True
    return False


def _nudged_by_margin(name: str, value, operator, atom) -> bool:
    """``x = x - 1e-5`` or ``x += 1e-5`` where ``1e-5`` appears in the condition."""
    if operator is None:
        if not isinstance(value, cst.BinaryOperation):
            return False
        if type(value.operator).__name__ not in ("Add", "Subtract"):
            return False
        if not (isinstance(value.left, cst.Name) and value.left.value == name):
            return False
        step = value.right
    elif operator in ("AddAssign", "SubtractAssign"):
        step = value
    else:
        return False
    margin = _literal_value(step)
    return margin is not None and margin in _literals_in(atom)


def _literal_value(node) -> float | None:
    if isinstance(node, (cst.Integer, cst.Float)):
        try:
            return float(node.evaluated_value)
        except (ValueError, TypeError):
            return None
    return None


def _literals_in(node) -> set[float]:
    found = set()
    stack = [node]
    while stack:
        current = stack.pop()
        value = _literal_value(current)
        if value is not None:
            found.add(value)
        stack.extend(current.children)
    return found


def _measures(context, side, name: str, scope) -> list:
    """What ``side`` is, if it measures ``name``: ``v.norm()``, or ``n`` and ``norm(v)``.

    ``n`` counts when every binding of it is an assignment that reads ``name``.
    """
    if _mentions(side, name) and not (isinstance(side, cst.Name) and side.value == name):
        return [side]
    if not isinstance(side, cst.Name) or scope is None:
        return []
    bindings, _ = lookup(context, side.value, scope)
    values = [b.value for b in bindings if b.kind == "assign" and b.value is not None]
    if values and len(values) == len(bindings) and all(_mentions(v, name) for v in values):
        return [side, *values]
    return []


def _rescaled_to(context, name: str, value, operator, thresholds, measures) -> bool:
    """``v * eps / n``: the value times the threshold over its own measure (a projection)."""
    if operator is None:
        over, under = _factors(value)
        if not any(isinstance(f, cst.Name) and f.value == name for f in over):
            return False
    elif operator == "MultiplyAssign":
        over, under = _factors(value)
    else:
        return False
    return any(_same_code(context, f, t) for f in over for t in thresholds) and any(
        _same_code(context, f, m) for f in under for m in measures
    )


def _factors(expr) -> tuple[list, list]:
    """The factors over and under the line of a product/quotient ``a * b / c``."""
    over: list = []
    under: list = []

    def walk(node, up: bool) -> None:
        if isinstance(node, cst.BinaryOperation):
            kind = type(node.operator).__name__
            if kind == "Multiply":
                walk(node.left, up)
                walk(node.right, up)
                return
            if kind == "Divide":
                walk(node.left, up)
                walk(node.right, not up)
                return
        (over if up else under).append(node)

    walk(expr, True)
    return over, under


def _mentions(expr, name: str) -> bool:
    """Whether the variable ``name`` is read in ``expr`` (not an attribute or keyword)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            if node.value == name:
                return True
        elif isinstance(node, (cst.Attribute, cst.Arg)):
            stack.append(node.value)
        else:
            stack.extend(node.children)
    return False


def _same_code(context, a, b) -> bool:
    if a is b:
        return True
    code = context.module.code_for_node
    return "".join(code(a).split()) == "".join(code(b).split())


def counts_data(atom: cst.BaseExpression) -> bool:
    """Whether an emptiness check counts the batch's data, not a setting.

    ``len(gt_boxes) == 0``, ``targets.shape[0] == 0``, ``mask.sum() == 0``,
    ``not valid.any()``, ``num_pos > 0``, ``not len(gt)`` (the atom ``len(gt)``
    once ``not`` is taken off): the count of what a batch holds.
    ``weight <= 0`` (a switch) and ``len(self.heads) == 0`` (the model's own
    configuration) are not.
    """
    atom = read_back_tensor(atom)
    if not isinstance(atom, cst.Comparison):
        return _data_count(atom)  # `if not len(gt):`, `if num_pos:`: the count's truth value
    if len(atom.comparisons) != 1:
        return False
    left, right = atom.left, atom.comparisons[0].comparator
    for counted, literal in ((left, right), (right, left)):
        limit = _small_integer(literal)
        if limit is not None and limit <= 1 and _data_count(read_back_tensor(counted)):
            return True
    return False


def _data_count(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Name):
        return is_count_name(expr.value)
    measured = None
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Name) and func.value == "len" and expr.args:
            measured = expr.args[0].value
        elif isinstance(func, cst.Attribute) and func.attr.value in (COUNT_CALLS | SIZE_CALLS):
            receiver = func.value
            is_torch = isinstance(receiver, cst.Name) and receiver.value == "torch"
            measured = (expr.args[0].value if expr.args else None) if is_torch else receiver
    elif isinstance(expr, cst.Subscript):
        inner = expr.value
        if isinstance(inner, cst.Attribute) and inner.attr.value in SIZE_ATTRIBUTES:
            measured = inner.value
    if measured is None:
        return False
    return not _rooted_at_self(measured)


def _rooted_at_self(expr: cst.BaseExpression) -> bool:
    while isinstance(expr, (cst.Attribute, cst.Subscript, cst.Call)):
        expr = expr.func if isinstance(expr, cst.Call) else expr.value
    return isinstance(expr, cst.Name) and expr.value == "self"
