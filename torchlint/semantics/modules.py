"""Which classes of a file are ``nn.Module`` subclasses, and what their ``forward`` reaches.

A class is a module when a base resolves to a ``torch.nn`` module class
(``nn.Module``, ``nn.Sequential``, ...) or to Lightning's ``LightningModule``,
when a base class of the same file is one, or when it defines ``forward``
and derives from a class this file cannot see (``class Head(BaseHead)``):
in PyTorch code a ``forward`` method is the mark of a module.  A function
of the file runs inside a module's forward pass when a module method that
is not ``__init__`` calls it, directly or through another such function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import callers, is_module_class_name, local_bases, owner_class

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext

    pass

_LIGHTNING_MODULES = frozenset({"LightningModule", "HyperparametersMixin"})
# Bases that say a class is not a module even when it has a `forward` method.
_NOT_MODULE_BASES = frozenset(
    {"object", "Function", "autograd.Function", "torch.autograd.Function"}
)
_MAX_HOPS = 3


def _base_is_module(qualified: str) -> bool:
    last = qualified.rsplit(".", 1)[-1]
    if last in _LIGHTNING_MODULES:
        return True
    return is_module_class_name(qualified)


def is_module_class(context: FileContext, cls: cst.ClassDef) -> bool:
    """Whether ``cls`` is (very likely) an ``nn.Module`` subclass; see the module docstring."""
    model = context.semantics
    key = ("modules.is_module_class", cls)
    known = model.cache.get(key)
    if known is not None:
        return known
    result = False
    unknown_base = False
    for klass in local_bases(context, cls):
        for base in model.base_names(klass):
            if base in _NOT_MODULE_BASES or base.endswith(".Function"):
                continue
            if _base_is_module(base):
                result = True
                break
            if base.rsplit(".", 1)[-1] not in model.classes:
                unknown_base = True
        if result:
            break
    if not result and unknown_base:
        result = any("forward" in model.methods(klass) for klass in local_bases(context, cls))
    model.cache[key] = result
    return result


def module_of_method(context: FileContext, fn: cst.FunctionDef | None) -> cst.ClassDef | None:
    """The module class whose body defines ``fn`` (None for functions and other classes)."""
    cls = owner_class(context, fn)
    if cls is not None and is_module_class(context, cls):
        return cls
    return None


def runs_in_module_pass(context: FileContext, fn: cst.FunctionDef) -> bool:
    """Whether ``fn`` runs in a module's computation: a module method other than
    ``__init__``, or a function that such a method calls (up to three calls away)."""
    model = context.semantics
    key = ("modules.runs_in_module_pass", fn)
    known = model.cache.get(key)
    if known is not None:
        return known
    result = _reaches(context, fn, _MAX_HOPS, set())
    model.cache[key] = result
    return result


def _reaches(context: FileContext, fn: cst.FunctionDef, hops: int, seen: set) -> bool:
    model = context.semantics
    if fn in seen:
        return False
    seen.add(fn)
    if module_of_method(context, fn) is not None:
        return fn.name.value != "__init__"
    if hops == 0:
        return False
    for call, _scope in callers(context, fn):
        caller = model.enclosing_function(call)
        if caller is not None and _reaches(context, caller, hops - 1, seen):
            return True
    return False
