"""Warm-up ramps that are zero at the start of training (or of a stage).

``zero_start_ramp(context, expr)`` recognises a weight that is 0 at step or
epoch 0 and grows with training progress: ``min(1, epoch / warmup)``,
``epoch / N``, ``np.clip(step / N, 0, 1)``, ``max(0, (epoch - start) / N)``,
a name assigned such a value, or a call to a same-file function returning
one (``ramp_colour(epoch_in_stage)``), or to a helper named like a ramp-up
(``linear_rampup``, ``sigmoid_rampup``).  ``1 - epoch / N`` and
``0.1 + 0.9 * epoch / N`` are not zero at the start and are not ramps.
"""

from __future__ import annotations

from torchlint.context import FileContext
from torchlint.lazy import lazy_module
from torchlint.semantics.names import dotted_name
from torchlint.semantics.values import constant_number, function_returns, possible_values
from torchlint.semantics.vocabulary import (
    RAMP_FUNCTION_WORDS,
    identifier_words,
    is_progress_name,
)

cst = lazy_module("libcst", globals(), "cst")

_CLIP_CALLS = frozenset({"clip", "clamp", "clamp_"})


def zero_start_ramp(context: FileContext, expr: cst.BaseExpression, depth: int = 3) -> str | None:
    """A description of the zero-at-start ramp ``expr`` is, or None."""
    if depth < 0:
        return None
    text = _ramp_shape(context, expr, depth)
    if text is not None:
        return text
    if isinstance(expr, (cst.Name, cst.Attribute)) and dotted_name(expr):
        for value in possible_values(context, expr, depth=2):
            if value is expr or isinstance(value, (cst.Name, cst.Attribute)):
                continue
            text = _ramp_shape(context, value, depth - 1)
            if text is not None:
                return text
    return None


def progress_ramp(context: FileContext, expr: cst.BaseExpression, depth: int = 3) -> str | None:
    """A description of the warm-up factor ``expr`` is, or None.

    Every :func:`zero_start_ramp`, and the ramps that start above zero but
    still grow with progress towards a cap: ``min(1, (epoch + 1) / warmup)``,
    ``np.clip(step / N, 0.1, 1)``, ``(it + 1) / total``.  A constant factor
    (``0.999``) is not a ramp.
    """
    text = zero_start_ramp(context, expr, depth)
    if text is not None:
        return text
    for candidate in _with_values(context, expr):
        if _grows_with_progress(context, candidate):
            return _code(context, candidate)
    return None


