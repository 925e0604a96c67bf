"""TL003 constant-loss-return: a loss that returns a tensor with no link to its inputs."""

from __future__ import annotations

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter
from torchlint.rule import Invalid, Rule
from torchlint.semantics.callgraph import call_sites, owner_class
from torchlint.semantics.conditions import (
    condition_atoms,
    counts_data,
    is_emptiness_check,
    mentions_nan_check,
)
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.losses import backward_targets, is_loss_function, may_define_a_loss
from torchlint.semantics.provenance import carries_no_gradient, is_fresh_leaf
from torchlint.semantics.tensors import tensor_confidence
from torchlint.semantics.values import flow_of, lookup
from torchlint.semantics.vocabulary import (
    LOSS_TOKENS,
    LOSS_WORDS,
    is_loss_name,
)

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------

PREFILTER = Prefilter(
    # A loss function returning a value, or a `.backward()` call.
    tokens=(("return", "backward"), LOSS_TOKENS),
    syntax=lambda index, settings: may_define_a_loss(index),
)


# -- judgement ------------------------------------------------------------------

_DISTRIBUTED_PREFIXES = ("torch.distributed.",)

_FAKE_GRADIENT = (
    "made fresh with `requires_grad=True`: a leaf created inside the loss is still a "
    "constant, not the model's output, so `.backward()` runs without error and no "
    "parameter gets a gradient from this term; compute the term from the predictions, or "
    "return `pred.sum() * 0` when it must vanish (and let a real failure raise)"
)
_IN_EXCEPT = (
    "when the loss raises: the error is swallowed and the term becomes a constant with no "
    "gradient, so the failing batches silently teach nothing; let the error raise, or return "
    "`pred.sum() * 0` if skipping a batch is intended"
)
_EMPTY_BATCH = (
    "for a batch without targets: the constant has no link to the predictions, so that "
    "batch teaches the head nothing (a background image should still push its scores "
    "down) and the head's parameters drop out of the graph (under DDP: 'parameters that "
    "were not used in producing loss'); compute the negative-only term, or use "
    "`pred.sum() * 0` to keep the graph connected"
)
_TENSOR_BRANCH = (
    "on a path chosen by tensor values: the value has no link to the inputs, so whenever "
    "it is returned this term gives no gradient and the model learns nothing from it; make "
    "the term a smooth function of the inputs (e.g. `torch.exp(-k * value)`), or return "
    "`pred.sum() * 0` when a term must vanish"
)
_EVERY_PATH = (
    "on every path: the value has no link to the inputs, so this term gives no gradient "
    "and the model learns nothing from it; compute it from the predictions"
)


