"""Unit tests of what a condition tests: None checks, counts, configuration, clamps,
and names reached through a star import."""

from __future__ import annotations

import textwrap

import libcst as cst

from torchlint.context import FileContext
from torchlint.semantics.conditions import is_none_comparison, only_clamps
from torchlint.semantics.provenance import CONSTANT, FRESH_LEAF, value_sources
from torchlint.semantics.tensors import is_integer_valued, tensor_confidence
from torchlint.semantics.values import scope_of
from torchlint.walk import Walker


def walked(source: str) -> FileContext:
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    context = FileContext("example.py", source, module)
    Walker({}, {}, context.parents, lambda *args: None).walk(module)
    return context


def conditions(context: FileContext) -> list:
    """The ``if``/``while``/conditional expressions of the file, in source order."""
    found = [n for n in context.parents if isinstance(n, (cst.If, cst.While, cst.IfExp))]
    order = {node: k for k, node in enumerate(context.parents)}
    return sorted(found, key=order.__getitem__)


def sides(test: cst.Comparison) -> list:
    return [test.left, *(t.comparator for t in test.comparisons)]


def test_star_import_of_a_project_module_hands_on_torch() -> None:
    context = walked(
        """
        from model.utils import *

        class Net(nn.Module):
            def forward(self, x):
                return F.relu(torch.abs(x))
        """
    )
    model = context.semantics
    calls = [n for n in context.parents if isinstance(n, cst.Call)]
    names = {model.qualified_name(call.func) for call in calls}
    assert names == {"torch.nn.functional.relu", "torch.abs"}
    assert model.base_names(model.classes["Net"]) == ["torch.nn.Module"]


def test_star_import_does_not_override_an_import_by_name() -> None:
    context = walked(
        """
        from model.utils import *
        import numpy as torch

        def f(x):
            return torch.abs(x)
        """
    )
    call = next(n for n in context.parents if isinstance(n, cst.Call))
    assert context.semantics.qualified_name(call.func) == "numpy.abs"
    bare = walked("def f(x):\n    return torch.abs(x)\n")
    call = next(n for n in bare.parents if isinstance(n, cst.Call))
    assert bare.semantics.qualified_name(call.func) is None


def test_comparison_with_none_is_a_python_bool() -> None:
    context = walked(
        """
        import torch

        def forward(flow, x):
            if flow != None:
                x = x + flow
            if None == flow:
                x = x * 2
            if flow > 0.5:
                x = x - 1
            return x
        """
    )
    first, second, third = conditions(context)
    assert is_none_comparison(first.test) and is_none_comparison(second.test)
    assert not is_none_comparison(third.test)
    assert tensor_confidence(context, first.test, scope_of(context, first)) == 0


def test_counts_indices_and_masks_are_integer_valued() -> None:
    context = walked(
        """
        import torch

        QUOTA = 256

        def forward(labels, scores):
            a = torch.sum((labels == 1).int(), 1)
            b = QUOTA - torch.sum((labels == 0).int(), 1)[0]
            c = labels.eq(1).long().sum()
            _, d = torch.max(scores, 1)
            e = (scores > 0.5).float().mean()
            f = scores.sum() / 2
            g = torch.sum(scores.argmax(1) == labels).to(torch.float32)
            h = 0
            h += (labels > 0).sum()
            return a, b, c, d, e, f, g, h
        """
    )
    returned = next(n for n in context.parents if isinstance(n, cst.Return))
    scope = scope_of(context, returned)
    found = [
        is_integer_valued(context, element.value, scope) for element in returned.value.elements
    ]
    assert found == [True, True, True, True, False, False, False, True]


def test_a_tensor_made_of_a_float_hyper_parameter_is_a_constant() -> None:
    context = walked(
        """
        import torch

        def smooth_l1_loss(pred, target, beta: float, delta=1.0):
            a = torch.as_tensor(beta).to(pred.dtype)
            b = torch.tensor(delta, device=pred.device)
            c = torch.as_tensor(pred.detach().mean())
            d = torch.tensor(0.0, requires_grad=True)
            return a, b, c, d
        """
    )
    returned = next(n for n in context.parents if isinstance(n, cst.Return))
    scope = scope_of(context, returned)
    found = [value_sources(context, e.value, scope) for e in returned.value.elements]
    assert found[0] == {CONSTANT} and found[1] == {CONSTANT}
    assert found[2] != {CONSTANT}
    assert found[3] == {FRESH_LEAF}  # made here from literals: no link to the model


CLAMPS = """
import torch

def norm(v):
    return v.flatten(1).norm(dim=1)

def loss_terms(x, v, hi, eps):
    while x >= 1 - 1e-5:
        x = x - 1e-5
    while x < 1e-5:
        x += 1e-5
    if x > hi:
        x = hi
    n = norm(v)
    if n > eps:
        v = v * eps / norm(v)
    if v.norm() > eps:
        v = v * (eps / v.norm())
    y = hi if x > hi else x
    if x > 0.5:
        x = x - 0.25
    if n > eps:
        v = v * 0.5
    if x.mean() > 5.0:
        x = x.clamp(max=5.0)
    if x > hi:
        x = hi
    else:
        x = x * 2
    return x, v, y
"""


def test_clamps_nudges_and_projections_meet_at_the_threshold() -> None:
    context = walked(CLAMPS)
    found = [
        only_clamps(context, node, node.test, scope_of(context, node))
        for node in conditions(context)
    ]
    assert found == [True, True, True, True, True, True, False, False, False, False]
