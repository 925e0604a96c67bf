"""libcst, imported on first use.

Rule modules hold both a rule's cheap stage (its text tokens and its test
on CPython's ``ast``) and its libcst judgement.  Most files are rejected by
the cheap stages, and a run in which every file is (or every file is
cached) should not pay for importing libcst, which costs more than checking
a small file.  So rule and semantics modules bind ``cst`` with
:func:`lazy_module` instead of ``import libcst as cst``: the name stands for
a stand-in until an attribute is first read, which imports libcst and puts
the real module in the place of the stand-in in every module that asked,
so the judgement's hot paths read a plain module global.

Module-level code must therefore not read ``cst.<attr>`` (that would import
libcst when the module is imported); keep such constants inside functions.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


class _LazyModule:
    """Stands for a module until first used; then rebinds every name that held it."""

    __slots__ = ("_bindings", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._bindings: list[tuple[dict[str, Any], str]] = []

    def _load(self):
        module = importlib.import_module(self._name)
        for namespace, alias in self._bindings:
            if namespace.get(alias) is self:
                namespace[alias] = module
        return module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, not yet imported>"


_STAND_INS: dict[str, _LazyModule] = {}


def lazy_module(name: str, namespace: dict[str, Any], alias: str) -> Any:
    """The module ``name`` for ``namespace[alias]``, imported when first used.

    Write ``cst = lazy_module("libcst", globals(), "cst")`` where a module
    would ``import libcst as cst``.  When the module is already imported it
    is returned as is.
    """
    module = sys.modules.get(name)
    if module is not None and not isinstance(module, _LazyModule):
        return module
    stand_in = _STAND_INS.get(name)
    if stand_in is None:
        stand_in = _STAND_INS[name] = _LazyModule(name)
    stand_in._bindings.append((namespace, alias))
    return stand_in


def is_loaded(name: str) -> bool:
    """Whether ``name`` has really been imported (for tests of the lazy paths)."""
    return name in sys.modules
