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
from torchlint.semantics.names import dotted_name
from torchlint.semantics.provenance import (
    carries_no_gradient,
    differentiable_value,
    is_fresh_leaf,
)
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
    stands in a tensor with no link to its inputs for a loss term:
    `torch.tensor(0.5)`, `torch.zeros(...)`, `x.new_zeros(())`, an
    `.item()`/`.detach()`/`float()` value rewrapped with `torch.tensor(...)`,
    or a leaf made inside the loss with `requires_grad=True`. The constant
    may be returned, be a loss-named entry or the first element of a
    returned dict or tuple, be put into a loss container the function
    returns (`losses.append(...)`, `loss["loss_bbox"] = ...`), or be bound to
    a loss-named term that reaches the return (`loss_bbox = torch.tensor(0.)`
    under `if num_pos == 0:`, then `return loss_cls + loss_bbox`; a name that
    is accumulated into later, `loss = torch.tensor(0.0)` then `loss +=
    term`, is not). A nested function that a loss-named factory returns
    (`def loss_convertor(fn): def wrapped(...): ...; return wrapped`) is a
    loss too. It is flagged

    - whatever the branch, when it is a **fake-gradient leaf**:
      `torch.tensor(0.0, requires_grad=True)` (or `torch.zeros(1,
      requires_grad=True)`, `.requires_grad_()`) made from literals in the
      loss itself. A fresh leaf is still a constant: nothing holds it,
      `.backward()` succeeds and no parameter moves. A leaf that the code
      trains (handed to an optimizer, read through `.grad`, put in a
      parameter list), one made at module level, and
      `Variable(data, requires_grad=True)` (a variable made from data, as in
      gradient checks) are not constants;
    - on **every path** of the loss;
    - when it is returned from `except:`/`except Exception:`, which turns
      every failure, bugs included, into a silent zero;
    - for a **batch without targets**: the body of `if len(gt_boxes) == 0:`
      or `if boxes.shape[0] == 0:`, the `else` of `if num_pos > 0:`, or the
      code after an early `if valid.any(): return ...`;
    - on a branch chosen by a tensor condition (`if diversity > 0.05:`).

    The `except` and empty-batch cases need another return of the function
    that can pass a gradient back: a metric named like a loss (a ranking
    loss built from `argsort`) has no graph to lose.

    A constant under a configuration switch (`if weight <= 0:`, `if
    len(self.heads) == 0:`), a NaN guard without `requires_grad`, a narrow
    `except ImportError:`, a metric (`recall_at_iou`, `auc`) and the
    graph-preserving zero `pred.sum() * 0` stay quiet. A constant in a log
    dictionary (`stats["iou"]`) is not a loss term. `.backward()` called on a
    value with no link to the model is flagged too.

    ### Real code
    On the labelled real-code set (`bench/realworld.py`): 7 of 7 known bugs
    found (0 of 7 before this rule looked at fresh leaves and empty
    batches). Four are the fake-gradient stub: a Cox partial-likelihood loss
    returning `torch.tensor(0.0, requires_grad=True)` when it is NaN, a CTC
    loss that is only that stub, a cross-entropy that returns it from
    `except Exception`, and an SSL bundle returning
    `torch.tensor(0.5, requires_grad=True)` when an output key is missing.
    Three are empty-batch stand-ins: pytorch-retinanet's focal loss and its
    EfficientDet copy append `torch.tensor(0).float()` for an image without
    annotations, and ultralytics' `DETRLoss._get_loss_bbox` stores
    `torch.tensor(0.0)` for both box losses when there are no ground-truth
    boxes. The four look-alike rows stay quiet (`pred.sum() * 0` in BEVFormer
    and the Lovasz loss, taming-transformers' adaptive *weight* set in
    `except RuntimeError`, and CSAIL's numeric batch-norm test, whose loss
    comes from `Variable(a, requires_grad=True)` through `mean`, `clamp`,
    `sqrt` and `view`: a variable made from data, which the old rule
    mistook for a constant). The 51 sweep repositories (403 k lines) give no
    TL003 finding (the old rule's only sweep findings were that test, once
    per path it is reachable by). On the 5.2 M-line PyPI corpus
    (transformers, diffusers, timm, lightning, ultralytics 8.4, ...) it
    finds three, none before: transformers' RF-DETR `loss_masks` returns
    `torch.zeros_like(source_masks)` when no mask is matched (the D-FINE
    loss beside it uses `pred_corners.sum() * 0` for the same case: true),
    and ultralytics' visual-prompt `TVPDetectLoss`/`TVPSegmentLoss` return
    `torch.zeros(3, requires_grad=True)` when the predictions carry no
    visual-prompt classes (a deliberate skip, but a fake gradient: the
    step trains nothing and DDP ranks can disagree; debatable). In the case
    repositories, outside the scored rows, the same visual-prompt losses
    show up in the pinned ultralytics tree, and one more judgement call: a
    perceptual loss (GijsFiten/txgs) that falls back to zero under `except
    Exception` when its renderer fails (meant for unsupported GPUs, but it
    also hides bugs). torchmetrics' label-ranking "loss", a
    metric built from `argsort` that returns 0 for an empty batch, stays
    quiet: a stand-in is only a finding when another return of the
    function can pass a gradient back.

    Empty batches were exempt before; they are flagged now because upstream
    fixed both real cases as bugs: a background image still has to push the
    classification scores down (retinanet PR 145 computes the negative-only
    focal loss instead), and a head that drops out of the graph makes DDP
    fail with "parameters that were not used in producing loss"
    (ultralytics PR 26012, pytorch issue 23425). The fix that keeps the
    value 0 and the graph connected is `pred.sum() * 0`, the idiom mmdet and
    detectron2 use.

    Held-out check (code the rule was not built on): 7 of 7 instances found,
    3 of them only after this rule read named terms and loss factories.
    From upstream fixes: nanodet's `GFLHead.loss` before commit a444d72
    (issue 7) sets `loss_qfl`, `loss_bbox` and `loss_dfl` to
    `torch.tensor(0).cuda()` when `avg_factor <= 0` and returns their sum,
    and the "fix" in a444d72 makes them `requires_grad=True` leaves (still
    a fake gradient; both found); mmpretrain's multi-task head before PR
    1530 returns `{'loss': torch.tensor(0.)}` from the `wrapped` function of
    `loss_convertor` when a task has no labels in the batch (found, as the
    factory's loss). Found in public code by its shape: a contrastive NER
    loss, a hard-triplet loss and a loop-closure triplet loss (two
    functions) that return `torch.tensor(0.0, requires_grad=True)` when the
    batch has no valid pair or triplet. One more true finding came with a
    TL002 instance: a VAE loss that sets `triplet_loss` to a constant under
    `except Exception`. Sweep of 14 training repositories outside the
    labelled set (SwinIR, NAFNet, Zero-DCE and Zero-DCE++, DETR, YOLOS,
    DeepLabV3Plus-Pytorch, yolov5, yolov7, guided-diffusion, MPRNet,
    detectron2, mmrotate, vector-quantize-pytorch; about 175 k lines): one
    finding, debatable: detectron2's `sigmoid_cross_entropy_loss` returns
    `pred_class_logits.new_zeros([1])[0]` when there are no proposals
    (detectron2's own `cross_entropy` wrapper uses `input.sum() * 0.0` for
    the same case). mmrotate's reppoints head was flagged (false) for
    `bbox_gt.new_zeros(0)`, an empty list of per-sample costs computed
    under `torch.no_grad()` to re-assign positives; a zero-size tensor is no
    longer read as a loss stand-in.

    Out of scope, on purpose: a constant under a NaN/inf guard without
    `requires_grad` (the batch is skipped on purpose, and on its own it
    fails loudly at `.backward()`); a constant assigned to a name that is
    later mixed with real terms (`loss = torch.tensor(0.0)` as an
    accumulator); a term switched off by configuration; and a loss whose
    value is constant only because of a later operation (`loss * 0` with a
    zero weight).

    ## Why is this bad?
    A constant has no gradient: whenever that path runs, this loss term
    teaches the model nothing, and a loss that only ever returns constants
    never trains the parameters it was meant to shape. Because the value
    still looks plausible in the logs (0.0 or 0.5), the dead term goes
    unnoticed; `.backward()` on a rewrapped `.item()` trains nothing at all,
    and `requires_grad=True` only silences the error that would have said
    so. For a batch without targets the constant also removes the head from
    the graph, which DDP reports as unused parameters.

    ## Example
    ```python
    def color_diversity_loss(img):
        saturation = img.std(dim=1).mean()
        if saturation > 0.2:
            return torch.tensor(0.0, device=img.device)
        return torch.tensor(0.5, device=img.device)


    def survival_loss(risk, events):
        loss = -(risk - torch.logcumsumexp(risk, 0))[events].mean()
        if torch.isnan(loss):
            return torch.tensor(0.0, requires_grad=True)
        return loss


    def box_loss(pred_boxes, gt_boxes):
        if len(gt_boxes) == 0:
            return torch.tensor(0.0, device=pred_boxes.device)
        return F.l1_loss(pred_boxes, gt_boxes)
    ```

    ## Use instead
    ```python
    def color_diversity_loss(img):
        saturation = img.std(dim=1).mean()
        return torch.exp(-10.0 * saturation)


    def survival_loss(risk, events):
        if not events.any():  # no event in the batch: nothing to rank
            return risk.sum() * 0
        return -(risk - torch.logcumsumexp(risk, 0))[events].mean()


    def box_loss(pred_boxes, gt_boxes):
        if len(gt_boxes) == 0:
            return pred_boxes.sum() * 0  # 0, and the head stays in the graph
        return F.l1_loss(pred_boxes, gt_boxes)
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
from torch.autograd import Variable

def check_grad(norm, data):
    leaf = Variable(data, requires_grad=True)
    loss = (norm(leaf) - leaf.mean(0)).clamp(min=1e-5).sqrt().view(-1).sum()
    loss.backward()
    return leaf.grad
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
        Invalid(
            """
import torch

def ctc_loss(logits, transcripts):
    return torch.tensor(0.0, requires_grad=True)
""",
            line=5,
            message="made fresh with `requires_grad=True`: a leaf created inside the loss",
        ),
        Invalid(
            """
import torch

def anchor_loss(scores, annotations):
    losses = []
    for score, boxes in zip(scores, annotations):
        if boxes.shape[0] == 0:
            losses.append(torch.tensor(0.0))
            continue
        losses.append(score.sigmoid().mean())
    return torch.stack(losses).mean()
""",
            line=8,
            message="puts `torch.tensor(0.0)` into `losses` for a batch without targets",
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
        reported = set()
        for statement, scope in dead:
            why = self._why_dead(node, statement, statement.value, scope, every_path)
            if why is not None:
                self._report(statement.value, f"loss `{loss_name}` returns", why)
                if isinstance(statement.value, cst.Name):
                    reported.add(statement.value.value)
        for statement, scope in returns:
            self._check_returned_terms(node, statement, scope, loss_name, reported)
        self._check_filled_terms(node, flow, loss_name)
        self._check_named_terms(node, flow, loss_name, reported)

    def _check_returned_terms(self, fn, statement, scope, loss_name: str, reported: set) -> None:
        """``return {"loss_bbox": torch.tensor(0.0)}`` or ``return torch.tensor(0.0), n``:
        the loss terms of a returned literal."""
        for value in _returned_terms(statement.value):
            if (
                (isinstance(value, cst.Name) and value.value in reported)
                or tensor_confidence(self.context, value, scope) < Confidence.MEDIUM
                or not carries_no_gradient(self.context, value, scope)
            ):
                continue
            why = self._why_dead(fn, statement, value, scope, every_path=False)
            if why is not None:
                self._report(value, f"loss `{loss_name}` returns", why)
                if isinstance(value, cst.Name):
                    reported.add(value.value)
                return

    def _why_dead(self, fn, statement, value, scope, every_path: bool) -> str | None:
        """Why a constant standing in for a loss is a finding, or None when it is a guard."""
        if _holds_an_empty_vector(self.context, value, scope):
            return None  # `new_zeros(0)`: no per-sample values, not a stand-in for a loss
        if is_fresh_leaf(self.context, value, scope):
            return _FAKE_GRADIENT
        if every_path:
            return _EVERY_PATH
        if self._in_except(fn, statement) and self._trains_elsewhere(fn, statement):
            return _IN_EXCEPT
        if self._empty_batch_guard(fn, statement, scope) is not None and self._trains_elsewhere(
            fn, statement
        ):
            return _EMPTY_BATCH
        if self._tensor_decided_branch(scope):
            return _TENSOR_BRANCH
        return None

    def _trains_elsewhere(self, fn, statement) -> bool:
        """Whether another return of ``fn`` can pass a gradient back: a stand-in only
        breaks a loss that trains. A metric named like a loss (a ranking loss computed
        from ``argsort``, returned with a count) has no graph to lose."""
        for other, scope in flow_of(self.context, fn).returns:
            value = other.value
            if other is statement or value is None:
                continue
            if differentiable_value(self.context, value, scope):
                return True
        return False

    def _check_filled_terms(self, fn, flow, loss_name: str) -> None:
        """``losses.append(torch.tensor(0.0))`` / ``loss["box"] = torch.tensor(0.0)`` into
        a loss container the function returns."""
        returned = _returned_names(flow)
        seen = set()
        for small, value, why, guard in self._dead_terms(fn, flow, _filled_term, returned):
            # One finding per container and guard: the `.cuda()` and CPU copies of
            # the same stand-in are one mistake.
            container = _filled_term(small)[0]
            key = (container, why, guard)
            if key not in seen:
                seen.add(key)
                self._report(value, f"loss `{loss_name}` puts", why, into=container)

    def _check_named_terms(self, fn, flow, loss_name: str, reported: set) -> None:
        """``loss_bbox = torch.tensor(0.0)`` under ``if num_pos == 0:``, then
        ``loss = loss_cls + loss_bbox`` returned: a loss term bound to a constant on
        the no-targets path. A name that is accumulated into afterwards (``loss =
        torch.tensor(0.0)`` then ``loss += term``) holds a real term by the end."""
        returned = {
            name
            for name in _returned_names(flow)
            if name not in reported  # already reported where it is returned
            and not _accumulated(flow, name)
        }
        seen = set()
        for small, value, why, guard in self._dead_terms(fn, flow, _named_term, returned):
            # One finding per guard: the terms zeroed together are one mistake.
            key = (why, guard)
            if key not in seen:
                seen.add(key)
                name = _named_term(small)[0]
                self._report(value, f"loss `{loss_name}` sets `{name}` to", why)

    def _dead_terms(self, fn, flow, extract, returned):
        """``(small, value, why, guard)`` for each small statement that ``extract`` reads
        as ``(name, value)``, where the loss-named ``name`` is returned and ``value`` is a
        tensor with no gradient on a dead path (``guard``: its empty-batch check, else
        the statement)."""
        for statement in flow.order_of:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                found = extract(small)
                if found is None:
                    continue
                name, value = found
                if name not in returned or not is_loss_name(name):
                    continue
                scope = flow.scope_at(statement)
                if tensor_confidence(
                    self.context, value, scope
                ) < Confidence.MEDIUM or not carries_no_gradient(self.context, value, scope):
                    continue
                why = self._why_dead(fn, statement, value, scope, every_path=False)
                if why is None:
                    continue
                guard = self._empty_batch_guard(fn, statement, scope)
                yield small, value, why, guard if guard is not None else statement

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
                return _catches_everything(ancestor)
        return False

    def _empty_batch_guard(self, fn, statement, scope) -> cst.If | None:
        """The ``if`` that sends ``statement`` down the no-targets path: the body of
        ``if len(gt) == 0:``, the ``else`` of ``if num_pos > 0:``, or the code after an
        early exit ``if valid.any(): return ...``."""
        inside = set(self.context.ancestors(statement))
        for compound in reversed(scope.path):
            if not isinstance(compound, cst.If):
                continue
            side = _empty_side(compound.test)
            if side is None:
                continue
            in_body = compound.body in inside
            if in_body == side:
                return compound
        for guard in _preceding_exits(self.context, fn, statement):
            if _empty_side(guard.test) is False:
                return guard
        return None

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


def _empty_side(test: cst.BaseExpression) -> bool | None:
    """True when ``test`` holds for a batch without targets (``len(gt) == 0``, ``not
    valid.any()``, ``gt is None or num_gts == 0``), False when it holds for a batch
    with some (``num_pos > 0``), None when it is not about the batch's contents."""
    sides = set()
    counted = False
    for atom, negated in _signed_atoms(test, False):
        side = None
        if isinstance(atom, cst.Comparison) and len(atom.comparisons) == 1:
            operator = atom.comparisons[0].operator
            if (
                isinstance(operator, (cst.Is, cst.IsNot))
                and dotted_name(atom.comparisons[0].comparator) == "None"
            ):
                side = isinstance(operator, cst.Is)
            elif counts_data(atom):
                side = _comparison_says_empty(atom)
                counted = True
        elif counts_data(atom):
            side = False  # `if len(gt):`, `if valid.any():`
            counted = True
        if side is None:
            return None
        sides.add(side != negated)
    if not counted or len(sides) != 1:
        return None
    return sides.pop()


def _signed_atoms(test, negated: bool):
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        yield from _signed_atoms(test.expression, not negated)
    elif isinstance(test, cst.BooleanOperation):
        yield from _signed_atoms(test.left, negated)
        yield from _signed_atoms(test.right, negated)
    else:
        yield test, negated


def _comparison_says_empty(atom: cst.Comparison) -> bool | None:
    """``n == 0``, ``n < 1``, ``n <= 0``: True; ``n > 0``, ``n != 0``, ``n >= 1``: False."""
    target = atom.comparisons[0]
    operator, literal = target.operator, target.comparator
    if not isinstance(literal, (cst.Integer, cst.Float)):
        literal = atom.left  # `0 < num_pos`: read it as `num_pos > 0`
        operator = {
            cst.LessThan: cst.GreaterThan(),
            cst.GreaterThan: cst.LessThan(),
            cst.LessThanEqual: cst.GreaterThanEqual(),
            cst.GreaterThanEqual: cst.LessThanEqual(),
        }.get(type(operator), operator)
    try:
        limit = float(literal.value)
    except (AttributeError, ValueError):
        return None
    if isinstance(operator, cst.Equal) and limit == 0:
        return True
    if isinstance(operator, cst.NotEqual) and limit == 0:
        return False
    if isinstance(operator, cst.LessThan) and limit <= 1:
        return True
    if isinstance(operator, cst.LessThanEqual) and limit == 0:
        return True
    if isinstance(operator, cst.GreaterThan) and limit == 0:
        return False
    if isinstance(operator, cst.GreaterThanEqual) and limit == 1:
        return False
    return None


def _catches_everything(handler: cst.ExceptHandler) -> bool:
    """``except:``/``except Exception:``: every bug in the loss lands here, not only the
    one failure a narrow handler (``except ImportError:``) was written for."""
    caught = handler.type
    if caught is None:
        return True
    names = caught.elements if isinstance(caught, cst.Tuple) else [caught]
    for element in names:
        expr = element.value if isinstance(element, cst.Element) else element
        name = expr.attr.value if isinstance(expr, cst.Attribute) else getattr(expr, "value", "")
        if name in ("Exception", "BaseException"):
            return True
    return False


def _returned_terms(value: cst.BaseExpression) -> list:
    """The loss terms of a returned literal: the values of loss-named keys of a dict,
    the first element of a tuple or list."""
    if isinstance(value, cst.Dict):
        return [
            element.value
            for element in value.elements
            if isinstance(element, cst.DictElement) and _names_a_loss(element.key)
        ]
    if isinstance(value, (cst.Tuple, cst.List)) and value.elements:
        first = value.elements[0]
        return [] if isinstance(first, cst.StarredElement) else [first.value]
    return []


def _names_a_loss(key: cst.BaseExpression) -> bool:
    if isinstance(key, cst.SimpleString):
        text = key.evaluated_value
    elif isinstance(key, cst.FormattedString):
        text = "".join(
            part.value for part in key.parts if isinstance(part, cst.FormattedStringText)
        )
    else:
        return False
    return isinstance(text, str) and is_loss_name(text.replace(".", "_").replace("/", "_"))


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


_SIZED_CONSTRUCTORS = frozenset(
    {"zeros", "new_zeros", "ones", "new_ones", "empty", "new_empty", "full", "new_full"}
)


def _holds_an_empty_vector(context, value, scope) -> bool:
    """``x.new_zeros(0)``, ``torch.empty(0)``, ``torch.tensor([])``, or a name bound only
    to one: an empty per-sample vector (a cost list with no positives), not a loss value."""
    values = [value]
    if isinstance(value, cst.Name):
        bindings, _ = lookup(context, value.value, scope)
        if not bindings or any(b.kind != "assign" or b.value is None for b in bindings):
            return False
        values = [b.value for b in bindings]
    return all(_empty_vector(v) for v in values)


def _empty_vector(value) -> bool:
    if not isinstance(value, cst.Call) or not value.args:
        return False
    func = value.func
    last = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
    first = value.args[0].value
    if isinstance(first, (cst.Tuple, cst.List)) and len(first.elements) == 1:
        first = first.elements[0].value
    if last in _SIZED_CONSTRUCTORS:
        return isinstance(first, cst.Integer) and first.evaluated_value == 0
    if last in ("tensor", "new_tensor", "as_tensor"):
        return isinstance(first, (cst.List, cst.Tuple)) and not first.elements
    return False


def _named_term(small) -> tuple[str, cst.BaseExpression] | None:
    """``("loss_bbox", v)`` for ``loss_bbox = v``."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Name):
            return target.value, small.value
    return None


def _accumulated(flow, name: str) -> bool:
    """Whether some binding of ``name`` reads ``name`` itself (``x += t``, ``x = x + t``)."""
    for binding in flow.bindings.get(name, ()):
        if binding.kind == "augment":
            return True
        value = binding.value
        if binding.kind == "assign" and value is not None and _mentions(value, name):
            return True
    return False


def _mentions(node, name: str) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name) and current.value == name:
            return True
        stack.extend(current.children)
    return False


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
