"""Is this code differentiated by training?

Differentiable code is the ``forward`` of a module, a loss function (see
:mod:`torchlint.semantics.losses`), and the functions and methods of the
same file that they call.  Not differentiable: training loops and steps,
validation, checkpointing, ``@torch.no_grad()`` functions and ``with
torch.no_grad():`` blocks, custom ``autograd.Function`` classes (their
backward is written by hand) and metrics.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import call_sites, callee_function, owner_class, resolve_callee
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.losses import is_loss_function
from torchlint.semantics.names import _bodies
from torchlint.semantics.vocabulary import is_driver_name

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext

_NO_GRAD = frozenset({"no_grad", "inference_mode"})
_NOT_DIFFERENTIABLE_BASES = re.compile(r"(^|\.)(Function|Metric|InplaceFunction)$")


def _is_no_grad(context: FileContext, expr: cst.BaseExpression) -> bool:
    """``torch.no_grad`` / ``inference_mode``, called or not (decorator or ``with``)."""
    model = context.semantics
    if isinstance(expr, cst.Call):
        expr = expr.func
    qualified = model.qualified_name(expr) or ""
    return qualified.rsplit(".", 1)[-1] in _NO_GRAD


def _decorated_no_grad(context: FileContext, fn: cst.FunctionDef) -> bool:
    return any(_is_no_grad(context, decorator.decorator) for decorator in fn.decorators)


def runs_without_grad(context: FileContext, node: cst.CSTNode) -> bool:
    """Whether ``node`` runs with autograd off: in a ``with torch.no_grad():`` block or
    in a function decorated ``@torch.no_grad()``/``@torch.inference_mode()``."""
    if inside_no_grad_block(context, node):
        return True
    fn = context.semantics.enclosing_function(node)
    return fn is not None and _decorated_no_grad(context, fn)


def _excluded_class(context: FileContext, cls: cst.ClassDef | None) -> bool:
    model = context.semantics
    if cls is None:
        return False
    return any(_NOT_DIFFERENTIABLE_BASES.search(base) for base in model.base_names(cls))


def differentiable_root(context: FileContext, fn: cst.FunctionDef) -> Confidence:
    """Confidence that ``fn`` itself is differentiated: a ``forward`` or a loss."""
    model = context.semantics
    key = ("differentiable_root", fn)
    cached = model.cache.get(key)
    if cached is not None:
        return cached
    result = Confidence.NONE
    cls = owner_class(context, fn)
    if _decorated_no_grad(context, fn) or _excluded_class(context, cls):
        result = Confidence.NONE
    elif fn.name.value == "forward" and cls is not None:
        result = Confidence.HIGH
    else:
        result = is_loss_function(context, fn)
        if result < Confidence.HIGH and is_driver_name(fn.name.value):
            # A training step returns the loss it differentiates; it is a driver all the same.
            result = Confidence.NONE
    model.cache[key] = result
    return result


def differentiable_functions(context: FileContext) -> dict:
    """Every function of the file that is differentiated, with a confidence.

    Roots (``forward``, losses) and, at MEDIUM, the functions and methods of
    this file they call, transitively; training drivers, ``no_grad``
    functions and custom autograd functions are not entered.
    """
    model = context.semantics
    found = model.cache.get("differentiable_functions")
    if found is not None:
        return found
    if not any(differentiable_root(context, fn) for fn in every_function(context)):
        # No root, nothing differentiated: the call graph is not needed.
        model.cache["differentiable_functions"] = found = {}
        return found
    callees: dict = {}
    for call, scope in call_sites(context):
        caller = scope.flow.function
        if caller is None:
            continue
        target = callee_function(context, resolve_callee(context, call, scope))
        if target is not None and target is not caller:
            callees.setdefault(caller, set()).add(target)
    found = {}
    pending = []
    for caller in callees:
        root = differentiable_root(context, caller)
        if root:
            found[caller] = root
            pending.append(caller)
    for fn in _all_functions(context):
        if fn not in found:
            root = differentiable_root(context, fn)
            if root:
                found[fn] = root
    while pending:
        caller = pending.pop()
        for target in callees.get(caller, ()):
            if target in found:
                continue
            if (
                _decorated_no_grad(context, target)
                or is_driver_name(target.name.value)
                or _excluded_class(context, owner_class(context, target))
            ):
                continue
            found[target] = Confidence.MEDIUM
            pending.append(target)
    model.cache["differentiable_functions"] = found
    return found


def every_function(context: FileContext) -> list[cst.FunctionDef]:
    """Every function of the file, nested ones included (statements only are scanned)."""
    model = context.semantics
    found = model.cache.get("every_function")
    if found is not None:
        return found
    found = []
    function_type = cst.FunctionDef
    stack: list[cst.CSTNode] = [model.module]
    while stack:
        node = stack.pop()
        if type(node) is function_type:
            found.append(node)
        for body in _bodies(node):
            stack.extend(body)
        for case in getattr(node, "cases", ()) or ():
            if isinstance(case.body, cst.IndentedBlock):
                stack.extend(case.body.body)
    model.cache["every_function"] = found
    return found


def _all_functions(context: FileContext):
    model = context.semantics
    yield from model.functions.values()
    for cls in model.classes.values():
        yield from model.methods(cls).values()


def inside_no_grad_block(context: FileContext, node: cst.CSTNode) -> bool:
    """Whether ``node`` sits in a ``with torch.no_grad():`` (or ``inference_mode``) block."""
    model = context.semantics
    # `type() is`: libcst's node classes are final, and isinstance against their
    # ABC base costs ten times more; this runs for every condition the rules see.
    function_type, with_type = cst.FunctionDef, cst.With
    for ancestor in model.context.ancestors(node):
        kind = type(ancestor)
        if kind is function_type:
            return False
        if kind is with_type and any(_is_no_grad(context, item.item) for item in ancestor.items):
            return True
    return False


def is_differentiable_context(context: FileContext, node: cst.CSTNode) -> Confidence:
    """Confidence that ``node`` (reached by the walk) runs under autograd in training.

    HIGH in a ``forward`` or a loss named as such, MEDIUM in code they call
    (or a function nested in them), NONE elsewhere and in ``no_grad`` blocks.
    """
    model = context.semantics
    if inside_no_grad_block(context, node):
        return Confidence.NONE
    function_type = cst.FunctionDef
    functions = [a for a in model.context.ancestors(node) if type(a) is function_type]
    if not functions:
        return Confidence.NONE
    innermost = functions[0]
    root = differentiable_root(context, innermost)
    if root:
        return root
    for outer in functions[1:]:
        if differentiable_root(context, outer) or outer in differentiable_functions(context):
            return Confidence.MEDIUM
    if is_driver_name(innermost.name.value):
        return Confidence.NONE
    return differentiable_functions(context).get(innermost, Confidence.NONE)
