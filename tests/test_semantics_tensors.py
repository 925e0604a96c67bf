"""Unit tests of the shared semantics used by TL001-TL003: tensors, bounds, losses,
differentiable code and value provenance."""

from __future__ import annotations

import textwrap

import libcst as cst

from torchlint.context import FileContext
from torchlint.semantics.bounds import bounded_unit_interval, bounds
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.differentiable import is_differentiable_context
from torchlint.semantics.losses import is_loss_function
from torchlint.semantics.provenance import (
    carries_no_gradient,
    differentiable_value,
    is_fresh_leaf,
)
from torchlint.semantics.tensors import is_tensor, tensor_confidence
from torchlint.walk import Walker


def walked(source: str) -> FileContext:
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    context = FileContext("example.py", source, module)
    Walker({}, {}, context.parents, lambda *args: None).walk(module)
    return context


def returned(context: FileContext, function: str) -> cst.BaseExpression:
    """The value of the last ``return`` of ``function`` (a method or a function)."""
    found = None
    for node in context.parents:
        if isinstance(node, cst.FunctionDef) and node.name.value == function:
            for inner in context.parents:
                if isinstance(inner, cst.Return) and any(
                    a is node for a in context.ancestors(inner)
                ):
                    found = inner.value
    assert found is not None, function
    return found


def function(context: FileContext, name: str) -> cst.FunctionDef:
    return next(
        n for n in context.parents if isinstance(n, cst.FunctionDef) and n.name.value == name
    )


MODEL = """
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import sigmoid as sg


class Head(nn.Module):
    def __init__(self, dim, scale=2.0):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.out = nn.Sequential(nn.Linear(dim, 4), nn.Sigmoid())
        self.scale = scale
        self.register_buffer("mean", torch.zeros(dim))

    def shape_of(self, x):
        return x.shape[0]

    def size_of(self, x):
        return x.size(0) + x.dim() + len(x)

    def item_of(self, x):
        return self.proj(x).mean().item()

    def numpy_max(self, a):
        return np.asarray(a).max() > 1

    def projected(self, x):
        y = self.proj(x)
        return y

    def compared(self, x):
        return F.softmax(x, dim=-1).max() > 0.5

    def config(self):
        return self.scale

    def buffer(self):
        return self.mean

    def annotated(self, x: torch.Tensor):
        return x

    def probs(self, x):
        return self.out(x)

    def probs_via_alias(self, x):
        p = sg(self.proj(x))
        p = p.view(-1, 4)
        return p

    def logits_rebound(self, x):
        logits = self.proj(x)
        probs = torch.sigmoid(logits)
        return logits

    def clamped(self, x):
        return torch.clamp(x, 0.0, 1.0)

    def scaled(self, x):
        return 1 - 0.5 * torch.tanh(x)

    def gate_product(self, x):
        i = torch.sigmoid(x)
        g = torch.tanh(x)
        return i * g

    def forward(self, x):
        return self.probs(x)
"""


def test_tensor_evidence_and_non_tensors() -> None:
    context = walked(MODEL)
    assert tensor_confidence(context, returned(context, "shape_of")) == Confidence.NONE
    assert tensor_confidence(context, returned(context, "size_of")) == Confidence.NONE
    assert tensor_confidence(context, returned(context, "item_of")) == Confidence.NONE
    assert tensor_confidence(context, returned(context, "numpy_max")) == Confidence.NONE
    assert tensor_confidence(context, returned(context, "config")) == Confidence.NONE
    assert is_tensor(context, returned(context, "projected"), Confidence.HIGH)
    assert is_tensor(context, returned(context, "compared"), Confidence.HIGH)
    assert is_tensor(context, returned(context, "buffer"), Confidence.HIGH)
    assert is_tensor(context, returned(context, "annotated"), Confidence.HIGH)


def test_bounds_follow_modules_aliases_and_rebinding() -> None:
    context = walked(MODEL)
    probs = bounds(context, returned(context, "probs"))
    assert probs is not None and (probs.low, probs.high) == (0.0, 1.0)
    assert "Sigmoid" in probs.origin
    assert bounded_unit_interval(context, returned(context, "probs_via_alias")) is not None
    assert bounds(context, returned(context, "logits_rebound")) is None
    clamp = bounds(context, returned(context, "clamped"))
    assert clamp is not None and (clamp.low, clamp.high) == (0.0, 1.0)
    scaled = bounds(context, returned(context, "scaled"))
    assert scaled is not None and (scaled.low, scaled.high) == (0.5, 1.5)
    # The product of two squashed values (an LSTM's i * g) is not a squashed output.
    assert bounded_unit_interval(context, returned(context, "gate_product")) is None
    assert bounds(context, returned(context, "forward")) is not None


def test_bounds_of_a_parameter_come_from_the_callers() -> None:
    context = walked(
        """
        import torch

        def refine(base, delta):
            return base + delta

        def model(x, w):
            coarse = torch.sigmoid(x @ w)
            return refine(coarse, x)
        """
    )
    fn = function(context, "refine")
    base = returned(context, "refine").left
    found = bounds(context, base)
    assert found is not None and found.confidence == Confidence.MEDIUM
    assert bounds(context, returned(context, "refine").right) is None
    assert fn is not None


LOSSES = """
import torch
import torch.nn as nn

def dice_loss(pred, target):
    return 1 - (2 * (pred * target).sum() + 1) / (pred.sum() + target.sum() + 1)

def plot_loss(history):
    return None

def loss_scale(step):
    return 2.0 ** 16

class FocalLoss(nn.Module):
    def forward(self, logits, target):
        return (logits - target).pow(2).mean()

class Model(nn.Module):
    def forward(self, x):
        return x * 2

def mse_of(model, x, y):
    return (model(x) - y).pow(2).mean()

def weight_for(epoch):
    return min(1.0, epoch / 10)

def train(model, loader, opt):
    for x, y in loader:
        loss = mse_of(model, x, y) * weight_for(3)
        loss.backward()
        opt.step()
"""


