"""TL006: an epoch-based LR scheduler stepped once per batch."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Invalid, Rule
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.loops import (
    ONCE_PER_EPOCH,
    OUTSIDE_BATCH_LOOP,
    branch_conditions,
    classify_loop,
    mutually_exclusive,
    runs_per_batch,
)
from torchlint.semantics.schedulers import (
    SchedulerKind,
    classify_scheduler,
    scheduler_constructions,
)
from torchlint.semantics.vocabulary import (
    TORCH_SCHEDULERS,
)
from torchlint.semantics.words import string_value
from torchlint.syntax import SyntaxIndex, last_name

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------


def _tl006_steps_a_torch_scheduler(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A place that steps a scheduler, and a torch scheduler class named in code.

    Mirrors ``EpochSchedulerPerBatch.visit_Call``/``visit_Dict`` (a ``.step()``
    call, a dict with an ``"interval"`` key, a ``*Trainer`` call) and
    ``schedulers.torch_scheduler_name`` (the class's name, or an import of it).
    """
    stepped = any(
        key is not None and isinstance(key, ast.Constant) and key.value == "interval"
        for node in index.nodes(ast.Dict)
        for key in node.keys
    )
    if not stepped:
        for call in index.nodes(ast.Call):
            last = last_name(call.func)
            if last is not None and (
                (last == "step" and isinstance(call.func, ast.Attribute))
                or last.endswith("Trainer")
            ):
                stepped = True
                break
    if not stepped:
        return False
    return (
        any(node.id in TORCH_SCHEDULERS for node in index.nodes(ast.Name))
        or any(node.attr in TORCH_SCHEDULERS for node in index.nodes(ast.Attribute))
        or any(
            alias.name in TORCH_SCHEDULERS
            for node in index.nodes(ast.ImportFrom)
            for alias in node.names
        )
    )


PREFILTER = Prefilter(
    # A stepped scheduler (`.step()`, Lightning's "interval", HF's `optimizers=`),
    # and the name of a torch scheduler class: `torch_scheduler_name` needs one.
    tokens=(text_tokens(("step", "interval", "optimizers")), text_tokens(TORCH_SCHEDULERS)),
    syntax=_tl006_steps_a_torch_scheduler,
)


# -- judgement ------------------------------------------------------------------

# How sure the two halves must be: the loop is a batch loop, the schedule counts epochs.


