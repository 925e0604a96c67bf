"""Which functions of a file compute a training loss.

Three kinds of evidence: the name (``dice_loss``, ``compute_loss``,
``criterion``; not ``plot_loss`` or ``loss_scale``), the ``forward`` of a
class named like a loss (``FocalLoss``) or derived from ``_Loss``, and a
function whose result reaches ``.backward()`` in the same file
(``loss = self.objective(out, y); loss.backward()``).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import (
    call_sites,
    callee_function,
    owner_class,
    resolve_callee,
)
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.values import flow_of, lookup
from torchlint.semantics.vocabulary import BACKWARD_CALLS, is_loss_name, name_words

if TYPE_CHECKING:
    from torchlint.context import FileContext
    from torchlint.syntax import SyntaxIndex

cst = lazy_module("libcst", globals(), "cst")

_MAX_DEPTH = 8
_FRAMEWORK_WORDS = frozenset(
    {"accelerator", "fabric", "engine", "trainer", "strategy", "precision", "deepspeed", "self"}
)


def _returns_a_value(context: FileContext, fn: cst.FunctionDef) -> bool:
    return any(
        statement.value is not None
        and not (isinstance(statement.value, cst.Name) and statement.value.value == "None")
        for statement, _ in flow_of(context, fn).returns
    )


def _returns_a_tensor(context: FileContext, fn: cst.FunctionDef) -> bool:
    # A weight or schedule multiplied into the loss returns a Python number.
    from torchlint.semantics.tensors import tensor_confidence

    return any(
        statement.value is not None
        and tensor_confidence(context, statement.value, scope) >= Confidence.MEDIUM
        for statement, scope in flow_of(context, fn).returns
    )


def is_loss_class(context: FileContext, cls: cst.ClassDef) -> bool:
    """A class named like a loss, or derived from ``_Loss`` or a loss class of this file."""
    model = context.semantics
    if is_loss_name(cls.name.value):
        return True
    for base in model.base_names(cls):
        last = base.rsplit(".", 1)[-1]
        if last == "_Loss" or last == "_WeightedLoss":
            return True
        local = model.classes.get(last)
        if local is not None and local is not cls and is_loss_name(local.name.value):
            return True
    return False


def is_loss_function(context: FileContext, fn: cst.FunctionDef) -> Confidence:
    """How sure we are that ``fn`` computes a loss that training differentiates.

    HIGH for a function or method named like a loss and for ``forward`` of a
    loss class; MEDIUM for a function of this file whose result reaches
    ``.backward()``; NONE otherwise (and for functions that return nothing).
    """
    model = context.semantics
    key = ("is_loss_function", fn)
    cached = model.cache.get(key)
    if cached is not None:
        return cached
    # Names first: they are cheap, and reading the returns builds the flow of `fn`.
    cls = owner_class(context, fn)
    if fn.name.value in ("forward", "__call__") and cls is not None:
        named = is_loss_class(context, cls)
    else:
        named = is_loss_name(fn.name.value) or _made_by_loss_factory(context, fn)
    result = Confidence.NONE
    if named:
        if _returns_a_value(context, fn):
            result = Confidence.HIGH
    elif (
        fn in functions_reaching_backward(context)
        and _returns_a_value(context, fn)
        and _returns_a_tensor(context, fn)
    ):
        result = Confidence.MEDIUM
    model.cache[key] = result
    return result


def _made_by_loss_factory(context: FileContext, fn: cst.FunctionDef) -> bool:
    """``def loss_convertor(loss_func): def wrapped(...): ...; return wrapped``: the
    nested function a loss-named factory returns is the loss."""
    outer = next(
        (node for node in context.ancestors(fn) if isinstance(node, cst.FunctionDef)), None
    )
    if outer is None or not is_loss_name(outer.name.value):
        return False
    return any(
        isinstance(statement.value, cst.Name) and statement.value.value == fn.name.value
        for statement, _ in flow_of(context, outer).returns
    )


def functions_reaching_backward(context: FileContext) -> frozenset:
    """Functions of this file whose return value is differentiated by ``.backward()``."""
    model = context.semantics
    found = model.cache.get("functions_reaching_backward")
    if found is not None:
        return found
    result: set = set()
    if "backward" in model.context.source:
        for call, scope in call_sites(context):
            for value in backward_targets(call):
                _collect_producers(context, value, scope, result, 0)
    found = frozenset(result)
    model.cache["functions_reaching_backward"] = found
    return found


def backward_targets(call: cst.Call) -> list[cst.BaseExpression]:
    """The values ``call`` differentiates: ``loss`` in ``loss.backward()``,
    ``scaler.scale(loss).backward()``, ``accelerator.backward(loss)``."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in BACKWARD_CALLS:
        return []
    receiver = func.value
    if call.args and not (isinstance(receiver, cst.Name) and receiver.value == "torch"):
        first = call.args[0]
        if first.keyword is None and not first.star and func.attr.value == "manual_backward":
            return [first.value]
        if first.keyword is None and not first.star and _is_framework_receiver(receiver):
            return [first.value]
    if (
        isinstance(receiver, cst.Call)
        and isinstance(receiver.func, cst.Attribute)
        and receiver.func.attr.value == "scale"
        and receiver.args
    ):
        return [receiver.args[0].value]
    if isinstance(receiver, cst.Name) and receiver.value in ("torch", "autograd"):
        return [call.args[0].value] if call.args else []
    return [receiver]