class ConstantLossReturn(Rule):
    """A loss returns a constant tensor on a data-dependent path, or on every path.

    ## What it does
    Flags a loss (a function or method named like one, the `forward` of a
    `*Loss` module, or a function whose value reaches `.backward()`) that
    returns a tensor with no link to its inputs: `torch.tensor(0.5)`,
    `torch.zeros(...)`, `x.new_zeros(())`, or an `.item()`/`.detach()`/
    `float()` value rewrapped with `torch.tensor(...)`. It is flagged when
    such a return is chosen by a tensor condition (`if diversity > 0.05:`) or
    when every return of the loss is like that; also a value without a link
    that `.backward()` is called on. A constant returned under a
    configuration switch (`if weight <= 0:`), an empty-batch or NaN guard,
    and the graph-preserving zero `pred.sum() * 0` stay quiet.

    ## Why is this bad?
    A constant has no gradient: whenever that path runs, this loss term
    teaches the model nothing, and a loss that only ever returns constants
    never trains the parameters it was meant to shape. Because the value
    still looks plausible in the logs (0.0 or 0.5), the dead term goes
    unnoticed; `.backward()` on a rewrapped `.item()` trains nothing at all.

    ## Example
    ```python
    def color_diversity_loss(img):
        saturation = img.std(dim=1).mean()
        if saturation > 0.2:
            return torch.tensor(0.0, device=img.device)
        return torch.tensor(0.5, device=img.device)
    ```

    ## Use instead
    ```python
    def color_diversity_loss(img):
        saturation = img.std(dim=1).mean()
        return torch.exp(-10.0 * saturation)
    ```

    ## Evidence
    Measured by `torchlint confirm TL003 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs; full output in [evidence.md](../evidence.md)). Buggy vs
    fixed:

    - **Confirmed**: the term has `requires_grad=False` (fixed: a graph).
    - **Confirmed**: training with the term is bit-identical to training without it (max
      parameter difference 0; fixed: 0.34-0.66), while it still adds 0.25 to the logged loss.
    - **Confirmed**: the colour diversity the term should enforce ends at 0.035-0.042 vs
      0.20-0.21 with the smooth penalty (4.8-5.6x weaker).
    """

    code = "TL003"
    name = "constant-loss-return"
    summary = "a loss returns a tensor with no link to its inputs, so that path has no gradient"
    fix_hint = "compute the term from the inputs (a smooth penalty), or return pred.sum() * 0"
    prefilter = PREFILTER
    variants = {"loss": sorted(LOSS_WORDS), "Loss": sorted(w.title() for w in LOSS_WORDS)}
    valid = [
        """
import torch

def masked_loss(pred, target, mask):
    if mask.sum() == 0:
        return pred.sum() * 0
    return ((pred - target) ** 2 * mask).sum() / mask.sum()
""",
        """
import torch

def tv_loss(x, weight):
    if weight <= 0:
        return x.new_zeros(())
    return weight * (x[..., 1:] - x[..., :-1]).abs().mean()
""",
        """
import torch

def auc(scores, labels):
    if labels.unique().numel() == 1:
        return torch.tensor(0.5)
    return (scores[labels == 1].mean() > scores[labels == 0].mean()).float()
""",
    ]
    invalid = [
        Invalid(
            """
import torch

def color_diversity_loss(img):
    saturation = img.std(dim=1).mean()
    if saturation > 0.2:
        return torch.tensor(0.0, device=img.device)
    return torch.tensor(0.5, device=img.device)
""",
            line=7,
            message="returns `torch.tensor(0.0, device=img.device)` on every path",
        ),
        Invalid(
            """
import torch

def train(model, x, y, opt):
    loss = torch.tensor(((model(x) - y) ** 2).mean().item(), requires_grad=True)
    loss.backward()
    opt.step()
""",
            line=5,
            message="`loss` reaches `.backward()` but is built with no link to th",
        ),
    ]

    def __init__(self, context, settings=None) -> None:
        super().__init__(context, settings)
        self._functions: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        # Decided after the walk, when the call index (which functions reach
        # `.backward()`) is read off the parent map instead of a second walk.
        self._functions.append(node)

    def _check_function(self, node: cst.FunctionDef) -> None:
        if is_loss_function(self.context, node) < Confidence.MEDIUM:
            return
        flow = flow_of(self.context, node)
        loss_name = self._loss_name(node)
        returns = [
            (statement, scope) for statement, scope in flow.returns if statement.value is not None
        ]
        dead = []
        for statement, scope in returns:
            value = statement.value
            if tensor_confidence(self.context, value, scope) < Confidence.MEDIUM:
                continue
            if carries_no_gradient(self.context, value, scope) and not self._reduced_for_logging(
                value, scope
            ):
                dead.append((statement, scope))
        every_path = bool(dead) and len(dead) == len(returns)
        for statement, scope in dead:
            why = self._why_dead(node, statement, statement.value, scope, every_path)
            if why is not None:
                self._report(statement.value, f"loss `{loss_name}` returns", why)
        self._check_filled_terms(node, flow, loss_name)

    def _why_dead(self, fn, statement, value, scope, every_path: bool) -> str | None:
        """Why a constant standing in for a loss is a finding, or None when it is a guard."""
        if is_fresh_leaf(self.context, value, scope):
            return _FAKE_GRADIENT
        if self._in_except(fn, statement):
            return _IN_EXCEPT
        if every_path:
            return _EVERY_PATH
        if self._empty_batch_branch(fn, statement, scope):
            return _EMPTY_BATCH
        if self._tensor_decided_branch(scope):
            return _TENSOR_BRANCH
        return None

    def _check_filled_terms(self, fn, flow, loss_name: str) -> None:
        """``losses.append(torch.tensor(0.0))`` / ``loss["box"] = torch.tensor(0.0)`` into
        a loss container the function returns."""
        returned = _returned_names(flow)
        for statement in flow.order_of:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                filled = _filled_term(small)
                if filled is None:
                    continue
                container, value = filled
                if container not in returned or not is_loss_name(container):
                    continue
                scope = flow.scope_at(statement)
                if tensor_confidence(
                    self.context, value, scope
                ) < Confidence.MEDIUM or not carries_no_gradient(self.context, value, scope):
                    continue
                why = self._why_dead(fn, statement, value, scope, every_path=False)
                if why is not None:
                    self._report(value, f"loss `{loss_name}` puts", why, into=container)

    def leave_Module(self, node: cst.Module) -> None:
        for function in self._functions:
            self._check_function(function)
        if ".backward(" not in self.context.source:
            return
        for call, scope in call_sites(self.context):
            for target in backward_targets(call):
                if not isinstance(target, cst.Name):
                    continue
                bindings, found_scope = lookup(self.context, target.value, scope)
                for binding in bindings:
                    if binding.kind != "assign" or binding.value is None:
                        continue
                    value_scope = found_scope.at(binding)
                    if tensor_confidence(
                        self.context, binding.value, value_scope
                    ) >= Confidence.MEDIUM and carries_no_gradient(
                        self.context, binding.value, value_scope
                    ):
                        self.report(
                            binding.value,
                            f"`{target.value}` reaches `.backward()` but is built with no link "
                            "to the model (a constant, or an `.item()`/`.detach()` value "
                            "rewrapped as a tensor): backward computes nothing and the "
                            "parameters never change; call `.backward()` on the loss tensor "
                            "itself and use `.item()` only for logging",
                        )

    def _loss_name(self, fn: cst.FunctionDef) -> str:
        cls = owner_class(self.context, fn)
        return f"{cls.name.value}.{fn.name.value}" if cls is not None else fn.name.value

    def _report(self, value, head: str, why: str, into: str | None = None) -> None:
        text = self.context.snippet(value, 50, collapse_whitespace=True)
        where = f"`{text}` into `{into}`" if into is not None else f"`{text}`"
        self.report(value, f"{head} {where} {why}")

    def _in_except(self, fn, statement) -> bool:
        for ancestor in self.context.ancestors(statement):
            if ancestor is fn:
                return False
            if isinstance(ancestor, cst.ExceptHandler):
                return True
        return False

    def _empty_batch_branch(self, fn, statement, scope) -> bool:
        """Inside ``if len(gt) == 0:`` (either branch), or after an early exit
        ``if num_pos > 0: return ...``: a stand-in for a batch without targets."""
        guards = [c for c in scope.path if isinstance(c, cst.If)]
        guards += _preceding_exits(self.context, fn, statement)
        for guard in guards:
            atoms = list(condition_atoms(guard.test))
            if atoms and all(counts_data(atom) for atom in atoms):
                return True
        return False

    def _tensor_decided_branch(self, scope) -> bool:
        for compound in scope.path:
            test = getattr(compound, "test", None)
            if not isinstance(compound, (cst.If, cst.While)) or test is None:
                continue
            atoms = list(condition_atoms(test))
            if any(mentions_nan_check(atom) for atom in atoms):
                continue
            if all(is_emptiness_check(atom) for atom in atoms):
                continue
            compound_scope = scope.flow.scope_at(compound)
            for atom in atoms:
                sides = [atom]
                if isinstance(atom, cst.Comparison):
                    sides = [atom.left, *(t.comparator for t in atom.comparisons)]
                if any(
                    tensor_confidence(self.context, side, compound_scope) >= Confidence.MEDIUM
                    and not carries_no_gradient(self.context, side, compound_scope)
                    for side in sides
                ):
                    return True
        return False

    def _reduced_for_logging(self, value: cst.BaseExpression, scope) -> bool:
        """``t = torch.tensor(loss.item()); dist.all_reduce(t); return t``: a logged copy."""
        if not isinstance(value, cst.Name):
            value = _first_name(value)
        if value is None:
            return False
        model = self.context.semantics
        for call, call_scope in call_sites(self.context):
            if call_scope.flow is not scope.flow:
                continue
            qualified = model.qualified_name(call.func) or ""
            if not qualified.startswith(_DISTRIBUTED_PREFIXES):
                continue
            for arg in call.args:
                if isinstance(arg.value, cst.Name) and arg.value.value == value.value:
                    return True
        return False


