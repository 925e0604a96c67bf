"""TL009: ``model.eval()`` inside training with no ``model.train()`` before the next batch."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Invalid, Rule
from torchlint.semantics.callgraph import callee_last
from torchlint.semantics.loops import classify_loop
from torchlint.semantics.steps import (
    MODE_CALLS,
    StepEvent,
    builds_optimizer,
    compatible,
    cyclic_after,
    enclosing_run,
    runs_whenever,
    step_events,
)
from torchlint.semantics.vocabulary import BACKWARD_CALLS, identifier_words
from torchlint.syntax import SyntaxIndex, last_name

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------


def _tl009_eval_and_backward(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A ``x.eval()`` or ``x.train(<arg>)`` call, and a backward call.

    Mirrors ``steps._Flattener.classify``: an eval event is an attribute call
    of ``eval`` with no arguments or of ``train`` with one; the training loop
    it leaks into is recognised by its backward event.
    """
    mode = backward = False
    for call in index.nodes(ast.Call):
        last = last_name(call.func)
        if last in BACKWARD_CALLS:
            backward = True
        elif isinstance(call.func, ast.Attribute) and (
            (last == "eval" and not call.args and not call.keywords)
            or (last == "train" and (call.args or call.keywords))
        ):
            mode = True
        if mode and backward:
            return True
    return False


PREFILTER = Prefilter(
    tokens=(text_tokens(MODE_CALLS), text_tokens(BACKWARD_CALLS)),
    syntax=_tl009_eval_and_backward,
)


# -- judgement ------------------------------------------------------------------

# A receiver with one of these words is a separate copy, not the trained model.
SEPARATE_COPY_WORDS = frozenset(
    {
        "ema",
        "teacher",
        "target",
        "swa",
        "avg",
        "averaged",
        "average",
        "shadow",
        "momentum",
        "frozen",
        "copy",
        "old",
        "prev",
        "previous",
        "ref",
        "reference",
        "pretrained",
        "best",
        "snapshot",
        "eval",
        "inference",
        "critic",
        "reward",
        "discriminator",
        "disc",
    }
)
_COPY_CALLS = frozenset(
    {"deepcopy", "copy", "AveragedModel", "ModelEMA", "EMA", "ExponentialMovingAverage"}
)
# Words of a comment, a condition or a helper's name saying batch-norm is frozen on purpose.
FROZEN_ON_PURPOSE_WORDS = frozenset(
    {"bn", "batchnorm", "norm", "freeze", "frozen", "fix", "fixed", "finetune", "intentionally"}
)