def _with_values(context: FileContext, expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    found = [expr]
    if isinstance(expr, (cst.Name, cst.Attribute)) and dotted_name(expr):
        found.extend(
            value
            for value in possible_values(context, expr, depth=2)
            if value is not expr and not isinstance(value, (cst.Name, cst.Attribute))
        )
    return found


def _grows_with_progress(context: FileContext, expr: cst.BaseExpression) -> bool:
    """``progress / N`` (any offset) or ``min(cap, ...)``/``clip(...)`` of one."""
    if isinstance(expr, cst.Call):
        func = expr.func
        last = func.value if isinstance(func, cst.Name) else None
        if isinstance(func, cst.Attribute):
            last = func.attr.value
        if last in ("min", "float") or last in _CLIP_CALLS:
            return any(
                _grows_with_progress(context, arg.value) for arg in expr.args if arg.keyword is None
            )
        return False
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
        return _offset_progress(context, expr.left) and constant_number(context, expr.left) is None
    return False


def _offset_progress(context: FileContext, expr: cst.BaseExpression) -> bool:
    """``epoch``, ``epoch + 1``, ``float(step + 1)``: a progress counter, maybe shifted."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Subtract)):
        return (
            _offset_progress(context, expr.left)
            and constant_number(context, expr.right) is not None
        )
    return _is_progress(context, expr)


def _ramp_shape(context: FileContext, expr: cst.BaseExpression, depth: int) -> str | None:
    if isinstance(expr, cst.Call):
        func = expr.func
        last = (
            func.value
            if isinstance(func, cst.Name)
            else (func.attr.value if isinstance(func, cst.Attribute) else None)
        )
        if last in ("min", "max", "float") or last in _CLIP_CALLS:
            if _bounded_ramp(context, expr, last):
                return _code(context, expr)
            return None
        if last is not None:
            function = context.semantics.functions.get(last) if isinstance(func, cst.Name) else None
            if function is not None and depth > 0:
                for returned in function_returns(context, function):
                    if zero_start_ramp(context, returned, depth - 1) is not None:
                        return f"{_code(context, expr)} (which returns 0 at the start)"
                return None
            if set(identifier_words(last)) & RAMP_FUNCTION_WORDS and any(
                _reads_progress(arg.value) for arg in expr.args
            ):
                return _code(context, expr)
        return None
    if isinstance(expr, cst.IfExp):
        for branch in (expr.body, expr.orelse):
            if _zero_at_start(context, branch):
                return _code(context, expr)
        return None
    if _zero_at_start(context, expr):
        return _code(context, expr)
    return None


def _zero_at_start(context: FileContext, expr: cst.BaseExpression) -> bool:
    """``epoch / N``, ``step * k``, ``(epoch - start) / N``: zero when progress is zero."""
    if isinstance(expr, cst.Call):
        func = expr.func
        last = func.value if isinstance(func, cst.Name) else None
        if isinstance(func, cst.Attribute):
            last = func.attr.value
        if last in ("float", "min", "max") or last in _CLIP_CALLS:
            return _bounded_ramp(context, expr, last)
        return False
    if not isinstance(expr, cst.BinaryOperation):
        return False
    if isinstance(expr.operator, (cst.Divide, cst.FloorDivide)):
        return _is_progress(context, expr.left) and constant_number(context, expr.left) is None
    if isinstance(expr.operator, cst.Multiply):
        return (_is_progress(context, expr.left) and _is_scale(context, expr.right)) or (
            _is_progress(context, expr.right) and _is_scale(context, expr.left)
        )
    return False


def _bounded_ramp(context: FileContext, call: cst.Call, callee: str) -> bool:
    """``min(1, r)``, ``max(0, r)``, ``clip(r, 0, 1)`` of a zero-start ``r``.

    ``max(0.1, r)`` has a floor and is not zero at the start.
    """
    args = [arg.value for arg in call.args if arg.keyword is None]
    ramps = [arg for arg in args if _zero_at_start(context, arg)]
    if len(ramps) != 1:
        return False
    others = [arg for arg in args if arg is not ramps[0]]
    if callee == "max":
        # A positive floor keeps the weight above zero from the start.
        return all((constant_number(context, arg) or 0.0) <= 0 for arg in others)
    if callee in _CLIP_CALLS:
        lower = others[0] if others else None
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in ("min", "a_min"):
                lower = arg.value
        return lower is None or (constant_number(context, lower) or 0.0) <= 0
    return True


def _is_progress(context: FileContext, expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name):
        if expr.func.value in ("float", "int") and expr.args:
            return _is_progress(context, expr.args[0].value)
        return False
    if isinstance(expr, (cst.Name, cst.Attribute)):
        name = dotted_name(expr)
        return name is not None and is_progress_name(name.rsplit(".", 1)[-1])
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Subtract):
        # `epoch - stage_start`: zero at the start of the stage.
        right = dotted_name(expr.right) or ""
        return _is_progress(context, expr.left) and bool(
            set(identifier_words(right)) & {"start", "begin", "offset"}
        )
    return False


def _is_scale(context: FileContext, expr: cst.BaseExpression) -> bool:
    value = constant_number(context, expr)
    return value is not None and 0 < value <= 1


def _reads_progress(expr: cst.BaseExpression) -> bool:
    name = dotted_name(expr)
    return name is not None and is_progress_name(name.rsplit(".", 1)[-1])


def _code(context: FileContext, node: cst.CSTNode) -> str:
    return context.snippet(node, 60)
