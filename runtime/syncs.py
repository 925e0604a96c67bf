"""Counting host syncs: places where Python asks a tensor for its value.

``if tensor < 0.1:`` calls ``Tensor.__bool__``, which must wait for the value
(a device-to-host sync on CUDA, a graph break under ``torch.compile``). A
``TorchFunctionMode`` sees those calls on every device; on CUDA the count is
cross-checked with ``torch.cuda.set_sync_debug_mode("warn")``, which also
catches syncs inside ops (boolean-mask indexing, ``nonzero``) that Python never sees.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from torchlint.runtime._torch import import_torch

torch = import_torch()

from torch.overrides import TorchFunctionMode  # noqa: E402

#: Tensor methods whose call means "give Python the value now".
SYNC_METHODS = frozenset({"__bool__", "item", "tolist", "__int__", "__float__", "__index__"})


class SyncCounter(TorchFunctionMode):
    """A torch function mode that counts value requests and remembers their names."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.names: list[str] = []
        self.on_call: Callable[[Any, tuple, dict], None] | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in SYNC_METHODS:
            self.count += 1
            self.names.append(name)
        if self.on_call is not None:
            self.on_call(func, args, kwargs)
        return func(*args, **kwargs)


def _on_cuda(values) -> bool:
    return any(isinstance(v, torch.Tensor) and v.is_cuda for v in values)


def count_host_syncs(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """How many host syncs one call ``fn(*args, **kwargs)`` makes.

    Python-level value requests (``__bool__``, ``.item()``, ``.tolist()``,
    ``int()``/``float()``) are counted on every device. When the inputs live on
    CUDA, the call is made a second time under ``set_sync_debug_mode("warn")``
    and the larger of the two counts is returned.
    """
    counter = SyncCounter()
    with counter:
        fn(*args, **kwargs)
    count = counter.count
    if _on_cuda(list(args) + list(kwargs.values())):
        previous = torch.cuda.get_sync_debug_mode()
        try:
            torch.cuda.set_sync_debug_mode("warn")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fn(*args, **kwargs)
        finally:
            torch.cuda.set_sync_debug_mode(previous)
        cuda_count = sum("synchroniz" in str(w.message) for w in caught)
        count = max(count, cuda_count)
    return count


def fullgraph_compile_fails(fn: Callable[..., Any], *args: Any) -> tuple[bool, str]:
    """Whether ``torch.compile(fn, fullgraph=True)`` refuses ``fn`` (and the first line why).

    Uses the ``eager`` backend: the question is whether Dynamo can capture one
    graph, not code generation (which would need a C++ compiler on CPU).
    """
    import torch._dynamo

    torch._dynamo.reset()
    try:
        torch.compile(fn, fullgraph=True, backend="eager")(*args)
    except Exception as exc:
        first = str(exc).strip().splitlines()
        return True, f"{type(exc).__name__}: {first[0] if first else ''}"
    finally:
        torch._dynamo.reset()
    return False, ""