class EvalModeLeak(Rule):
    """
    ## What it does
    Flags `model.eval()` (or `model.train(False)`) that runs inside training,
    directly or in an evaluation function of the same file, when no
    `model.train()` runs after it before the next training batch: a
    validation pass in the middle of the batch loop, an evaluate-every-N-steps
    call, or a per-epoch `validate()` while `model.train()` is called only
    once, before the epoch loop.

    The loops are modelled as they run: the batch loop and the epoch loop,
    the calls into functions and methods of the same file (followed through
    parameters, `model = self.model` aliases and `DataParallel` wrappers),
    and `model.train()` wherever it sits: at the top of each epoch, inside the
    batch loop, at the start of the function that trains one epoch, or at the
    end of the evaluation function.

    Not flagged: `model.train()` at the top of each epoch (for an evaluation
    that runs after the batch loop) or inside the batch loop, evaluation of a
    separate copy (`ema_model.eval()`, a teacher, a `deepcopy`), evaluation
    after the training loop ends (or followed by `break`/`return`), modes
    chosen by a phase (`if phase == "train": model.train() else:
    model.eval()`, `model.train(is_training)`), a sub-module put in eval mode
    on purpose (`model.backbone.eval()`, batch-norm freezing said in a comment,
    a condition or a helper's name), and Lightning modules (the trainer
    switches modes).

    ## Why is this bad?
    `model.eval()` switches dropout off and makes batch-norm use (and stop
    updating) its running statistics. If training resumes without
    `model.train()`, every later batch trains in inference mode: no dropout
    regularisation, batch-norm layers normalising with stale statistics, and
    a model that behaves differently from the one the learning rate, the
    regularisation and the validation scores were tuned for. Nothing fails;
    the run just ends in a different (usually worse) place, and only from the
    first evaluation on, which hides it in short tests.

    ## Example
    ```python
    model.train()
    for epoch in range(epochs):
        for images, labels in train_loader:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        validate(model, val_loader)
    ```
    with `validate` calling `model.eval()`.

    ## Use instead
    ```python
    for epoch in range(epochs):
        model.train()
        for images, labels in train_loader:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        validate(model, val_loader)
    ```
    Call `model.train()` at the top of every epoch (or at the end of the
    evaluation function).

    No automatic fix is offered: where `train()` belongs (top of the epoch,
    after the evaluation call, inside the evaluation function) depends on
    code the fix cannot see, such as sub-modules frozen on purpose after it.

    ## Evidence
    Measured by `torchlint confirm TL009 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs of 20 epochs). Buggy vs fixed:

    - **Confirmed**: 95% of the training batches run with `model.training == False`
      (every batch after the first validation; fixed: none).
    - **Confirmed**: the first batch-norm layer's running mean does not move at all after
      epoch 1 (L2 change 0; fixed: 11.2-19.4): the layer normalises with the statistics of
      the first epoch for the rest of training.
    - **Not reproduced**: validation accuracy after 20 epochs, buggy 0.671-0.905 vs fixed
      0.660-0.915, per-seed differences between -0.011 and +0.011 (threshold 0.02). On this
      small MLP the lost dropout and the frozen statistics change the training path but not
      its final accuracy.

    **Real code.** Over the 70 exported real repositories, 9 findings, all true, all in
    simpletransformers: the
    `self.eval_model(...)` call in the batch loop of each model class (o05 among them), whose
    `evaluate()` calls `model.eval()` while `model.train()` runs only at the top of each
    epoch. The end-of-epoch `eval_model` calls of the same loops stay quiet (the next epoch
    starts with `model.train()`), and so do nanoGPT's `estimate_loss()`, Pytorch-UNet's
    `evaluate()` (it ends with `net.train()`) and the RT-DETR trainer (`model.train()` at the
    top of each epoch, through a `DataParallel` alias). On the PyPI corpus, timm's
    `task.train() if mode else task.eval()` test loop was flagged and is now quiet: the two
    arms of a conditional expression are branches, as the two arms of an `if` are.

    Held-out check: 2 of 2 instances found: wkentaro/pytorch-fcn before
    d10dd30 (PR 56: `self.validate()` every N iterations inside the batch
    loop, `model.train()` only at the top of the epoch) and tk-rusch/coRNN's
    adding task (issue 1: `test()` calls `model.eval()` inside the step loop,
    nothing switches back).  Eleven training repositories (yolov5, DETR,
    DeiT, PyTorch-GAN, stable-baselines3, attention-is-all-you-need-pytorch,
    TCN, yunjey/pytorch-tutorial, the image-captioning tutorial,
    pytorch-a2c-ppo-acktr-gail, 3D-ResNets (about 67k lines)) give no
    TL009 finding.
    """

    code = "TL009"
    name = "eval-mode-leak"
    summary = "model.eval() during training with no model.train() before the next training batch"
    fix_hint = "call model.train() at the top of each epoch, or at the end of the evaluation"
    prefilter = PREFILTER
    variants = {
        "model": ["net", "self.model", "network", "classifier"],
    }
    valid = [
        """
def train(model, optimizer, train_loader, val_loader, criterion, epochs):
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        evaluate(model, val_loader)


def evaluate(model, loader):
    model.eval()
    return sum(model(x).argmax(1).eq(y).sum().item() for x, y in loader)
""",
        """
def train(model, ema_model, optimizer, loader, criterion, max_steps):
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 1000 == 0:
            ema_model.eval()
            evaluate(ema_model)
""",
        """
def run(model, optimizer, dataloaders, criterion, epochs):
    for epoch in range(epochs):
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            for inputs, labels in dataloaders[phase]:
                loss = criterion(model(inputs), labels)
                if phase == "train":
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
""",
    ]
    invalid = [
        Invalid(
            """
def train(model, optimizer, train_loader, val_loader, criterion, epochs):
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        evaluate(model, val_loader)


def evaluate(model, loader):
    model.eval()
    return sum(model(x).argmax(1).eq(y).sum().item() for x, y in loader)
""",
            line=10,
            message="puts `model` in eval mode (in `evaluate()`)",
        ),
        Invalid(
            """
class ClassificationModel:
    def train(self, train_dataloader, eval_df):
        model = self.model
        for _ in range(self.args.num_train_epochs):
            model.train()
            for step, batch in enumerate(train_dataloader):
                loss = model(**batch)[0]
                loss.backward()
                self.optimizer.step()
                model.zero_grad()
                if step % self.args.evaluate_during_training_steps == 0:
                    results = self.eval_model(eval_df)

    def eval_model(self, eval_df):
        return self.evaluate(eval_df)

    def evaluate(self, eval_df):
        model = self.model
        model.eval()
        return {"loss": 0.0}
""",
            line=13,
            message="no `self.model.train()` runs before the next `loss.backward()`",
        ),
    ]

    def __init__(self, context, settings=None) -> None:
        super().__init__(context, settings)
        self._owners: dict[int, cst.CSTNode] = {}
        self._trained_names: set[str] = set()

    def visit_For(self, node: cst.For) -> None:
        self._add_owner(node)

    def visit_While(self, node: cst.While) -> None:
        self._add_owner(node)

    def visit_Call(self, node: cst.Call) -> None:
        # Last names of what the file trains: put in train mode somewhere, or whose
        # parameters an optimizer is built on (`SGD(model.parameters())`).
        last = callee_last(node)
        if last in ("parameters", "named_parameters") and isinstance(node.func, cst.Attribute):
            for ancestor in self.context.ancestors(node):
                if isinstance(ancestor, cst.Call) and builds_optimizer(ancestor):
                    self._add_trained(node.func.value)
                    break
                if isinstance(ancestor, cst.BaseStatement):
                    break
        if last == "train" and isinstance(node.func, cst.Attribute):
            self._add_trained(node.func.value)

    def _add_trained(self, receiver: cst.BaseExpression) -> None:
        if receiver is not None:
            while isinstance(receiver, cst.Attribute) and receiver.attr.value == "module":
                receiver = receiver.value
            if isinstance(receiver, cst.Attribute):
                self._trained_names.add(receiver.attr.value)
            elif isinstance(receiver, cst.Name):
                self._trained_names.add(receiver.value)

    def _add_owner(self, node: cst.CSTNode) -> None:
        owner = self.context.semantics.enclosing_function(node) or self.context.module
        if self._is_lightning(owner):
            return
        self._owners.setdefault(id(owner), owner)

    def _is_lightning(self, owner: cst.CSTNode) -> bool:
        if not isinstance(owner, cst.FunctionDef):
            return False
        cls = self.context.semantics.class_of_method(owner)
        if cls is None:
            return False
        words = {
            w for base in self.context.semantics.base_names(cls) for w in identifier_words(base)
        }
        return "lightning" in words or "pl" in words

    # -- deciding -----------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        reported: set[int] = set()
        for owner in self._owners.values():
            events = step_events(self.context, owner)
            if not any(event.kind == "backward" for event in events):
                continue
            for index, event in enumerate(events):
                if event.kind != "eval" or not self._is_trained_model(event):
                    continue
                found = self._leak(events, index)
                if found is None:
                    continue
                loop, backward = found
                node = self._report_node(event, loop)
                if id(node) in reported:
                    continue
                reported.add(id(node))
                self._report(node, event, loop, backward)

    def _leak(self, events: list[StepEvent], index: int):
        """``(loop, backward)`` when training resumes in eval mode after ``events[index]``."""
        evaluation = events[index]
        if self._mode_chosen_by_branch(events, evaluation) or self._frozen_on_purpose(evaluation):
            return None
        for loop in evaluation.loops():
            run = enclosing_run(events, index, loop)
            if not any(events[i].kind == "backward" for i in range(*run)):
                continue
            for _i, event, wrapped in cyclic_after(events, index, run):
                if event.kind in ("train", "mode") and _same_model(event, evaluation):
                    return None
                if (
                    event.kind == "exit"
                    and not wrapped
                    and self._ends_pass(event, evaluation, loop)
                ):
                    return None
                if event.kind == "backward" and compatible(event, evaluation):
                    return loop, event
            return None
        return None

    @staticmethod
    def _ends_pass(exit_event: StepEvent, evaluation: StepEvent, loop) -> bool:
        """A ``return``/``raise``, or a ``break`` out of ``loop`` or a loop around it."""
        if not runs_whenever(exit_event, evaluation):
            return False  # an early-stopping `return` under its own condition
        if exit_event.loop is None:
            return True
        target = exit_event.loop
        return target is loop or any(target is outer for outer in evaluation.loops())

    @staticmethod
    def _mode_chosen_by_branch(events, evaluation: StepEvent) -> bool:
        """``if phase == "train": model.train() else: model.eval()``."""
        branches = {id(node): branch for node, branch in evaluation.guards if branch >= 0}
        for event in events:
            if event.kind not in ("train", "mode") or not _same_model(event, evaluation):
                continue
            for node, branch in event.guards:
                if branches.get(id(node), branch) != branch:
                    return True
        return False

    def _frozen_on_purpose(self, evaluation: StepEvent) -> bool:
        """Batch-norm frozen on purpose, as a comment, a condition or a helper's name says."""
        for call in evaluation.chain:
            if set(identifier_words(callee_last(call) or "")) & FROZEN_ON_PURPOSE_WORDS:
                return True
        for node, branch in evaluation.guards:
            if isinstance(node, cst.If) and branch >= 0:
                test = self.context.module.code_for_node(node.test)
                if set(identifier_words(test)) & FROZEN_ON_PURPOSE_WORDS:
                    return True
        statement = self.context.enclosing_statement(evaluation.node)
        if statement is not None:
            text = self.context.module.code_for_node(statement)
            comments = " ".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
            if set(identifier_words(comments)) & FROZEN_ON_PURPOSE_WORDS:
                return True
        return False

    def _is_trained_model(self, evaluation: StepEvent) -> bool:
        receiver = evaluation.receiver
        if not receiver:
            return False
        last = receiver.rsplit(".", 1)[-1]
        if set(identifier_words(last)) & SEPARATE_COPY_WORDS:
            return False
        if last not in self._trained_names and receiver != "self":
            return False
        return not self._is_copy(evaluation.node, last)

    def _is_copy(self, call: cst.Call, name: str) -> bool:
        """``eval_model = copy.deepcopy(model)`` in the function that evaluates."""
        fn = self.context.semantics.enclosing_function(call)
        if fn is None:
            return False
        from torchlint.semantics.model import iter_assignments

        for target, value in iter_assignments(fn):
            target_name = target.value if isinstance(target, cst.Name) else None
            if isinstance(target, cst.Attribute):
                target_name = target.attr.value
            if (
                target_name == name
                and isinstance(value, cst.Call)
                and callee_last(value) in _COPY_CALLS
            ):
                return True
        return False

    def _report_node(self, evaluation: StepEvent, loop: cst.CSTNode) -> cst.CSTNode:
        """The call inside ``loop`` that leads to the eval (the eval itself when it is there)."""
        for node in (*evaluation.chain, evaluation.node):
            if any(ancestor is loop for ancestor in self.context.ancestors(node)):
                return node
        return evaluation.node

    def _report(self, node, evaluation: StepEvent, loop, backward: StepEvent) -> None:
        model = evaluation.receiver
        via = ""
        if evaluation.chain and node is not evaluation.node:
            names = [callee_last(call) for call in evaluation.chain]
            start = next(i for i, call in enumerate(evaluation.chain) if call is node)
            via = " (in " + " -> ".join(f"`{n}()`" for n in names[start:]) + ")"
        kind = classify_loop(self.context, loop) if isinstance(loop, (cst.For, cst.While)) else None
        if kind is not None and kind.kind == "batch":
            where = f"inside {kind.description}"
        elif kind is not None and kind.kind == "epoch":
            where = "inside the epoch loop"
        elif isinstance(loop, cst.For):
            where = f"inside the loop over `{self.context.snippet(loop.iter, 40)}`"
        else:
            where = "inside the training loop"
        code = self.context.snippet(node, 60, collapse_whitespace=True)
        backward_code = self.context.snippet(backward.node, 40, collapse_whitespace=True)
        self.report(
            node,
            f"`{code}` puts `{model}` in eval mode{via} {where}, and no `{model}.train()` "
            f"runs before the next `{backward_code}`: the rest of training runs with dropout "
            "off and batch-norm frozen at its running statistics; call "
            f"`{model}.train()` after the evaluation (or at the top of every epoch)",
        )


def _same_model(first: StepEvent, second: StepEvent) -> bool:
    """The same model, or one named alike (``model`` and ``self.model`` in another method)."""
    if first.receiver is None or second.receiver is None:
        return False
    if first.receiver == second.receiver:
        return True
    return first.receiver.rsplit(".", 1)[-1] == second.receiver.rsplit(".", 1)[-1]