def test_loss_functions() -> None:
    context = walked(LOSSES)
    assert is_loss_function(context, function(context, "dice_loss")) == Confidence.HIGH
    assert is_loss_function(context, function(context, "plot_loss")) == Confidence.NONE
    assert is_loss_function(context, function(context, "loss_scale")) == Confidence.NONE
    forwards = [n for n in context.parents if isinstance(n, cst.FunctionDef)]
    focal, model = (f for f in forwards if f.name.value == "forward")
    assert is_loss_function(context, focal) == Confidence.HIGH
    assert is_loss_function(context, model) == Confidence.NONE
    assert is_loss_function(context, function(context, "mse_of")) == Confidence.MEDIUM
    assert is_loss_function(context, function(context, "weight_for")) == Confidence.NONE


def test_differentiable_context() -> None:
    context = walked(
        """
        import torch
        import torch.nn as nn

        def helper(x):
            return x + 1

        def unrelated(x):
            return x - 1

        class Net(nn.Module):
            def forward(self, x):
                with torch.no_grad():
                    stats = x.mean()
                return helper(x) * stats

        @torch.no_grad()
        def evaluate(model, x):
            return model(x)
        """
    )
    assert is_differentiable_context(context, returned(context, "helper")) == Confidence.MEDIUM
    assert is_differentiable_context(context, returned(context, "unrelated")) == Confidence.NONE
    assert is_differentiable_context(context, returned(context, "forward")) == Confidence.HIGH
    assert is_differentiable_context(context, returned(context, "evaluate")) == Confidence.NONE
    no_grad_body = next(
        n
        for n in context.parents
        if isinstance(n, cst.Assign) and n.targets[0].target.value == "stats"
    )
    assert is_differentiable_context(context, no_grad_body) == Confidence.NONE


def test_values_without_gradient() -> None:
    context = walked(
        """
        import torch

        def constant_loss(pred):
            return torch.tensor(0.5, device=pred.device)

        def rewrapped_loss(pred):
            value = pred.mean().item()
            return torch.tensor(value)

        def zero_with_graph(pred):
            return pred.sum() * 0

        def new_zero(pred):
            return pred.new_zeros(())

        def augmented(pred, target):
            total = torch.zeros(())
            total += (pred - target).abs().mean()
            return total
        """
    )
    assert carries_no_gradient(context, returned(context, "constant_loss"))
    assert carries_no_gradient(context, returned(context, "rewrapped_loss"))
    assert carries_no_gradient(context, returned(context, "new_zero"))
    assert not carries_no_gradient(context, returned(context, "zero_with_graph"))
    assert not carries_no_gradient(context, returned(context, "augmented"))


def test_fresh_leaves_are_constants_but_program_variables_are_not() -> None:
    context = walked(
        """
        import torch
        from torch.autograd import Variable

        w = torch.randn(3, requires_grad=True)

        def stub(pred):
            return torch.tensor(0.0, requires_grad=True)

        def named_stub(pred):
            loss = torch.zeros(1, requires_grad=True).to(pred.device)
            return loss

        def global_leaf():
            return (torch.ones(3) * w).sum()

        def from_data():
            a = torch.rand(4)
            return Variable(a, requires_grad=True).sum()

        def trained():
            t = torch.ones(1, requires_grad=True)
            opt = torch.optim.SGD([t], lr=0.1)
            return (t * 2).sum()

        def accumulated(terms):
            total = torch.tensor(0.0, requires_grad=True)
            for term in terms:
                total = total + term
            return total
        """
    )
    assert is_fresh_leaf(context, returned(context, "stub"))
    assert is_fresh_leaf(context, returned(context, "named_stub"))
    for name in ("global_leaf", "from_data", "trained", "accumulated"):
        value = returned(context, name)
        assert not carries_no_gradient(context, value), name
        assert not is_fresh_leaf(context, value), name


def test_emptiness_checks_that_count_the_batch() -> None:
    from torchlint.semantics.conditions import counts_data

    def counts(text: str) -> bool:
        return counts_data(cst.parse_expression(text))

    for text in (
        "len(gt_boxes) == 0",
        "annotations.shape[0] == 0",
        "mask.sum() == 0",
        "valid.any()",
        "num_pos > 0",
        "torch.count_nonzero(mask) == 0",
        "targets.size(0) == 0",
        "len(gt)",
        "num_gts",
        "len(gt) < 1",
        "0 < num_pos",
    ):
        assert counts(text), text
    for text in (
        "weight <= 0",
        "len(self.heads) == 0",
        "self.num_pos == 0",
        "scale > 0.5",
        "use_aux",
        "len(gt) > 5",
    ):
        assert not counts(text), text


def test_index_valued_operations_pass_no_gradient() -> None:
    context = walked(
        """
        import torch

        def ranking(preds, target):
            rank = preds.argsort(dim=1).argsort(dim=1)
            return ((preds.shape[1] - rank) * (target == 1)).float().sum()

        def accuracy(logits, labels):
            return (logits.argmax(dim=1) == labels).float().mean()

        def masked(pred, target):
            return (pred * (target == 1)).sum()
        """
    )
    for name in ("ranking", "accuracy"):
        value = returned(context, name)
        assert not differentiable_value(context, value), name
        assert not carries_no_gradient(context, value), name  # the default view keeps them
    assert differentiable_value(context, returned(context, "masked"))