class EpochSchedulerPerBatch(Rule):
    """
    ## What it does
    Flags `scheduler.step()` on an epoch-based learning-rate scheduler
    (`StepLR`, `MultiStepLR`, `ExponentialLR` with a per-epoch gamma,
    `CosineAnnealingLR` with `T_max` in epochs, `ReduceLROnPlateau`, a
    `LambdaLR` whose lambda reads the epoch) when the call runs once per
    batch: inside the loop over the data loader or training steps, in a
    Lightning `training_step`, in a function called from there, through a
    Lightning scheduler config with `"interval": "step"`, or handed to the HF
    `Trainer(optimizers=(optimizer, scheduler))`, which steps it every step.

    The batch loop may run over an alias (`progress_bar =
    tqdm(enumerate(dataloader))`; `for i, (x, y) in progress_bar:`), in a
    function or at the top level of a script.  A scheduler of any kind
    stepped on every batch *and* once per epoch (before or after the batch
    loop of a `train_one_epoch`, or in the epoch loop around it) is flagged
    at the per-batch call: it runs one step ahead per epoch (double
    stepping).

    Not flagged: a per-batch `step()` under a flag whose negation guards the
    epoch-level `step()` of the same scheduler (`if step_per_batch:` /
    `if not step_per_batch:`, or an `if`/`else`), which is the author
    choosing the place per scheduler; a step under a flag that is only ever
    the literal `False`, which never runs; and a single extra `step()`
    before training starts.

    Schedulers built for per-step use are not flagged: `OneCycleLR`,
    `CyclicLR`, `LambdaLR` warm-ups, HF `get_*_schedule_with_warmup`,
    `ExponentialLR` with `gamma >= 0.99`, and `StepLR`/`MultiStepLR`/
    `CosineAnnealingLR` whose period is counted in steps
    (`step_size=30 * len(loader)`, `T_max=total_steps`, periods of 500 or
    more).  Objects named `*scheduler` that are not torch LR schedulers
    (diffusers noise schedulers) are never flagged.

    ### Real code
    On the labelled real-code set (`bench/realworld.py`): 3 of the 5 known
    bugs are counted as found: b27 (ivadomed, `CosineAnnealingLR(optimizer,
    num_epochs)` stepped per batch), b28 (STGCN, `StepLR` stepped right after
    `optimizer.step()`) and b31 (meshed-memory transformer, a Noam `LambdaLR`
    stepped at the start of `train_xe` and again after every batch).  b26
    (SRGAN, `StepLR(step_size=epochs // 2)` stepped in a script-level loop
    over `progress_bar = tqdm(enumerate(dataloader))`) is found at the two
    `step()` lines (261, 262); the row points at the constructions on line
    188, so the scorer does not count it.  b30 (cosmos-rl: a schedule sized
    in global steps, stepped after every mini-batch of a global step) is out
    of scope: the scheduler is built in another module, and nothing in the
    file says how many mini-batches make a global step.  The four look-alike
    rows stay quiet (ivadomed's `if step_scheduler_batch:`, set only for
    `CyclicLR`; the same flag as a literal `False` in its timing test;
    Trajectron++'s `ExponentialLR(gamma=0.9999)`; RAFT's `OneCycleLR`), and
    the 51 sweep repositories give no TL006 finding (the two false ones
    before were those two ivadomed sites).

    Held-out check: a `train_one_epoch` stepping `StepLR(step_size=1)` after
    every batch (gapatron/interview_prep, a bug-finding exercise) is found.
    autrainer before PR 23 and nodefluxio/vortex (issue 58) step a scheduler
    after every batch whose class comes from a config file (Hydra/YAML): out of
    reach, nothing in the file says it is an epoch schedule.  Eleven training
    repositories (yolov5, DETR, DeiT, PyTorch-GAN, stable-baselines3,
    attention-is-all-you-need-pytorch, TCN, yunjey/pytorch-tutorial, the
    image-captioning tutorial, pytorch-a2c-ppo-acktr-gail, 3D-ResNets (about
    67k lines)) give no TL006 finding.

    ## Why is this bad?
    The schedule advances once per `step()` call.  Stepped every batch, a
    `StepLR(step_size=30)` divides the learning rate by 10 every 30 *batches*
    instead of every 30 epochs: after a few hundred batches the LR is
    effectively zero and training stalls while the loop keeps running.
    `ReduceLROnPlateau` fed a noisy per-batch loss cuts the LR after
    `patience` batches.

    ## Example
    ```python
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        for images, labels in train_loader:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    ```

    ## Use instead
    ```python
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        for images, labels in train_loader:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
    ```
    or size the schedule in steps (`step_size=30 * len(train_loader)`), or
    use a per-step scheduler such as `OneCycleLR`.

    ## Evidence
    Measured by `torchlint confirm TL006 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs; full output in [evidence.md](../evidence.md)). Buggy vs
    fixed:

    - **Confirmed**: with `StepLR(step_size=3, gamma=0.1)` and 40 batches per epoch, the
      learning rate after one epoch is 3e-16 (fixed: 3e-3).
    - **Confirmed**: validation MSE after 8 epochs is 7.1-13.8x worse.
    """

    code = "TL006"
    name = "epoch-scheduler-per-batch"
    summary = "epoch-based LR scheduler stepped once per batch"
    fix_hint = (
        "call scheduler.step() once per epoch, after the batch loop, or size the schedule in steps"
    )
    prefilter = PREFILTER
    variants = {"StepLR": sorted(TORCH_SCHEDULERS)}
    valid = [
        """
from torch.optim.lr_scheduler import StepLR

def train(model, optimizer, train_loader, criterion):
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        for images, labels in train_loader:
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        scheduler.step()
""",
        """
import torch

def train(model, optimizer, loader, steps):
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=steps)
    for x, y in loader:
        loss = model(x, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
""",
        """
from torch.optim import lr_scheduler

def train(model, optimizer, train_loader, epochs):
    scheduler = lr_scheduler.StepLR(optimizer, step_size=30 * len(train_loader), gamma=0.1)
    for epoch in range(epochs):
        for batch in train_loader:
            model(batch).backward()
            optimizer.step()
            scheduler.step()
""",
    ]
    invalid = [
        Invalid(
            """
from torch.optim.lr_scheduler import StepLR

def train(model, optimizer, train_loader, criterion):
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        for images, labels in train_loader:
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            scheduler.step()
""",
            line=11,
            message="`scheduler.step()` runs once per batch (inside the loop over",
        ),
        Invalid(
            """
import torch.optim.lr_scheduler as sched

class Trainer:
    def __init__(self, model, optimizer, loader):
        self.optimizer = optimizer
        self.loader = loader
        self.scheduler = sched.MultiStepLR(optimizer, milestones=[30, 60], gamma=0.1)

    def train_epoch(self):
        for step, batch in enumerate(self.loader):
            self.optimizer.step()
            self.scheduler.step()
""",
            line=13,
            message="`self.scheduler.step()` runs once per batch (inside the loop",
        ),
        Invalid(
            """
from torch.optim.lr_scheduler import LambdaLR

def train_epoch(model, loader, optimizer, scheduler):
    scheduler.step()
    for x, y in loader:
        model(x, y).backward()
        optimizer.step()
        scheduler.step()

def main(model, loader, optimizer, epochs):
    scheduler = LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 4000))
    for epoch in range(epochs):
        train_epoch(model, loader, optimizer, scheduler)
""",
            line=9,
            message="`scheduler.step()` runs once per batch (inside the loop over `loader`) and "
            "the same LambdaLR is stepped again",
        ),
    ]

    def __init__(self, context, settings=None) -> None:
        super().__init__(context, settings)
        self._step_calls: list[cst.Call] = []
        self._lightning_configs: list[cst.Dict] = []
        self._trainer_calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            if func.attr.value == "step":
                self._step_calls.append(node)
            elif func.attr.value.endswith("Trainer"):
                self._trainer_calls.append(node)
        elif isinstance(func, cst.Name) and func.value.endswith("Trainer"):
            self._trainer_calls.append(node)

    def visit_Dict(self, node: cst.Dict) -> None:
        for element in node.elements:
            if isinstance(element, cst.DictElement) and string_value(element.key) == "interval":
                self._lightning_configs.append(node)
                return

    def leave_Module(self, original_node: cst.Module) -> None:
        for call in self._step_calls:
            self._check_step_call(call)
        for config in self._lightning_configs:
            self._check_lightning_config(config)
        for call in self._trainer_calls:
            self._check_hf_trainer(call)

    def _epoch_kinds(self, receiver: cst.BaseExpression) -> list[SchedulerKind]:
        kinds = []
        for construction in scheduler_constructions(self.context, receiver):
            kind = classify_scheduler(self.context, construction)
            if kind is not None and kind.per_epoch and kind.confidence >= Confidence.MODERATE:
                kinds.append(kind)
        return kinds

    def _check_step_call(self, call: cst.Call) -> None:
        receiver = call.func.value
        kinds = self._epoch_kinds(receiver)
        if not kinds:
            if not call.args:
                self._check_double_step(call)
            return
        if call.args:
            # `step(epoch)` sets the schedule from the epoch number (closed form);
            # only ReduceLROnPlateau takes a per-call metric.
            kinds = [k for k in kinds if k.name == "ReduceLROnPlateau"]
            if not kinds:
                return
        answer = runs_per_batch(self.context, call)
        if not answer.per_batch or answer.confidence < Confidence.MEDIUM:
            return
        if self._epoch_path_elsewhere(call):
            # `if per_batch: sched.step()` in the batch loop, `if not per_batch:
            # sched.step()` after it: the flag chooses, per scheduler, where it steps.
            return
        kind = kinds[0]
        receiver_text = self.context.module.code_for_node(receiver)
        self.report(
            call,
            f"`{receiver_text}.step()` runs once per batch ({answer.describe()}), but "
            f"{kind.name} is an epoch schedule ({kind.reason}): it advances every batch, "
            "so the learning rate decays about len(loader) times too fast and reaches ~0 "
            "within a few epochs. Call it once per epoch after the batch loop, or size the "
            "schedule in steps (e.g. `step_size=30 * len(loader)`), or use a per-step "
            "scheduler such as OneCycleLR.",
        )

    def _sibling_steps(self, call: cst.Call) -> list[cst.Call]:
        """Other ``.step()`` calls on the same receiver in the same function (or script)."""
        semantics = self.context.semantics
        text = self.context.module.code_for_node(call.func.value)
        scope = semantics.enclosing_function(call)
        return [
            other
            for other in self._step_calls
            if other is not call
            and semantics.enclosing_function(other) is scope
            and self.context.module.code_for_node(other.func.value) == text
        ]

    def _epoch_path_elsewhere(self, call: cst.Call) -> bool:
        return any(
            mutually_exclusive(self.context, call, other) for other in self._sibling_steps(call)
        )

    def _check_double_step(self, call: cst.Call) -> None:
        """A per-step scheduler stepped on every batch and, again, once per epoch."""
        receiver = call.func.value
        constructions = scheduler_constructions(self.context, receiver)
        kinds = [classify_scheduler(self.context, c) for c in constructions]
        kinds = [k for k in kinds if k is not None]
        if not kinds or len({k.name for k in kinds}) != 1:
            return
        siblings = self._sibling_steps(call)
        if not siblings:
            return
        answer = runs_per_batch(self.context, call)
        if not answer.per_batch or answer.confidence < Confidence.MEDIUM:
            return
        for other in siblings:
            if other.args or branch_conditions(self.context, other):
                continue
            if mutually_exclusive(self.context, call, other):
                continue
            if not self._once_per_epoch_beside(other, call):
                continue
            receiver_text = self.context.module.code_for_node(receiver)
            fn = self.context.semantics.enclosing_function(call)
            where = f"outside the batch loop of `{fn.name.value}()`" if fn else "in the epoch loop"
            self.report(
                call,
                f"`{receiver_text}.step()` runs once per batch ({answer.describe()}) and the "
                f"same {kinds[0].name} is stepped again {where}, once per epoch: the "
                "schedule advances one extra step every epoch and drifts ahead of the step "
                "count it was sized for (a OneCycleLR then steps past its total and raises). "
                "Step it in one place only.",
            )
            return

    def _once_per_epoch_beside(self, other: cst.Call, call: cst.Call) -> bool:
        """``other`` runs once per epoch of the batch loop that runs ``call``.

        In the epoch loop around that batch loop, or beside the batch loop of a
        function that has no epoch loop of its own (`train_one_epoch`).  A step
        before the epoch loop runs once per training, not per epoch.
        """
        answer = runs_per_batch(self.context, other)
        if answer.per_batch or answer.guard not in (ONCE_PER_EPOCH, OUTSIDE_BATCH_LOOP):
            return False
        epoch_loops = [
            loop
            for loop in self.context.ancestors(call)
            if isinstance(loop, (cst.For, cst.While))
            and (kind := classify_loop(self.context, loop)) is not None
            and kind.kind == "epoch"
            and self.context.semantics.enclosing_function(loop)
            is self.context.semantics.enclosing_function(call)
        ]
        if answer.guard == ONCE_PER_EPOCH:
            return any(loop in epoch_loops for loop in self.context.ancestors(other))
        return not epoch_loops

    def _check_hf_trainer(self, call: cst.Call) -> None:
        """``Trainer(optimizers=(opt, StepLR(...)))``: HF steps the scheduler every step."""
        if not self._is_hf_trainer(call):
            return
        pair = next(
            (arg.value for arg in call.args if arg.keyword and arg.keyword.value == "optimizers"),
            None,
        )
        if not isinstance(pair, (cst.Tuple, cst.List)) or len(pair.elements) != 2:
            return
        scheduler = pair.elements[1].value
        kinds = self._epoch_kinds(scheduler)
        if not kinds:
            return
        kind = kinds[0]
        self.report(
            scheduler,
            f"the HF Trainer steps its scheduler after every optimizer step, but this "
            f"{kind.name} is an epoch schedule ({kind.reason}): the learning rate decays about "
            "len(loader) times too fast. Pass a per-step schedule "
            "(`get_linear_schedule_with_warmup`, `lr_scheduler_type=...` in TrainingArguments), "
            "or size this one in steps.",
        )

    def _is_hf_trainer(self, call: cst.Call) -> bool:
        semantics = self.context.semantics
        qualified = semantics.qualified_name(call.func) or ""
        if qualified.startswith(("transformers.", "trl.")):
            return True
        if isinstance(call.func, cst.Name):
            cls = semantics.classes.get(call.func.value)
            if cls is not None:
                return any(
                    base.startswith(("transformers.", "trl.")) for base in semantics.base_names(cls)
                )
        return False

    def _check_lightning_config(self, config: cst.Dict) -> None:
        interval = None
        scheduler = None
        for element in config.elements:
            if not isinstance(element, cst.DictElement):
                continue
            key = string_value(element.key)
            if key == "interval":
                interval = string_value(element.value)
            elif key == "scheduler":
                scheduler = element.value
        if interval != "step" or scheduler is None:
            return
        kinds = self._epoch_kinds(scheduler)
        if not kinds:
            return
        kind = kinds[0]
        self.report(
            scheduler,
            f'Lightning steps this {kind.name} every optimizer step ("interval": "step"), '
            f"but it is an epoch schedule ({kind.reason}): the learning rate decays about "
            'len(loader) times too fast. Use "interval": "epoch", or size the schedule in steps.',
        )
