"""Where the functions and methods of a file are called from, inside the same file.

Found by name through the parent map the walk fills, so ask after the walk
(in ``leave_Module``).  A method is matched by ``self.<name>(...)`` (sure) or
``<anything>.<name>(...)`` (less sure); a function by ``<name>(...)``.
"""

from __future__ import annotations

import libcst as cst

from torchlint.context import FileContext

# Method names that `obj.<name>()` calls on many unrelated objects (`model.train()`,
# `optimizer.step()`): a call by one of these names alone says nothing about which
# class's method runs.
_GENERIC_METHOD_NAMES = frozenset(
    {
        "train",
        "eval",
        "forward",
        "step",
        "update",
        "run",
        "fit",
        "save",
        "load",
        "reset",
        "close",
        "get",
        "set",
        "apply",
        "log",
        "zero_grad",
        "backward",
        "to",
        "cuda",
        "cpu",
        "state_dict",
        "load_state_dict",
        "append",
        "extend",
        "items",
        "keys",
        "values",
        "copy",
        "start",
        "stop",
        "call",
        "__call__",
    }
)


def callee_last(call: cst.Call) -> str | None:
    """The last name of the callee: ``get_loss`` for ``self.get_loss(x)``."""
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


def call_sites(context: FileContext) -> dict[str, list[cst.Call]]:
    """Every call in the file, keyed by the callee's last name (built once per file)."""
    cache = context.semantics.cache
    sites = cache.get("calls.sites")
    if sites is None:
        sites = {}
        call_type = cst.Call
        for node in context.parents:
            # `type() is`: isinstance on libcst's ABC-based classes costs ten times more.
            if type(node) is call_type:
                name = callee_last(node)
                if name is not None:
                    sites.setdefault(name, []).append(node)
        cache["calls.sites"] = sites
    return sites


def calls_of(context: FileContext, fn: cst.FunctionDef) -> list[tuple[cst.Call, float]]:
    """Calls of ``fn`` in this file, each with how sure the match is (0..1)."""
    owner = context.semantics.class_of_method(fn)
    found = []
    if owner is not None and fn.name.value == "__init__":
        # `Trainer(model, opt, sched)` runs `Trainer.__init__`.
        for call in call_sites(context).get(owner.name.value, ()):
            if isinstance(call.func, cst.Name):
                found.append((call, 0.9))
        return found
    for call in call_sites(context).get(fn.name.value, ()):
        func = call.func
        if owner is None:
            if isinstance(func, cst.Name):
                found.append((call, 0.95))
            continue
        if not isinstance(func, cst.Attribute):
            continue
        receiver = func.value
        is_self = isinstance(receiver, cst.Name) and receiver.value in ("self", "cls")
        is_super = isinstance(receiver, cst.Call) and callee_last(receiver) == "super"
        if is_self or is_super:
            found.append((call, 0.9))
        elif fn.name.value not in _GENERIC_METHOD_NAMES:
            found.append((call, 0.7))
    return found


def bound_argument(
    call: cst.Call, fn: cst.FunctionDef, parameter: str
) -> cst.BaseExpression | None:
    """The argument expression ``call`` passes for ``fn``'s ``parameter``, if visible."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == parameter:
            return arg.value
    positional_params = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
    bound_receiver = isinstance(call.func, cst.Attribute) or fn.name.value == "__init__"
    if positional_params and positional_params[0] in ("self", "cls") and bound_receiver:
        positional_params = positional_params[1:]
    if parameter not in positional_params:
        return None
    index = positional_params.index(parameter)
    positional = [arg for arg in call.args if arg.keyword is None]
    if any(arg.star for arg in positional[: index + 1]):
        return None
    if index < len(positional):
        return positional[index].value
    return None