def _is_framework_receiver(receiver: cst.BaseExpression) -> bool:
    """``accelerator``, ``self.fabric``: objects whose ``backward(loss)`` takes the loss."""
    if isinstance(receiver, cst.Attribute):
        receiver = receiver.attr
    if isinstance(receiver, cst.Name):
        return any(word in _FRAMEWORK_WORDS for word in name_words(receiver.value))
    return False


def _collect_producers(context, value, scope, result: set, depth: int) -> None:
    if depth > _MAX_DEPTH or value is None:
        return
    if isinstance(value, cst.BinaryOperation):
        _collect_producers(context, value.left, scope, result, depth + 1)
        _collect_producers(context, value.right, scope, result, depth + 1)
    elif isinstance(value, cst.Name):
        bindings, found_scope = lookup(context, value.value, scope)
        for binding in bindings:
            if binding.kind in ("assign", "augment") and binding.value is not None:
                _collect_producers(
                    context, binding.value, found_scope.at(binding), result, depth + 1
                )
    elif isinstance(value, cst.Call):
        fn = callee_function(context, resolve_callee(context, value, scope))
        if fn is not None:
            result.add(fn)
        elif isinstance(value.func, cst.Attribute) and value.func.attr.value in (
            "mean",
            "sum",
        ):
            _collect_producers(context, value.func.value, scope, result, depth + 1)
    elif isinstance(value, cst.Subscript):
        _collect_producers(context, value.value, scope, result, depth + 1)


# -- the cheap mirror, on CPython's ast ------------------------------------------


def may_define_a_loss(index: SyntaxIndex) -> bool:
    """Whether :func:`is_loss_function` may rate some function of the file above NONE.

    Read from the file's ``ast``: HIGH needs a loss name (of the function, of
    the class whose ``forward`` it is, or its ``_Loss`` base); MEDIUM needs a
    call of ``backward``/``manual_backward``.
    """
    return index.memo("losses.may_define_a_loss", _may_define_a_loss)


def _may_define_a_loss(index: SyntaxIndex) -> bool:
    for call in index.nodes(ast.Call):
        if isinstance(call.func, ast.Attribute) and call.func.attr in BACKWARD_CALLS:
            return True
    for node in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        if is_loss_name(node.name):
            return True
    return "_Loss" in index.source or "_WeightedLoss" in index.source
