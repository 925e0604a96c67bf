"""TL010: backward, clipping, zeroing and the optimizer step in an order that wastes the step."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Invalid, Rule
from torchlint.semantics.callgraph import callee_last
from torchlint.semantics.steps import (
    CLIP_CALLS,
    STEP_CALLS,
    StepEvent,
    builds_optimizer,
    compatible,
    cyclic_after,
    cyclic_before,
    enclosing_run,
    is_optimizer_name,
    makes_new_tensor,
    runs_whenever,
    step_events,
)
from torchlint.semantics.vocabulary import BACKWARD_CALLS
from torchlint.syntax import SyntaxIndex, last_name
from torchlint.walk import simple_statements

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------


def _tl010_backward_and_update(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A backward call, and a ``.step()`` or a gradient-clipping call.

    Mirrors ``steps._Flattener.classify``: every finding needs a backward
    event, and either a step event (zeroing before the step, no zeroing at
    all) or a clip event (clip order, clipping scaled gradients).
    """
    backward = update = False
    for call in index.nodes(ast.Call):
        last = last_name(call.func)
        if last in BACKWARD_CALLS:
            backward = True
        elif last in CLIP_CALLS or (last in STEP_CALLS and isinstance(call.func, ast.Attribute)):
            update = True
        if backward and update:
            return True
    return False


PREFILTER = Prefilter(
    tokens=(text_tokens(BACKWARD_CALLS), text_tokens(STEP_CALLS, CLIP_CALLS)),
    syntax=_tl010_backward_and_update,
)


# -- judgement ------------------------------------------------------------------

_INFINITE = frozenset({"inf", "infinity"})


