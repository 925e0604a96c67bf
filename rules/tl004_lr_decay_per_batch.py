"""TL004: a learning rate decayed multiplicatively in code that runs once per batch."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Invalid, Rule
from torchlint.semantics.callgraph import (
    bound_argument,
    callee_function,
    calls_named,
    resolve_callee,
)
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.loops import runs_per_batch
from torchlint.semantics.model import iter_assignments
from torchlint.semantics.names import dotted_name, place_of
from torchlint.semantics.schedulers import PER_STEP_FACTOR
from torchlint.semantics.values import (
    constant_number,
    function_returns,
    parameter_named,
    possible_values,
    scope_of,
)
from torchlint.semantics.vocabulary import (
    LEARNING_RATE_PHRASES,
    LEARNING_RATE_WORDS,
    identifier_words,
    names_a_learning_rate,
)
from torchlint.semantics.words import expression_names, string_value
from torchlint.syntax import SyntaxIndex, last_name

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------

LR_KEYS = frozenset({"lr", "learning_rate"})


def _tl004_updates_a_learning_rate(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """An ``*=``/``/=`` or a single-target ``=`` whose target is a learning rate.

    Mirrors ``LrDecayPerBatch.visit_AugAssign``/``visit_Assign`` and ``_syntax_is_lr_target``.
    """
    for node in index.nodes(ast.AugAssign):
        if isinstance(node.op, (ast.Mult, ast.Div)) and _syntax_is_lr_target(node.target):
            return True
    for node in index.nodes(ast.Assign):
        if len(node.targets) == 1 and _syntax_is_lr_target(node.targets[0]):
            return True
    return False


def _syntax_is_lr_target(target: ast.AST) -> bool:
    if isinstance(target, ast.Subscript):
        key = target.slice
        return isinstance(key, ast.Constant) and key.value in LR_KEYS
    if isinstance(target, (ast.Name, ast.Attribute)):
        return names_a_learning_rate(last_name(target) or "")
    return False


PREFILTER = Prefilter(
    # `names_a_learning_rate` needs one of its words; a param-group key is one of `LR_KEYS`.
    tokens=text_tokens(
        LEARNING_RATE_WORDS, [phrase[0] for phrase in LEARNING_RATE_PHRASES], LR_KEYS
    ),
    syntax=_tl004_updates_a_learning_rate,
)


# -- judgement ------------------------------------------------------------------

# An unknown factor named like this grows the LR on purpose (LR range test) or rescales it.
_NOT_DECAY_WORDS = frozenset(
    {"mult", "multiplier", "growth", "grow", "increase", "inc", "up", "range", "finder"}
)
_WRAPPING_CALLS = frozenset({"max", "min", "float", "round", "abs"})


class LrDecayPerBatch(Rule):
    """
    ## What it does
    Flags a learning rate changed multiplicatively — `g["lr"] *= 0.1`,
    `g["lr"] = g["lr"] * k`, `/=`, or a local `lr = lr * k` that feeds the
    optimizer's param groups — in code that runs once per batch: inside the
    loop over the data loader or training steps, in a Lightning
    `training_step`, in the `step()` of an optimizer class or
    wrapper, or in a function or method called from there.

    The update may go through a same-file helper given the current LR:
    `optimizer, lr = exp_lr_scheduler(optimizer, itr, lr, gamma)` where the
    helper returns `init_lr * gamma` (and writes it into the param groups) is
    the same compounding update, flagged at the call.  A closed-form exponent
    applied to the current LR (`g["lr"] = g["lr"] * gamma ** (it // step)`)
    compounds too.

    Not flagged: closed-form assignments (`g["lr"] = base_lr * min(1, step /
    warmup)`), decays in the epoch loop, bodies guarded to run once (a flag
    set inside the guard, `step == k`) or every N steps (`step % N == 0`),
    and factors of 0.99 or more, which are sized for per-step decay.
    `if epoch == 30:` inside the batch loop is *not* a once-guard: it holds
    for every batch of epoch 30.  Nor is an every-N gate whose counter does
    not change on every pass of the batch loop: `if itr % N == 0` where `itr`
    only advances when a batch completes (`if done: itr += 1`), after an
    accumulation branch (`if (i + 1) % accum == 0: step += 1`), or belongs to
    an outer loop, stays true for many passes in a row and decays on each.
    A counter advanced on both arms of an `if`/`else`, or in the arm that
    holds the gate, keeps the gate once per value.

    ### Real code
    On the labelled real-code set (`bench/realworld.py`): 1 of the 2 known
    bugs found.  b29 (pygoturn) decays under `if itr > 0 and itr %
    lr_decay_step == 0` at the top of a `while itr < num_batches` loop, and
    `itr` moves only when a running batch fills up, through a helper that
    returns `init_lr * gamma`: flagged at the call.  b32 is out of reach: its
    file does not parse (the same compounding shape is a fixture).  The three
    look-alike rows stay quiet (a local LR recomputed from the base every
    batch, AWD-LSTM's LR rescaled by sequence length and restored, a
    per-epoch `state['lr'] *= gamma`), and the 51 sweep repositories give no
    TL004 finding.

    Held-out check (code the rule was not built on): jaehyunnn/ViTPose_pytorch
    before 0a2848e (issue 20) multiplied each group's `lr` by its layer-decay
    rate inside `LayerDecayOptimizer.step()` until the LR reached zero: missed
    at first (no loop in that file), found since the `step()` of a class named
    or derived as an optimizer counts as per-batch code.  Eleven training
    repositories (yolov5, DETR, DeiT, PyTorch-GAN, stable-baselines3,
    attention-is-all-you-need-pytorch, TCN, yunjey/pytorch-tutorial, the
    image-captioning tutorial, pytorch-a2c-ppo-acktr-gail, 3D-ResNets (about
    67k lines)) give no TL004 finding.  Fewer than four held-out
    instances were found; the other searched fixes were LR-scheduler logic
    (branches never reached, a schedule reset), which TL004 does not cover.

    Out of scope: a stalled gate whose counter is an attribute
    (`self.global_step % N`) or a name some function declares `global`: any
    call in the loop may advance it, so the gate is trusted.

    ## Why is this bad?
    A multiplicative update compounds on every call.  Run once per batch,
    `g["lr"] *= 0.1` makes the learning rate `0.1 ** n_batches` of its start:
    after one epoch of 830 batches it is about 1e-834, i.e. exactly zero in
    floating point, and that parameter group never learns again.  Nothing
    crashes; the loss just stops improving.

    ## Example
    ```python
    for batch in train_loader:
        loss = model(batch)
        if epoch >= unfreeze_epoch:
            for g in optimizer.param_groups:
                g["lr"] *= 0.1
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for batch in train_loader:
        loss = model(batch)
        if epoch >= unfreeze_epoch and not unfrozen:
            for g in optimizer.param_groups:
                g["lr"] = base_lr * 0.1
            unfrozen = True
        loss.backward()
        optimizer.step()
    ```
    Set the learning rate to an absolute value, run the decay once per epoch
    (or under a once-flag), or use an LR scheduler.

    ## Evidence
    Measured by `torchlint confirm TL004 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs; full output in [evidence.md](../evidence.md)). Buggy vs
    fixed:

    - **Confirmed**: over one epoch of 400 batches, `1e-4 * 0.1**k` is exactly 0.0 from batch
      320 and above 1e-12 only for the first 8 batches (fixed: 2e-5).
    - **Confirmed**: the parameters moved 405-440x less over the epoch.
    - **Inconclusive**: validation MSE after the epoch, 1.06-1.10x worse (threshold 1.1x).
    """

    code = "TL004"
    name = "lr-decay-per-batch"
    summary = "learning rate decayed multiplicatively once per batch"
    fix_hint = "assign the LR from a base value, or decay it once per epoch or under a once-flag"
    # Identifier words are matched case-insensitively (`baseLR`, `LearningRate`).
    prefilter = PREFILTER
    variants = {
        '["lr"]': [f'["{key}"]' for key in sorted(LR_KEYS)],
        "lr": [*sorted(LEARNING_RATE_WORDS), *("_".join(p) for p in LEARNING_RATE_PHRASES)],
    }
    valid = [
        """
def train(model, optimizer, train_loader, epochs, base_lr, warmup):
    step = 0
    for epoch in range(epochs):
        for x, y in train_loader:
            for g in optimizer.param_groups:
                g["lr"] = base_lr * min(1.0, step / warmup)
            model(x, y).backward()
            optimizer.step()
            step += 1
        if epoch in (30, 60):
            for g in optimizer.param_groups:
                g["lr"] *= 0.1
""",
        """
def train(model, optimizer, train_loader):
    for step, batch in enumerate(train_loader):
        model(batch).backward()
        optimizer.step()
        if step % 1000 == 0 and step > 0:
            for g in optimizer.param_groups:
                g["lr"] *= 0.5
""",
    ]
    invalid = [
        Invalid(
            """
class Trainer:
    def get_mixed_loss(self, pred, target):
        if self.stage >= 2:
            for g in self.optimizer.param_groups:
                g["lr"] *= 0.10
        return (pred - target).abs().mean()

    def train_epoch(self):
        for low, high in self.train_loader:
            loss = self.get_mixed_loss(self.model(low), high)
            loss.backward()
            self.optimizer.step()
""",
            line=6,
            message='`g["lr"] *= 0.10` runs once per batch (in `get_mixed_loss()`',
        ),
        Invalid(
            """
def train(model, optimizer, loader, epochs):
    for epoch in range(epochs):
        for i, (x, y) in enumerate(loader):
            model(x, y).backward()
            optimizer.step()
            if epoch == 30:
                optimizer.param_groups[0]["lr"] = optimizer.param_groups[0]["lr"] * 0.1
""",
            line=8,
            message='`optimizer.param_groups[0]["lr"] = optimizer.param_groups[0]',
        ),
        Invalid(
            """
def train(model, optimizer, loader, accum, decay_every=5000):
    step = 0
    for i, batch in enumerate(loader):
        model(batch).backward()
        if (i + 1) % accum == 0:
            optimizer.step()
            step += 1
        if step > 0 and step % decay_every == 0:
            for g in optimizer.param_groups:
                g["lr"] *= 0.5
""",
            line=11,
            message='`g["lr"] *= 0.5` runs again on every pass the gate holds',
        ),
    ]

    def __init__(self, context, settings=None) -> None:
        super().__init__(context, settings)
        self._candidates: list[tuple[cst.CSTNode, cst.BaseExpression, list]] = []

    # -- collecting ---------------------------------------------------------

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if not isinstance(node.operator, (cst.MultiplyAssign, cst.DivideAssign)):
            return
        if not _is_lr_target(node.target):
            return
        inverse = isinstance(node.operator, cst.DivideAssign)
        self._candidates.append((node, node.target, [(node.value, inverse)]))

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if _is_lr_target(target):
            # Factors are found after the walk: following `new_lr` back to
            # `old_lr * 0.1` may need call sites later in the file.
            self._candidates.append((node, target, None))
        elif isinstance(target, (cst.Tuple, cst.List)) and isinstance(node.value, cst.Call):
            # `optimizer, lr = decay(optimizer, it, lr, gamma)`: element `i` of what
            # `decay` returns.
            for position, element in enumerate(target.elements):
                if isinstance(element.value, cst.Name) and _is_lr_target(element.value):
                    self._candidates.append((node, element.value, position))

    # -- deciding -----------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        self._findings: list[tuple[cst.CSTNode, str]] = []
        self._decaying_calls: set[cst.FunctionDef] = set()
        for statement, target, factors in self._candidates:
            writes_groups = False
            if not isinstance(factors, list):
                found = self._assigned_factors(target, statement.value, factors)
                if found is None:
                    continue
                factors, writes_groups = found
            self._check(statement, target, factors, writes_groups)
        semantics = self.context.semantics
        for statement, message in self._findings:
            # `lr = decay(lr)` flagged at the call: the body of `decay` is the same finding.
            if semantics.enclosing_function(statement) not in self._decaying_calls:
                self.report(statement, message)

    def _assigned_factors(self, target, value, position=None):
        """``([(k, inverse)], through_call)`` when ``target = target * k``, directly,
        through a temporary, or through a same-file function given the current LR.

        ``new_lr = max(old_lr * 0.5, min_lr); g["lr"] = new_lr`` with
        ``old_lr = g["lr"]`` is the same multiplicative update as ``g["lr"] *= 0.5``;
        so is ``opt, lr = decay(opt, lr, gamma)`` when ``decay`` returns
        ``(opt, current_lr * gamma)``.  ``through_call`` says the function also
        writes the optimizer's param groups.
        """
        place = place_of(target)
        if place is None:
            return None
        if isinstance(value, cst.Call):
            found = self._returned_factors(value, position, place)
            if found is not None:
                return found
        if position is not None:
            return None
        candidates = [value]
        if isinstance(value, cst.Name):
            candidates.extend(
                v for v in possible_values(self.context, value, depth=2) if v is not value
            )
        for candidate in candidates:
            factors = _multiplicative_factors(
                candidate, lambda expr: self._holds_place(expr, place, 2)
            )
            if factors is not None:
                return factors, False
        return None

    def _returned_factors(self, call, position, place):
        """Factors of ``lr = f(..., lr, ...)`` where ``f`` returns its LR parameter times ``k``."""
        fn = callee_function(
            self.context, resolve_callee(self.context, call, scope_of(self.context, call))
        )
        if fn is None:
            return None

        def passed_the_lr(expr) -> bool:
            if not isinstance(expr, cst.Name) or parameter_named(fn, expr.value) is None:
                return False
            argument = bound_argument(self.context, call, fn, expr.value)
            return argument is not None and self._holds_place(argument, place, 2)

        for returned in function_returns(self.context, fn):
            if position is not None:
                if not isinstance(returned, (cst.Tuple, cst.List)):
                    continue
                if position >= len(returned.elements):
                    continue
                returned = returned.elements[position].value
            candidates = [returned]
            if isinstance(returned, cst.Name) and parameter_named(fn, returned.value) is None:
                candidates.extend(
                    value
                    for value in possible_values(self.context, returned, depth=1)
                    if value is not returned
                )
            for candidate in candidates:
                factors = _multiplicative_factors(candidate, passed_the_lr)
                if factors is not None:
                    return factors, _writes_param_groups(fn)
        return None

    def _holds_place(self, expr, place, hops: int) -> bool:
        if place_of(expr) == place:
            return True
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name):
            if expr.func.value == "float" and len(expr.args) == 1:
                return self._holds_place(expr.args[0].value, place, hops)
            return False
        if hops > 0 and isinstance(expr, cst.Name):
            return any(
                value is not expr and self._holds_place(value, place, hops - 1)
                for value in possible_values(self.context, expr, depth=1)
            )
        return False

    def _check(self, statement, target, factors, writes_groups=False) -> None:
        factor = self._decay_factor(factors)
        if factor is False:
            return
        if (
            not isinstance(target, cst.Subscript)
            and not writes_groups
            and not self._feeds_param_groups(statement, target)
        ):
            return
        answer = runs_per_batch(self.context, statement)
        if not answer.per_batch or answer.confidence < Confidence.MEDIUM:
            return
        code = self.context.module.code_for_node(statement).strip()
        runs = "runs once per batch"
        if answer.stalled:
            runs = "runs again on every pass the gate holds"
            times = "by the same factor" if factor is None else f"by {factor:g}"
            effect = (
                f"the learning rate is multiplied {times} on each of those passes instead of "
                "once, and the decays compound"
            )
        elif factor is None:
            effect = (
                "the learning rate is multiplied by the same factor on every batch and "
                "shrinks geometrically"
            )
        else:
            effect = (
                f"the learning rate is multiplied by {factor:g} on every batch, so after 100 "
                f"batches it is {factor**100:.0e} of its value and training silently stops"
            )
        if isinstance(statement, cst.Assign) and isinstance(statement.value, cst.Call):
            callee = callee_function(
                self.context,
                resolve_callee(self.context, statement.value, scope_of(self.context, statement)),
            )
            if callee is not None:
                self._decaying_calls.add(callee)
        self._findings.append(
            (
                statement,
                f"`{code}` {runs} ({answer.describe()}): {effect}. Assign the LR "
                "from a base value (`g['lr'] = base_lr * factor`), or move the decay to the "
                "epoch loop or behind a once-flag.",
            )
        )

    def _decay_factor(self, factors) -> float | bool | None:
        """The combined factor; None when unknown but plausibly a decay; False when not a decay."""
        product = 1.0
        unknown = []
        for expr, inverse in factors:
            value = constant_number(self.context, expr)
            if value is None:
                unknown.append(expr)
                continue
            if value == 0:
                return False
            product *= 1.0 / value if inverse else value
        if unknown:
            if any(_is_lr_ratio(expr) for expr in unknown):
                return False
            words = set()
            for expr in unknown:
                for name in expression_names(expr):
                    words.update(identifier_words(name))
            if words & _NOT_DECAY_WORDS:
                return False
            return None
        if 0 < product < PER_STEP_FACTOR:
            return product
        return False

    def _feeds_param_groups(self, statement, target) -> bool:
        """A local or attribute LR counts only when it is written into param groups."""
        name = dotted_name(target)
        if name is None:
            return False
        semantics = self.context.semantics
        fn = semantics.enclosing_function(statement)
        if fn is None:
            return False
        scopes = [fn]
        if name.startswith("self."):
            cls = semantics.class_of_method(fn)
            if cls is not None:
                scopes = list(semantics.methods(cls).values())
        short = name.rsplit(".", 1)[-1]
        for scope in scopes:
            for assigned, value in iter_assignments(scope):
                if _is_param_group_lr(assigned) and short in expression_names(value):
                    return True
        for callee, calls in calls_named(self.context).items():
            words = set(identifier_words(callee))
            if not (words & {"lr", "learning"}):
                continue
            for call in calls:
                if semantics.enclosing_function(call) not in scopes:
                    continue
                if any(dotted_name(arg.value) == name for arg in call.args):
                    return True
        return False


