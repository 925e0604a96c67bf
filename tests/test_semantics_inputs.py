"""Unit tests of the model-input facts (semantics.inputs) and the bounds they build on:
tuple elements, convex blends, constant tensors, dropout, torch re-exported by a project."""

from __future__ import annotations

import textwrap

import libcst as cst

from torchlint.context import FileContext
from torchlint.semantics.bounds import blend_parts, bounded_unit_interval, bounds, convex_blend
from torchlint.semantics.inputs import (
    held_parameter,
    model_input,
    output_channels,
    returned_value,
)
from torchlint.semantics.values import scope_of
from torchlint.walk import Walker


def walked(source: str) -> FileContext:
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    context = FileContext("example.py", source, module)
    Walker({}, {}, context.parents, lambda *args: None).walk(module)
    return context


def squash_in(context: FileContext, cls: str) -> cst.Call:
    """The last ``*.sigmoid``/``*.tanh`` call inside class ``cls``."""
    found = None
    for node in context.parents:
        func = node.func if isinstance(node, cst.Call) else None
        if isinstance(func, cst.Attribute) and func.attr.value in ("sigmoid", "tanh"):
            owner = context.semantics.enclosing_class(node)
            if owner is not None and owner.name.value == cls:
                found = node
    assert found is not None, cls
    return found


def operands(call: cst.Call) -> tuple[cst.BaseExpression, cst.BaseExpression]:
    value = call.args[0].value
    assert isinstance(value, cst.BinaryOperation)
    return value.left, value.right


MODELS = """
import torch
import torch.nn as nn


class Enhancer(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(3, 16, 3, padding=1)
        self.out = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        skip = x
        x = self.out(self.body(x))
        return torch.sigmoid(x + skip)


class Blocky(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 3, padding=1)

    def forward(self, x):
        for _ in range(3):
            x = torch.tanh(x + self.conv(x))
        return x


class Part(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        out = torch.sigmoid(self.conv(x) + x)
        return out


class Whole(nn.Module):
    def __init__(self):
        super().__init__()
        self.part = Part()

    def forward(self, a, b):
        return self.part((a - b).abs())


class Framed(nn.Module):
    def __init__(self):
        super().__init__()
        self.part = Part()

    def forward(self, image):
        return self.part(image[:, :1])


class Unnamed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return torch.tanh(x + self.conv(x))
"""


def test_alias_taken_before_rebinding_holds_the_parameter() -> None:
    context = walked(MODELS)
    call = squash_in(context, "Enhancer")
    scope = scope_of(context, call)
    rebound, alias = operands(call)
    assert held_parameter(context, rebound, scope) is None
    assert held_parameter(context, alias, scope) == ("x", ["skip", "x"])
    assert returned_value(context, call, scope)
    assert output_channels(context, rebound, scope) == 3


def test_value_rebound_in_a_loop_is_not_the_input() -> None:
    context = walked(MODELS)
    call = squash_in(context, "Blocky")
    scope = scope_of(context, call)
    assert held_parameter(context, operands(call)[0], scope) is None
    # The last pass's value is returned: the loop, not the return, tells it is hidden.
    assert returned_value(context, call, scope)


def test_model_input_evidence_and_parts() -> None:
    context = walked(MODELS)
    call = squash_in(context, "Enhancer")
    scope = scope_of(context, call)
    rebound, alias = operands(call)
    found = model_input(context, alias, scope, ((rebound, scope),))
    assert found is not None and found.owner == "Enhancer.forward"
    assert "Enhancer" in found.evidence and "3 channels" in found.evidence
    # A class with no name, docstring or shape evidence is not read as a model of data.
    call = squash_in(context, "Unnamed")
    assert model_input(context, operands(call)[0], scope_of(context, call)) is None