class GradientStepOrder(Rule):
    """
    ## What it does
    Reads the statements of a training step in the order they run (across
    `if`s, `with` blocks and calls into functions and methods of the same
    file, and around the loop into its next pass) and flags four orders in
    which the optimizer step does not do what the code says:

    - `zero_grad()` between `loss.backward()` and `optimizer.step()`: the
      step applies zeroed gradients;
    - `clip_grad_norm_`/`clip_grad_value_` after `optimizer.step()` or before
      `loss.backward()`: it clips gradients that were already applied, and the
      ones the step uses are never clipped;
    - clipping after `scaler.scale(loss).backward()` without
      `scaler.unscale_(optimizer)` first: the threshold is compared with
      gradients multiplied by the loss scale (65536 at the start);
    - a loop that calls `backward()` and `optimizer.step()` with no
      `zero_grad()` (nor `p.grad = None`) anywhere in it, or only on the
      other arm of the `if`/`else` that steps: gradients accumulate over the
      whole run.

    Not flagged: gradient accumulation (`zero_grad()` and `step()` every N
    batches), GAN alternation (a second `backward()` between one optimizer's
    `zero_grad()` and its `step()`, or a model's `zero_grad()` while two
    optimizers step), `model.zero_grad()` and `optimizer.zero_grad(set_to_none=True)`
    in the usual place, `accelerator.backward` with `accelerator.clip_grad_norm_`
    (which unscales itself), `scaler.unscale_` in a helper of the same file,
    code that writes `p.grad` itself, `optimizer.step(closure)`, and
    Lightning's `training_step` with automatic optimization (it calls none of these).

    ## Why is this bad?
    Each order trains without an error and with a plausible loss curve.
    `backward(); zero_grad(); step()` updates with zeros: plain SGD never
    moves, Adam and momentum coast on stale state. A clip after the step
    changes gradients nobody reads, so exploding gradients go through
    unclipped. Clipping scaled gradients compares a norm of about 1e5 with a
    threshold of 1.0: every step is clipped and, once `scaler.step` divides
    by the scale, the update is tens of thousands of times too small.
    Without any `zero_grad()` each gradient is the sum of every gradient
    since the start: the steps grow and point along stale directions.

    ## Example
    ```python
    for source, targets in train_loader:
        loss = criterion(model(source), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
    ```

    ## Use instead
    ```python
    for source, targets in train_loader:
        loss = criterion(model(source), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
    ```
    Keep the order `zero_grad()` (or after the step), `backward()`,
    `unscale_()` when a scaler is used, clip, `step()`.

    No automatic fix is offered: moving a call changes which gradients other
    statements between them see (logging of gradient norms, a second loss),
    and the right place of an `unscale_` depends on which optimizer owns the
    clipped parameters.

    ## Evidence
    Measured by `torchlint confirm TL010 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs per case; an MLP 8-32-4 trained for one epoch of
    200 batches with SGD). Buggy vs fixed:

    - **Confirmed** (zero between): the parameters do not move at all (L2 change 0; fixed
      1.52-1.83), and validation MSE ends 9.9-12.6x higher.
    - **Confirmed** (clip after step): on targets with rare 40x outliers the largest single
      update is 10.6-15.9x larger than with the clip before the step (which caps it at 0.05).
    - **Confirmed** (scaled clip): the gradient the optimizer applies is 16,600-23,200x
      smaller (1.5e-5 instead of 0.25-0.35), and validation MSE ends 9.9-12.6x higher: SGD
      barely moves. With Adam (lr 1e-3) the same bug is harmless in this task (validation MSE
      0.027-0.074 vs 0.038-0.104), because Adam divides by the gradient's own scale.
    - **Confirmed** (never zeroed): the gradient at the last step is 19-33x larger (the sum
      of all earlier ones). **Not reproduced**: validation MSE is not worse (0.66-0.93x of
      the fixed run's) at lr 0.01, where the sum acts like heavy momentum.

    **Real code.** Over the 70 exported real repositories, 4 findings, all true, all in
    pytorch/examples: the minGPT-DDP trainer clips `scaler.scale(loss)` gradients without
    `unscale_` (o10, pytorch/examples issue 1196), and three tensor-parallel demos step an
    optimizer every iteration with no `zero_grad()` anywhere. Quiet on the fixed shapes:
    Pytorch-UNet (`unscale_` before the clip), simpletransformers (`unscale_` under the same
    `fp16` flag as the scaled backward), DCGAN-style alternation, accumulation loops.
    On the PyPI corpus (2.6 M lines) the diffusers pix2pix-zero guidance loop, which builds
    `SGD([x_in])` each step over a fresh `latents.detach().clone()`, was flagged and is now
    quiet: a tensor made in the same pass has no old gradient to clear. peft's test
    `for _ in range(5): optimizer = SGD(model.parameters()); ...; optimizer.step()` stays
    flagged: rebuilding the optimizer does not clear the parameters' `.grad`.

    Held-out check: 4 of 4 issue instances found: wenet-e2e/wekws before PR 73
    and yastrebksv/TennisCourtDetector (issue 7) never zero gradients;
    facebookresearch/nwm before 7782ade (issue 16) zeroes only on the fp32 arm of
    `if not bfloat_enable:` and accumulates on the AMP arm (missed at first: the
    zeroing anywhere in the loop hid it; a zeroing now counts only on a branch
    that can run with the step), and ViTPose_pytorch's trainer clips
    `scaler.scale(loss)` gradients without `unscale_`.  The branch fix also
    finds DAB-DETR's `engine.py` (the non-AMP arm never zeroes; DAB-DETR issue
    58, fixed in DINO as issue 20).  Eleven training repositories (yolov5,
    DETR, DeiT, PyTorch-GAN, stable-baselines3,
    attention-is-all-you-need-pytorch, TCN, yunjey/pytorch-tutorial, the
    image-captioning tutorial, pytorch-a2c-ppo-acktr-gail, 3D-ResNets (about
    67k lines)) give
    2 findings, both true: TCN's copy-memory and polyphonic-music scripts clip
    after `zero_grad()` and before `loss.backward()`, so no gradient is ever
    clipped.
    """

    code = "TL010"
    name = "gradient-step-order"
    summary = "zero_grad, clipping or scaling placed where the optimizer step cannot use them"
    fix_hint = (
        "order each step as zero_grad, backward, scaler.unscale_ (with AMP), clip, step; "
        "zero the gradients in every loop that steps"
    )
    prefilter = PREFILTER
    variants = {
        "clip_grad_norm_": sorted(CLIP_CALLS),
        "optimizer": ["opt", "optim", "optimizer_g", "optimizerD", "self.optimizer"],
    }
    valid = [
        """
import torch

def train(model, optimizer, loader, criterion, accum_steps):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / accum_steps
        loss.backward()
        if (i + 1) % accum_steps == 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
""",
        """
import torch

def train(model, optimizer, scaler, loader, criterion):
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda"):
            loss = criterion(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
""",
        """
def train_gan(netG, netD, optimizerG, optimizerD, loader, criterion):
    for real, _ in loader:
        optimizerD.zero_grad()
        fake = netG(real.new_empty(real.size(0), 100).normal_())
        lossD = criterion(netD(real), 1) + criterion(netD(fake.detach()), 0)
        lossD.backward()
        optimizerD.step()
        optimizerG.zero_grad()
        lossG = criterion(netD(fake), 1)
        lossG.backward()
        optimizerG.step()
""",
    ]
    invalid = [
        Invalid(
            """
import torch

class Trainer:
    def _run_batch(self, source, targets):
        loss = self.model(source, targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_norm_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
""",
            line=9,
            message="clips gradients scaled by `self.scaler`",
        ),
        Invalid(
            """
def train(model, optimizer, loader, criterion):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
""",
            line=6,
            message="`optimizer.zero_grad()` runs after `loss.backward()` and before",
        ),
        Invalid(
            """
import torch

def train(model, optimizer, loader, criterion):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
""",
            line=10,
            message="runs after `optimizer.step()`",
        ),
        Invalid(
            """
def fit(net, opt, train_loader, loss_fn, epochs):
    for epoch in range(epochs):
        for xb, yb in train_loader:
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
""",
            line=7,
            message="nothing in the loop zeroes the gradients",
        ),
    ]

    def __init__(self, context, settings=None) -> None:
        super().__init__(context, settings)
        self._owners: dict[int, cst.CSTNode] = {}
        self._has_custom_step = False

    # -- collecting ---------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        last = callee_last(node)
        if last in BACKWARD_CALLS or last in STEP_CALLS or last in CLIP_CALLS:
            self._add_owner(node)

    def visit_For(self, node: cst.For) -> None:
        self._add_owner(node)

    def visit_While(self, node: cst.While) -> None:
        self._add_owner(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        # An optimizer class of this file may zero (or write) gradients in its own step().
        if node.name.value == "step" and "grad" in self.context.module.code_for_node(node):
            self._has_custom_step = True

    def _add_owner(self, node: cst.CSTNode) -> None:
        owner = self.context.semantics.enclosing_function(node) or self.context.module
        self._owners.setdefault(id(owner), owner)

    # -- deciding -----------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        self._reported: set[tuple[str, int]] = set()
        for owner in self._owners.values():
            events = step_events(self.context, owner)
            if not any(event.kind == "backward" for event in events):
                continue
            for index, event in enumerate(events):
                if event.kind == "step":
                    self._check_zero_before_step(events, index)
                    self._check_never_zeroed(events, index)
                elif event.kind == "clip":
                    self._check_clip(events, index)

    def _report_once(self, case: str, node: cst.CSTNode, message: str) -> None:
        key = (case, id(node))
        if key in self._reported:
            return
        self._reported.add(key)
        self.report(node, message)

    def _segment(self, events: list[StepEvent], index: int):
        """The pass of the innermost loop around ``events[index]`` that runs a backward."""
        for loop in events[index].loops():
            run = enclosing_run(events, index, loop)
            if any(events[i].kind == "backward" for i in range(*run)):
                return run, True
        return (0, len(events)), False

    def _code(self, node: cst.CSTNode) -> str:
        return self.context.snippet(node, 60, collapse_whitespace=True)

    # -- zero_grad between backward and step ----------------------------------

    def _check_zero_before_step(self, events, index) -> None:
        step = events[index]
        (start, _end), _ = self._segment(events, index)
        optimizers = {e.optimizer for e in events[start:_end] if e.kind == "step"}
        zero = None
        for j in range(index - 1, start - 1, -1):
            event = events[j]
            if not compatible(event, step):
                continue
            if zero is None:
                if event.kind == "backward":
                    return
                if event.kind == "step" and event.optimizer == step.optimizer:
                    return
                if (
                    event.kind == "zero"
                    and runs_whenever(event, step)
                    and self._zeroes_for(event, step, optimizers)
                ):
                    zero = event
                continue
            if event.kind == "step" and event.optimizer == step.optimizer:
                return
            if event.kind == "backward" and compatible(event, zero):
                self._report_once(
                    "zero",
                    zero.node,
                    f"`{self._code(zero.node)}` runs after `{self._code(event.node)}` and "
                    f"before `{self._code(step.node)}`: the step applies zeroed gradients, "
                    "so plain SGD never moves and Adam or momentum coast on stale state; "
                    "zero the gradients before the backward (or after the step)",
                )
                return

    @staticmethod
    def _zeroes_for(zero: StepEvent, step: StepEvent, optimizers: set) -> bool:
        if zero.receiver is not None and zero.receiver == step.optimizer:
            return True
        if is_optimizer_name(zero.receiver):
            return False
        # `model.zero_grad()` or `p.grad = None`: the stepped parameters only when one
        # optimizer steps here (two optimizers are a GAN or a split model).
        return len(optimizers) == 1 and step.optimizer is not None

    # -- no zero_grad in a loop that steps -------------------------------------

    def _check_never_zeroed(self, events, index) -> None:
        step = events[index]
        run, cyclic = self._segment(events, index)
        if not cyclic or self._has_custom_step:
            return
        positional = [a for a in step.node.args if a.keyword is None]
        if len(positional) > (1 if step.scaled else 0):
            return  # `optimizer.step(closure)`: the closure runs backward (and zeroes)
        zeroes = [events[i] for i in range(*run) if events[i].kind in ("zero", "grad-write")]
        # A zeroing on the other arm of an `if`/`else` never runs in a pass that takes
        # this step's arm (`if not amp: zero_grad(); backward(); step() else: ...`).
        if any(compatible(zero, step) for zero in zeroes):
            return
        backward = next(
            (
                events[i]
                for i in range(*run)
                if events[i].kind == "backward" and compatible(events[i], step)
            ),
            None,
        )
        if backward is None:
            return
        loop = next(loop for loop in step.loops() if self._loop_has(events, run, loop))
        if _steps_fresh_tensors(step.optimizer, loop):
            return
        where = (
            "nothing in the loop zeroes the gradients"
            if not zeroes
            else "nothing on its branch zeroes the gradients (only the other branch does)"
        )
        self._report_once(
            "never-zeroed",
            step.node,
            f"`{self._code(step.node)}` runs in {self._loop_words(loop)} after "
            f"`{self._code(backward.node)}`, but {where}: "
            "each backward adds to the sum of every earlier gradient, so the updates grow "
            "and follow stale directions; call `optimizer.zero_grad()` once per step",
        )

    @staticmethod
    def _loop_has(events, run, loop) -> bool:
        return events[run[0]].within(loop)

    def _loop_words(self, loop: cst.CSTNode) -> str:
        if isinstance(loop, cst.For):
            return f"the loop over `{self._code(loop.iter)}`"
        return f"the loop `while {self._code(loop.test)}`"

    # -- clipping ----------------------------------------------------------------

    def _check_clip(self, events, index) -> None:
        clip = events[index]
        if self._measures_only(clip.node):
            return
        run, cyclic = self._segment(events, index)
        if self._check_scaled_clip(events, index, run):
            return
        order = ("backward", "step", "zero")
        before = self._nearest(cyclic_before(events, index, run), clip, order, cyclic)
        after = self._nearest(cyclic_after(events, index, run), clip, order, cyclic)
        if after is not None and after.kind == "step":
            return
        code = self._code(clip.node)
        if before is not None and before.kind == "step":
            self._report_once(
                "clip",
                clip.node,
                f"`{code}` runs after `{self._code(before.node)}`: the update already used "
                "the unclipped gradients and the clipped ones are thrown away, so exploding "
                "gradients are never clipped; clip between `backward()` and `step()`",
            )
            return
        if after is None or after.kind != "backward":
            return
        if before is not None and before.kind != "zero":
            return  # a backward before and after: a clip between two losses' gradients
        position = next(i for i, e, _ in cyclic_after(events, index, run) if e is after)
        if self._nearest(cyclic_after(events, position, run), after, ("step",), cyclic) is None:
            return
        self._report_once(
            "clip",
            clip.node,
            f"`{code}` runs before `{self._code(after.node)}`: it clips gradients that were "
            "already applied (or zeroed), and the fresh gradients the next step uses are "
            "never clipped; clip between `backward()` and `step()`",
        )

    def _check_scaled_clip(self, events, index, run) -> bool:
        clip = events[index]
        start, _ = run
        scaled = None
        for j in range(index - 1, start - 1, -1):
            event = events[j]
            if not compatible(event, clip):
                continue
            if event.kind == "unscale":
                return False
            if event.kind in ("step", "zero"):
                break
            if event.kind == "backward" and event.scaled and scaled is None:
                scaled = event
        if scaled is None:
            return False
        scaler = scaled.receiver or "the scaler"
        self._report_once(
            "scaled-clip",
            clip.node,
            f"`{self._code(clip.node)}` clips gradients scaled by `{scaler}` "
            f"(`{self._code(scaled.node)}`) with no `{scaler}.unscale_(optimizer)` first: "
            "the norm is compared with the threshold at the loss scale (65536 at the start), "
            "so every step is clipped hard and the update, once unscaled, is thousands of "
            "times too small; call `unscale_` before clipping",
        )
        return True

    @staticmethod
    def _nearest(sequence, anchor: StepEvent, kinds, cyclic: bool) -> StepEvent | None:
        for _index, event, wrapped in sequence:
            if wrapped and not cyclic:
                return None
            if event.kind in kinds and compatible(event, anchor):
                return event
        return None

    @staticmethod
    def _measures_only(call: cst.Call) -> bool:
        """``clip_grad_norm_(params, float('inf'))`` measures the norm without clipping."""
        values = [a.value for a in call.args if a.keyword is None][1:2]
        values += [
            a.value for a in call.args if a.keyword is not None and a.keyword.value == "max_norm"
        ]
        for value in values:
            text = value.value if isinstance(value, cst.SimpleString) else None
            names = {value.value} if isinstance(value, cst.Name) else set()
            if isinstance(value, cst.Attribute):
                names.add(value.attr.value)
            if isinstance(value, cst.Call) and value.args:
                inner = value.args[0].value
                if isinstance(inner, cst.SimpleString):
                    text = inner.value
            if names & _INFINITE or (text and text.strip("'\"").lower() in _INFINITE):
                return True
        return False


def _steps_fresh_tensors(optimizer: str | None, loop: cst.CSTNode) -> bool:
    """``opt = SGD([x_in])`` built in each pass of ``loop`` over tensors made in that pass.

    Guidance and inversion loops optimise a fresh copy of a tensor at every
    step (``x_in = latents.detach().clone()``): its gradient starts empty, so
    there is nothing for a ``zero_grad`` to clear.  A model's parameters are
    not rebuilt by the loop, and rebuilding only the optimizer leaves them
    accumulating.
    """
    if optimizer is None or "." in optimizer:
        return False
    bound: dict[str, list] = {}
    for statement in simple_statements(loop.body):
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
            target = statement.targets[0].target
            if isinstance(target, cst.Name):
                bound.setdefault(target.value, []).append(statement.value)
    built = [v for v in bound.get(optimizer, []) if isinstance(v, cst.Call)]
    if not built or not all(builds_optimizer(call) for call in built):
        return False
    for call in built:
        positional = [arg.value for arg in call.args if arg.keyword is None]
        params = positional[0] if positional else None
        if not isinstance(params, (cst.List, cst.Tuple)) or not params.elements:
            return False
        for element in params.elements:
            values = bound.get(element.value.value) if isinstance(element.value, cst.Name) else None
            if not values or not all(makes_new_tensor(value) for value in values):
                return False
    return True