def _filled_term(small) -> tuple[str, cst.BaseExpression] | None:
    """``("losses", v)`` for ``losses.append(v)``; ``("loss", v)`` for ``loss[key] = v``."""
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "append"
            and isinstance(func.value, cst.Name)
            and len(call.args) == 1
        ):
            return func.value.value, call.args[0].value
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            return target.value.value, small.value
    return None


def _returned_names(flow) -> frozenset:
    """Names the returns of ``flow`` are built from, through its assignments."""
    names: set[str] = set()
    pending = [statement.value for statement, _ in flow.returns if statement.value is not None]
    while pending:
        stack = [pending.pop()]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Name) and node.value not in names:
                names.add(node.value)
                for binding in flow.bindings.get(node.value, ()):
                    if binding.kind in ("assign", "augment") and binding.value is not None:
                        pending.append(binding.value)
            stack.extend(node.children)
    return frozenset(names)


def _preceding_exits(context, fn, statement) -> list:
    """``if`` statements before ``statement`` (at its level or an enclosing one) whose
    body ends by leaving: ``if num_pos > 0: return real`` then ``return torch.tensor(0.0)``."""
    found = []
    node = statement
    for parent in context.ancestors(statement):
        if isinstance(parent, (cst.IndentedBlock, cst.Module)):
            for sibling in parent.body:
                if sibling is node:
                    break
                if (
                    isinstance(sibling, cst.If)
                    and sibling.orelse is None
                    and _ends_by_leaving(sibling.body)
                ):
                    found.append(sibling)
        if parent is fn:
            break
        node = parent
    return found


def _ends_by_leaving(body) -> bool:
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    if not lines:
        return False
    last = lines[-1]
    smalls = getattr(last, "body", None)
    if isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) and smalls:
        return isinstance(smalls[-1], (cst.Return, cst.Continue, cst.Break, cst.Raise))
    return False


def _first_name(expr: cst.BaseExpression) -> cst.Name | None:
    while isinstance(expr, (cst.BinaryOperation, cst.Call, cst.Attribute, cst.Subscript)):
        if isinstance(expr, cst.BinaryOperation):
            expr = expr.left
        elif isinstance(expr, cst.Call):
            expr = expr.func.value if isinstance(expr.func, cst.Attribute) else None
        else:
            expr = expr.value
    return expr if isinstance(expr, cst.Name) else None