def test_a_part_is_judged_by_what_its_callers_pass() -> None:
    context = walked(MODELS)
    call = squash_in(context, "Part")
    scope = scope_of(context, call)
    # `Whole` passes a flow-like difference; `Framed` passes an image slice: not all data.
    assert model_input(context, operands(call)[1], scope) is None
    without_whole = MODELS.replace("return self.part((a - b).abs())", "return a - b")
    context = walked(without_whole)
    call = squash_in(context, "Part")
    found = model_input(context, operands(call)[1], scope_of(context, call))
    assert found is not None and "Framed.forward" in found.evidence


BOUNDS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Backbone(nn.Module):
    def forward(self, x):
        return torch.clamp(x, 0.0, 1.0), x * 2


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.drop = nn.Dropout(0.1)
        self.alpha = nn.Parameter(torch.zeros(1))

    def first(self, x):
        coarse, feats = self.backbone(x)
        return coarse

    def second(self, x):
        coarse, feats = self.backbone(x)
        return feats

    def dropped(self, x):
        return self.drop(F.softmax(x, dim=-1))

    def blended(self, p, q):
        w = torch.sigmoid(self.alpha)
        return w * torch.sigmoid(p) + (1 - w) * F.softmax(q, dim=-1)

    def raw_weight(self, p, q):
        return self.alpha * torch.sigmoid(p) + (1 - self.alpha) * torch.sigmoid(q)

    def defaulted(self, x, flag):
        if flag:
            probs = torch.zeros_like(x)
        else:
            probs = torch.sigmoid(x)
        return probs

    def filled(self, x, index):
        probs = torch.zeros_like(x)
        probs[index] = x[index]
        return probs

    def zeros(self, x):
        return torch.zeros_like(x)
"""


def returned(context: FileContext, name: str) -> cst.BaseExpression:
    for node in context.parents:
        if isinstance(node, cst.Return) and node.value is not None:
            fn = context.semantics.enclosing_function(node)
            if fn is not None and fn.name.value == name:
                return node.value
    raise AssertionError(name)


def test_bounds_follow_one_element_of_a_returned_tuple() -> None:
    context = walked(BOUNDS)
    first = bounded_unit_interval(context, returned(context, "first"))
    assert first is not None and "Backbone.forward()" in first.origin
    assert bounds(context, returned(context, "second")) is None


def test_bounds_keep_through_dropout_and_convex_blends() -> None:
    context = walked(BOUNDS)
    assert bounded_unit_interval(context, returned(context, "dropped")) is not None
    blended = returned(context, "blended")
    assert blend_parts(blended) is not None
    assert convex_blend(context, blended) is not None
    found = bounded_unit_interval(context, blended)
    assert found is not None and (found.low, found.high) == (0.0, 1.0)
    # A raw parameter as the weight is not known to lie in [0, 1]: no blend.
    raw = returned(context, "raw_weight")
    assert blend_parts(raw) is not None and convex_blend(context, raw) is None


def test_constant_tensors_are_bounded_but_not_squashed() -> None:
    context = walked(BOUNDS)
    zeros = bounds(context, returned(context, "zeros"))
    assert zeros is not None and zeros.constant and not zeros.direct
    assert bounded_unit_interval(context, returned(context, "zeros")) is None
    defaulted = bounded_unit_interval(context, returned(context, "defaulted"))
    assert defaulted is not None and defaulted.origin == "torch.sigmoid"
    # Filled in place after it was made: its values are no longer the constant.
    assert bounds(context, returned(context, "filled")) is None


def test_torch_reexported_by_a_project_module_resolves_to_torch() -> None:
    context = walked(
        """
        from utils import nn, torch
        from .common import F as functional

        def head(x):
            return torch.sigmoid(x), functional.relu(x), nn.Conv2d
        """
    )
    value = returned(context, "head")
    assert isinstance(value, cst.Tuple)
    names = [context.semantics.qualified_name(el.value.func) for el in value.elements[:2]]
    assert names == ["torch.sigmoid", "torch.nn.functional.relu"]
    assert context.semantics.qualified_name(value.elements[2].value) == "torch.nn.Conv2d"
