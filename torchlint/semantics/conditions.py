"""Reading a condition: its atoms, and whether it is a guard rather than a decision.

Losses and forwards protect themselves with conditions that do not decide
what the model computes: NaN/inf checks (``if torch.isnan(y).any(): raise``),
empty-batch checks (``if mask.sum() == 0:``, ``if num_pos > 0:``) and
branches that only raise or warn.  Rules that judge data-dependent control
flow ask these questions to leave such guards alone.
"""

from __future__ import annotations

from torchlint.lazy import lazy_module
from torchlint.semantics.vocabulary import (
    CONVERSION_CALLS,
    COUNT_CALLS,
    SIZE_ATTRIBUTES,
    SIZE_CALLS,
    is_count_name,
)

cst = lazy_module("libcst", globals(), "cst")

_NAN_CHECKS = frozenset({"isnan", "isinf", "isfinite", "isneginf", "isposinf", "nan_to_num"})
_LOGGING_CALLS = frozenset({"warn", "warning", "print", "info", "debug", "error", "log"})


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
        if isinstance(literal, cst.Integer) and limit == 0:
            return True  # `remaining > 0`, `text_len != 0`: counts, not measurements
        counted = read_back_tensor(counted)
        return _called_last(counted) in COUNT_CALLS or _count_name(counted)
    return False


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