def _writes_param_groups(fn: cst.FunctionDef) -> bool:
    return any(_is_param_group_lr(target) for target, _ in iter_assignments(fn))


def _is_lr_ratio(expr: cst.BaseExpression) -> bool:
    """``new_lr / old_lr``: rescaling to a new absolute value, not a decay."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
        sides = (expr.left, expr.right)
        return all("lr" in identifier_words(" ".join(expression_names(side))) for side in sides)
    return False


def _is_param_group_lr(target: cst.BaseExpression) -> bool:
    if not isinstance(target, cst.Subscript) or len(target.slice) != 1:
        return False
    index = target.slice[0].slice
    return isinstance(index, cst.Index) and string_value(index.value) in LR_KEYS


def _is_lr_target(target: cst.BaseExpression) -> bool:
    if _is_param_group_lr(target):
        return True
    if isinstance(target, (cst.Name, cst.Attribute)):
        name = dotted_name(target)
        if name is None:
            return False
        return names_a_learning_rate(name.rsplit(".", 1)[-1])
    return False


def _flatten_product(expr: cst.BaseExpression, inverse: bool = False):
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, cst.Multiply):
            return _flatten_product(expr.left, inverse) + _flatten_product(expr.right, inverse)
        if isinstance(expr.operator, cst.Divide):
            return _flatten_product(expr.left, inverse) + _flatten_product(expr.right, not inverse)
    return [(expr, inverse)]


def _multiplicative_factors(value: cst.BaseExpression, is_target):
    """Factors ``k`` when ``value`` is ``target * k`` (or ``/ k``, or inside ``max(..)``)."""
    candidates = [value]
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value in _WRAPPING_CALLS
    ):
        candidates.extend(arg.value for arg in value.args)
    for candidate in candidates:
        factors = _flatten_product(candidate)
        if len(factors) < 2:
            continue
        matches = [f for f in factors if not f[1] and is_target(f[0])]
        if len(matches) == 1:
            return [f for f in factors if f is not matches[0]]
    return None
