"""TL005: a zero-at-start warm-up ramp applied to the primary supervision term."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Invalid, Rule, RuleOption
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.loops import runs_per_batch
from torchlint.semantics.model import assigned_targets
from torchlint.semantics.names import dotted_name, place_of
from torchlint.semantics.ramps import progress_ramp, zero_start_ramp
from torchlint.semantics.values import assigned_values, constant_number, possible_values
from torchlint.semantics.vocabulary import (
    RAMP_COLLECTION_WORDS,
    RAMP_FUNCTION_WORDS,
    identifier_words,
    is_epoch_word,
    is_progress_name,
    is_ramp_collection_name,
)
from torchlint.semantics.words import string_value
from torchlint.syntax import SyntaxIndex, argument_values, last_name
from torchlint.walk import simple_statements

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------

# The names of primary terms, the default of the `primary-loss-names` option.
DEFAULT_PRIMARY_LOSS_NAMES = [
    "reconstruction",
    "recon",
    "rec",
    "l1",
    "l2",
    "mse",
    "ce",
    "cross_entropy",
    "nll",
    "ssim",
]
_TOKEN = re.compile(r"[A-Za-z0-9_]+")


def _tl005_has_a_ramp(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A product and a zero-at-start ramp, or a collection named like ramped keys.

    Mirrors ``ramps.zero_start_ramp``: every ramp it recognises is, in the
    end, ``progress / n``, ``progress * k`` or a ramp-named call on a
    progress counter (``_zero_at_start``, ``_is_progress``).  Collections:
    ``RampedPrimaryLoss.visit_Assign``.
    """
    names = settings.get("primary-loss-names")
    if names is None:
        names = DEFAULT_PRIMARY_LOSS_NAMES
    patterns = [identifier_words(name) for name in names if name]
    # `visit_Assign` keeps a collection assigned outside functions, and
    # `_check_collection` reports one of its string keys named like a primary term.
    if any(
        len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and is_ramp_collection_name(node.targets[0].id)
        for node in _assignments_outside_functions(index.tree.body)
    ) and any(_is_primary(identifier_words(text), patterns) for text in _string_constants(index)):
        return True
    # `_check_epoch_gated`: `if epoch % 10 == 0: w *= k`.
    scaled = {
        id(node)
        for node in index.nodes(ast.AugAssign, ast.Assign)
        if _scales(node) and _may_name_a_loss_weight(node)
    }
    if scaled:
        for node in index.nodes(ast.If):
            if _reads_an_epoch(node.test) and any(
                id(small) in scaled for statement in node.body for small in ast.walk(statement)
            ):
                return True
    if not _ramp_shapes(index):
        return False
    # `_check_increment`: an epoch-sized increment added to a weight.
    # Both it and `_check_compounding` update only a place named like a loss weight
    # (`_names_a_loss_weight`).
    if any(
        isinstance(node.op, ast.Add)
        and _epoch_times_number(node.value)
        and _may_name_a_loss_weight(node)
        for node in index.nodes(ast.AugAssign)
    ) or any(
        len(node.targets) == 1
        and _may_name_a_loss_weight(node)
        and any(
            isinstance(inner, ast.BinOp)
            and isinstance(inner.op, ast.Add)
            and (_epoch_times_number(inner.left) or _epoch_times_number(inner.right))
            for inner in ast.walk(node.value)
        )
        for node in index.nodes(ast.Assign)
    ):
        return True
    # `_check_compounding`: a product assigned back to a place it reads.
    if any(
        _compounds(node) and _may_name_a_loss_weight(node) for node in index.nodes(ast.AugAssign)
    ) or any(
        _compounds(node) and _may_name_a_loss_weight(node) for node in index.nodes(ast.Assign)
    ):
        return True
    # `_check_product` and `_check_collection` report only a term, key or string
    # whose words include a primary-loss name.
    words = index.memo("words", _words)
    return any(
        all(word in words for word in pattern) or (len(pattern) > 1 and "".join(pattern) in words)
        for pattern in patterns
        if pattern
    )


def _assignments_outside_functions(body: list):
    """The ``=`` statements of a module outside any function (class bodies included)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Assign):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif isinstance(node, ast.stmt):
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, None) or ():
                    if isinstance(child, ast.stmt):
                        stack.append(child)
                    else:  # an `except` handler or a `match` case
                        stack.extend(child.body)


def _string_constants(index: SyntaxIndex):
    for node in index.nodes(ast.Constant):
        if isinstance(node.value, str):
            yield node.value
        elif isinstance(node.value, bytes):
            yield node.value.decode("latin-1")


def _is_primary(words: tuple[str, ...], patterns: list[tuple[str, ...]]) -> bool:
    """Words that name a primary term and no auxiliary one (``RampedPrimaryLoss``)."""
    if not words or set(words) & _AUXILIARY_WORDS:
        return False
    for pattern in patterns:
        if not pattern:
            continue
        size = len(pattern)
        for start in range(len(words) - size + 1):
            if words[start : start + size] == pattern:
                return True
        if size > 1 and "".join(pattern) in words:
            return True
    return False


def _may_name_a_loss_weight(node: ast.AST) -> bool:
    """Whether the place ``node`` assigns may be a loss weight (``_names_a_loss_weight``,
    without its learning-rate exception): the words of the name, attribute or string
    key (and of a subscripted value) include a weight word."""
    target = node.target if isinstance(node, ast.AugAssign) else node.targets[0]
    words = set(_place_words(target))
    if isinstance(target, ast.Subscript):
        words.update(_place_words(target.value))
    return bool(words & _WEIGHT_WORDS)


def _place_words(expr: ast.AST) -> tuple[str, ...]:
    """``RampedPrimaryLoss._term_words`` of an assignment target."""
    if isinstance(expr, ast.Subscript):
        key = expr.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, (str, bytes)):
            text = key.value if isinstance(key.value, str) else key.value.decode("latin-1")
            return identifier_words(text)
        return ()
    if isinstance(expr, (ast.Name, ast.Attribute)):
        return identifier_words(last_name(expr) or "")
    return ()


def _epoch_times_number(expr: ast.AST) -> bool:
    """``epoch * k`` (mirrors ``_epoch_sized``)."""
    if not (isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult)):
        return False
    for counter, scale in ((expr.left, expr.right), (expr.right, expr.left)):
        if isinstance(counter, (ast.Name, ast.Attribute)) and _may_be_number(scale):
            last = last_name(counter) or ""
            if is_progress_name(last) and any(is_epoch_word(w) for w in identifier_words(last)):
                return True
    return False


def _reads_an_epoch(test: ast.AST) -> bool:
    return any(
        isinstance(node, (ast.Name, ast.Attribute))
        and is_progress_name(name := last_name(node) or "")
        and any(is_epoch_word(w) for w in identifier_words(name))
        for node in ast.walk(test)
    )


def _scales(node: ast.AST) -> bool:
    """``w *= k``, ``w /= k``, ``w = w * k``."""
    if isinstance(node, ast.AugAssign):
        return isinstance(node.op, (ast.Mult, ast.Div))
    return _compounds(node)


def _compounds(node: ast.AST) -> bool:
    """``w *= r`` or ``w = ... * r`` (mirrors ``RampedPrimaryLoss._check_compounding``)."""
    if isinstance(node, ast.AugAssign):
        return isinstance(node.op, ast.Mult)
    if not (
        len(node.targets) == 1
        and isinstance(node.value, ast.BinOp)
        and isinstance(node.value.op, ast.Mult)
    ):
        return False
    target = node.targets[0]
    if isinstance(target, (ast.Attribute, ast.Subscript)):
        return True
    # A local compounds only by reading itself (`w = w * ramp` in a loop).
    return isinstance(target, ast.Name) and any(
        isinstance(operand, ast.Name) and operand.id == target.id
        for operand in _product_operands(node.value)
    )


def _product_operands(expr: ast.AST):
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Mult, ast.Div)):
        yield from _product_operands(expr.left)
        if isinstance(expr.op, ast.Mult):
            yield from _product_operands(expr.right)
    else:
        yield expr


def _words(index: SyntaxIndex) -> frozenset[str]:
    """Every word of every identifier and string in the file."""
    words: set[str] = set()
    for token in set(_TOKEN.findall(index.source)):
        words.update(identifier_words(token))
    return frozenset(words)


def _ramp_shapes(index: SyntaxIndex) -> bool:
    has_product = any(isinstance(n.op, ast.Mult) for n in index.nodes(ast.AugAssign)) or any(
        isinstance(n.op, ast.Mult) for n in index.nodes(ast.BinOp)
    )
    if not has_product:
        return False
    for node in index.nodes(ast.BinOp):
        if isinstance(node.op, (ast.Div, ast.FloorDiv)) and _is_progress(node.left):
            return True
        if isinstance(node.op, ast.Mult) and (
            (_is_progress(node.left) and _may_be_number(node.right))
            or (_is_progress(node.right) and _may_be_number(node.left))
        ):
            return True
    for call in index.nodes(ast.Call):
        last = last_name(call.func)
        ramp_named = bool(last and set(identifier_words(last)) & RAMP_FUNCTION_WORDS)
        if ramp_named and any(_is_progress(value) for value in argument_values(call)):
            return True
    return False


def _may_be_number(expr: ast.AST) -> bool:
    """Shapes ``dataflow.constant_number`` can evaluate (``_is_scale``)."""
    if isinstance(expr, (ast.Constant, ast.Name, ast.Attribute)):
        return True
    if isinstance(expr, ast.UnaryOp):
        return _may_be_number(expr.operand)
    if isinstance(expr, ast.BinOp):
        return _may_be_number(expr.left) and _may_be_number(expr.right)
    return False


def _is_progress(expr: ast.AST) -> bool:
    """Mirrors ``ramps._is_progress`` (and ``_reads_progress``), a little wider."""
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Name) and expr.func.id in ("float", "int"):
            values = argument_values(expr)
            return bool(values) and _is_progress(values[0])
        return False
    if isinstance(expr, (ast.Name, ast.Attribute)):
        return is_progress_name(last_name(expr) or "")
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Sub, ast.Add)):
        # `epoch - start`, and `epoch + 1` (`ramps.progress_ramp`)
        return _is_progress(expr.left)
    return False


PREFILTER = Prefilter(
    # Every finding is a product (`*`, `*=`) or a collection named like a ramp.
    tokens=text_tokens(("*",), RAMP_COLLECTION_WORDS),
    syntax=_tl005_has_a_ramp,
)


# -- judgement ------------------------------------------------------------------

# A name with one of these words is an auxiliary term even if it also says `mse` or `l2`
# (`consistency_mse`, `l2_reg`, `feat_l1`): ramping those in is the point of a ramp.
_AUXILIARY_WORDS = frozenset(
    {
        "kl",
        "kld",
        "consistency",
        "cons",
        "adv",
        "adversarial",
        "gan",
        "disc",
        "discriminator",
        "perceptual",
        "percep",
        "vgg",
        "lpips",
        "feat",
        "feature",
        "features",
        "tv",
        "reg",
        "regularization",
        "regularizer",
        "distill",
        "distillation",
        "kd",
        "teacher",
        "ema",
        "unsup",
        "unsupervised",
        "pseudo",
        "contrastive",
        "aux",
        "auxiliary",
        "color",
        "colour",
        "edge",
        "exposure",
        "style",
        "gram",
        "commitment",
        "vq",
        "orth",
        "sparsity",
        "cycle",
        "identity",
    }
)


# Words of a loss weight: a schedule on one of these scales a loss term.
_WEIGHT_WORDS = frozenset(
    {
        "weight",
        "weights",
        "w",
        "wt",
        "beta",
        "alpha",
        "lambda",
        "lam",
        "lmbda",
        "coef",
        "coeff",
        "coefficient",
        "factor",
        "kl",
        "kld",
    }
)


class RampedPrimaryLoss(Rule):
    """
    ## What it does
    Flags a warm-up ramp that is 0 at the start of training or of a stage
    (`min(1, epoch / warmup)`, `epoch / N`, a same-file ramp function, or a
    collection of keys such as `RAMP_KEYS` / `WARMUP_TERMS` that a ramp
    multiplies) applied to the primary supervision term: reconstruction,
    L1/L2/MSE, cross-entropy, NLL or SSIM by default (setting
    `primary-loss-names`).

    Ramps over auxiliary terms are the point of a ramp and are not flagged:
    KL/β annealing, delayed adversarial weights, mean-teacher consistency
    ramps, perceptual, colour or edge terms.

    Two ways any loss-weight schedule (a name with `weight`, `beta`, `alpha`,
    `lambda`, `coef`, `kl`, ...; not a learning rate, which is TL004's)
    breaks are flagged too, whatever the term:

    - a ramp multiplied into the weight's own current value instead of a
      fixed base: `model.cfg.beta_kl = beta_max * min(1, epoch / warm)` where
      `beta_max` was just read from `model.cfg.beta_kl`, `self.kl_weight *=
      min(1, step / n)`, or a local `w = w * ramp` carried across the passes
      of a loop. The ramp compounds on every call;
    - an epoch-sized increment added in code that runs once per batch:
      `self.w = min(w_max, self.w + self.current_epoch * 0.015)` in a
      Lightning `training_step`, `w += epoch * 0.01` in the batch loop;
    - a decay meant once per epoch that runs once per batch: `if
      self.current_epoch % 10 == 0: self.kl_weight *= decay` in
      `training_step` multiplies on every batch of those epochs.  A factor
      within 1% of 1 (sized per step) and a controller on a measured value
      (`if kl.mean() < target: beta *= 0.5`, PPO's adaptive KL) are not
      flagged.

    ### Real code
    On the labelled real-code set (`bench/realworld.py`): b34 (CeNeuroVAE's
    KL warm-up reads `beta_max` back from the value it overwrote the epoch
    before, so beta is 0 from epoch 0 on) and b36 (a `latent_recon_weight`
    grown by `current_epoch * 0.015` in `training_step` and `validation_step`,
    at its cap within a few batches) are found.  b33 (an AMBIG row: the whole
    ID loss of a re-ID baseline times a warm-up that starts at 0.1, meant by
    its maintainer as an LR warm-up, a no-op under Adam) is left alone on
    purpose: a ramp with a floor still supervises from step 0.  b35 (a loss
    weight folded into an LR lambda) is a judgement call and stays quiet.
    The four look-alike rows (CADA-VAE's cross-reconstruction, β and distance
    ramps, taming's delayed adversarial weight, a mean-teacher consistency
    ramp, β-TC-VAE KL annealing) stay quiet, and the 51 sweep repositories
    give no TL005 finding.

    Held-out check: valdersoul/bn-vae before b248193 (issue 1) resets
    `kl_weight = args.kl_start` under an epoch test (`(epoch - 1) % cycle ==
    0`) inside the batch loop, right after the per-batch increment, so the KL
    weight is pinned at its start for that whole epoch instead of restarting
    once: missed (a reset, not a compounding or epoch-sized update).  Eleven
    training repositories (yolov5, DETR, DeiT, PyTorch-GAN,
    stable-baselines3, attention-is-all-you-need-pytorch, TCN,
    yunjey/pytorch-tutorial, the image-captioning tutorial,
    pytorch-a2c-ppo-acktr-gail, 3D-ResNets (about 67k lines)) give no TL005
    finding.  Fewer than four
    held-out instances were found in issue threads.

    Out of scope: compounding schedules of other quantities (a sampling
    temperature, a momentum), and per-batch increments sized in steps
    (`w + 1 / anneal_steps`), which are how a per-step ramp is written.

    ## Why is this bad?
    At epoch 0 the ramp is 0, so the primary term contributes nothing: the
    model gets no supervision during the first epoch (of every stage, when
    the ramp restarts per stage) and is pushed only by the auxiliary terms,
    which on their own drive it towards degenerate solutions.

    ## Example
    ```python
    RAMP_KEYS = ("w_reconstruction", "w_ssim", "w_color", "w_edge")


    def stage_weights(base, epoch_in_stage, warmup=15):
        ramp = min(1.0, epoch_in_stage / warmup)
        return {k: w * ramp if k in RAMP_KEYS else w for k, w in base.items()}
    ```

    ## Use instead
    ```python
    RAMP_KEYS = ("w_color", "w_edge")


    def stage_weights(base, epoch_in_stage, warmup=15):
        ramp = min(1.0, epoch_in_stage / warmup)
        return {k: w * ramp if k in RAMP_KEYS else w for k, w in base.items()}
    ```

    ## Evidence
    Measured by `torchlint confirm TL005 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs; full output in [evidence.md](../evidence.md)). Buggy vs
    fixed:

    - **Confirmed**: the gradient norm is exactly 0 for the whole first epoch of the stage
      (fixed: 0.35-0.55).
    - **Confirmed**: reconstruction MSE after the first epoch is 1.48-2.58x worse (Adam).
    - **Inconclusive**: after 5 epochs under Adam the buggy run catches up on 4 of 5 seeds
      (0.94-1.01x); the fifth stays 2.29x worse.
    - **Inconclusive**: after 5 epochs under SGD it stays worse on every seed, 1.05-2.10x, one
      seed below the 1.1x threshold.
    """

    code = "TL005"
    name = "ramped-primary-loss"
    summary = "zero-at-start warm-up ramp applied to the primary loss term"
    fix_hint = "ramp only the auxiliary terms; keep the primary loss at full weight from step 0"
    prefilter = PREFILTER
    variants = {
        "reconstruction": DEFAULT_PRIMARY_LOSS_NAMES,
        "RAMP": sorted(word.upper() for word in RAMP_COLLECTION_WORDS),
        "warmup": sorted(RAMP_COLLECTION_WORDS),
    }
    options = {
        "primary-loss-names": RuleOption(
            list,
            default=DEFAULT_PRIMARY_LOSS_NAMES,
            description=(
                "Words that name the primary supervision term in loss, weight and key names "
                "(`recon_loss`, `w_reconstruction`, `F.l1_loss`)."
            ),
        )
    }
    valid = [
        """
def loss_fn(recon, kl, epoch, warmup=10):
    beta = min(1.0, epoch / warmup)
    return recon + beta * kl
""",
        """
RAMP_KEYS = ("w_color_consistency", "w_exposure", "w_edge")

def weights_for(base, epoch_in_stage, warmup=20):
    ramp = min(1.0, epoch_in_stage / warmup)
    return {k: w * ramp if k in RAMP_KEYS else w for k, w in base.items()}
""",
    ]
    invalid = [
        Invalid(
            """
RAMP_KEYS = ("w_reconstruction", "w_ssim", "w_color_consistency", "w_edge")

def weights_for(base, epoch_in_stage, warmup=20):
    ramp = min(1.0, epoch_in_stage / warmup)
    return {k: w * ramp if k in RAMP_KEYS else w for k, w in base.items()}
""",
            line=2,
            message='"w_reconstruction" is in `RAMP_KEYS`, so the ramp `min(1.0,',
        ),
        Invalid(
            """
import torch.nn.functional as F

def training_loss(pred, target, kl, epoch, warmup_epochs=5):
    w = min(1.0, epoch / warmup_epochs)
    return w * F.l1_loss(pred, target) + 0.01 * kl
""",
            line=6,
            message="the primary loss term `F.l1_loss(pred, target)` is scaled by",
        ),
        Invalid(
            """
def step_kl_schedule(model, epoch, warmup_epochs=10):
    beta_max = model.cfg.beta_kl
    model.cfg.beta_kl = beta_max * min(1.0, epoch / warmup_epochs)
""",
            line=4,
            message="`model.cfg.beta_kl` is multiplied by the ramp",
        ),
    ]

    def __init__(self, context, settings=None) -> None:
        super().__init__(context, settings)
        self._primary = [
            identifier_words(name) for name in self.settings["primary-loss-names"] if name
        ]
        self._reported: set[int] = set()
        self._products: list[cst.CSTNode] = []
        self._collections: list[tuple[cst.BaseExpression, str]] = []
        self._updates: list[cst.Assign | cst.AugAssign] = []
        self._increments: list[cst.Assign | cst.AugAssign] = []

    # -- names ----------------------------------------------------------------

    def _is_primary_words(self, words: tuple[str, ...]) -> bool:
        return _is_primary(words, self._primary)

    def _term_words(self, expr: cst.BaseExpression) -> tuple[str, ...]:
        """The words naming a loss term or weight: a variable, attribute, key or callee."""
        if isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
            index = expr.slice[0].slice
            if isinstance(index, cst.Index):
                key = string_value(index.value)
                if key is not None:
                    return identifier_words(key)
            return ()
        if isinstance(expr, cst.Call):
            return self._term_words(expr.func)
        name = dotted_name(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
        if name is None:
            return ()
        return identifier_words(name.rsplit(".", 1)[-1])

    def _origin_words(self, expr: cst.BaseExpression) -> tuple[str, ...]:
        """Words of the loss a term was computed by: ``rec = F.l1_loss(..)``,
        ``self.criterion = nn.CrossEntropyLoss()`` then ``self.criterion(out, y)``."""
        holder = expr.func if isinstance(expr, cst.Call) else expr
        if not isinstance(holder, (cst.Name, cst.Attribute)):
            return ()
        words: tuple[str, ...] = ()
        for value in assigned_values(self.context, holder):
            if isinstance(value, cst.Call) and value is not expr:
                words += self._term_words(value.func)
        return words

    # -- collecting -------------------------------------------------------------

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Multiply):
            parent = self.context.parent(node)
            if isinstance(parent, cst.BinaryOperation) and isinstance(
                parent.operator, (cst.Multiply, cst.Divide)
            ):
                return  # the outermost product is examined as a whole
            self._products.append(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.MultiplyAssign):
            self._products.append(node)
            self._updates.append(node)
        elif isinstance(node.operator, cst.AddAssign):
            self._increments.append(node)
        elif isinstance(node.operator, cst.DivideAssign):
            self._updates.append(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.value, cst.BinaryOperation):
            self._updates.append(node)
            self._increments.append(node)
        elif len(node.targets) == 1 and isinstance(node.value, cst.Call):
            self._increments.append(node)
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        if not is_ramp_collection_name(node.targets[0].target.value):
            return
        if self.context.semantics.enclosing_function(node) is not None:
            return
        self._collections.append((node.value, f"`{node.targets[0].target.value}`"))

    def leave_Module(self, original_node: cst.Module) -> None:
        # Usage first, so a finding names the ramp that multiplies the key.
        for node in self._products:
            self._check_product(node)
        for value, label in self._collections:
            self._check_collection(value, label, None)
        for node in self._updates:
            self._check_compounding(node)
        for node in self._increments:
            self._check_increment(node)

    # -- deciding ----------------------------------------------------------------

    def _check_product(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.AugAssign):
            factors = [node.target, node.value]
        else:
            factors = _flatten_product(node)
        all_words = set()
        for factor in factors:
            all_words.update(self._term_words(factor))
        all_words.update(self._target_words(node))
        if all_words & _AUXILIARY_WORDS:
            return
        # Cheap name checks first: finding a ramp follows values through the file.
        primary = [
            f
            for f in factors
            if self._is_primary_words(self._term_words(f) + self._origin_words(f))
        ]
        collection = None if primary else self._key_collection(node)
        if not primary and collection is None:
            return
        for factor in factors:
            ramp_text = zero_start_ramp(self.context, factor)
            if ramp_text is None:
                continue
            terms = [f for f in primary if f is not factor]
            if terms:
                self._report_term(node, terms[0], ramp_text)
            elif collection is not None:
                self._check_collection(collection[0], collection[1], ramp_text)
            return

    def _check_compounding(self, node: cst.Assign | cst.AugAssign) -> None:
        """``w = w * ramp(epoch)``: a ramp applied to the value it overwrote compounds;
        ``w *= k`` under an epoch condition, once per batch, decays on every batch."""
        if isinstance(node, cst.AugAssign):
            target = node.target
            factors = _flatten_product(node.value)
        else:
            target = node.targets[0].target
            if not (
                isinstance(node.value, cst.BinaryOperation)
                and isinstance(node.value.operator, cst.Multiply)
            ):
                return
            factors = _flatten_product(node.value)
            held = [f for f in factors if self._holds(f, target)]
            if len(held) != 1:
                return
            factors = [f for f in factors if f is not held[0]]
        if id(node) in self._reported or not self._persists(node, target):
            return
        if not self._names_a_loss_weight(target):
            return
        if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.DivideAssign):
            self._check_epoch_gated(node, target, factors, inverse=True)
            return
        for factor in factors:
            ramp_text = progress_ramp(self.context, factor)
            if ramp_text is None:
                continue
            self._reported.add(id(node))
            name = self.context.snippet(target, 40)
            self.report(
                node,
                f"`{name}` is multiplied by the ramp `{ramp_text}` on top of its own current "
                "value, not a fixed base: each call compounds the ramp, so the weight shrinks "
                "towards 0 (a ramp that is 0 at the start zeroes it for good). Keep the "
                f"configured value apart and assign `{name} = base * ramp`.",
            )
            return
        self._check_epoch_gated(node, target, factors)

    def _check_epoch_gated(self, node, target, factors, inverse: bool = False) -> None:
        """``if epoch % 10 == 0: self.kl_weight *= decay`` in code that runs once per batch."""
        if id(node) in self._reported or not factors:
            return
        for factor in factors:
            value = constant_number(self.context, factor)
            if value is not None and (value == 0 or abs(1 - value) <= _PER_STEP_SLACK):
                return  # sized for per-step decay, or a reset
        gate = self._epoch_gate(node)
        if gate is None:
            return
        answer = runs_per_batch(self.context, node)
        if not answer.per_batch or answer.confidence < Confidence.MEDIUM:
            return
        self._reported.add(id(node))
        name = self.context.snippet(target, 40)
        verb = "divided" if inverse else "multiplied"
        self.report(
            node,
            f"`{name}` is {verb} under `if {self.context.snippet(gate.test, 50)}`, an epoch "
            f"condition, but the update runs once per batch ({answer.describe()}): the weight "
            f"is {verb} again on every batch of those epochs instead of once, and compounds. "
            "Apply it once per epoch (after the batch loop, or in an epoch-end hook), or "
            f"compute `{name}` in closed form from the epoch.",
        )

    def _epoch_gate(self, node: cst.CSTNode) -> cst.If | None:
        """The ``if`` around ``node`` (in its function) whose test reads the epoch and
        nothing measured: ``if epoch % 10 == 0``, ``if self.current_epoch >= start``."""
        child = node
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.For, cst.While)):
                return None
            if isinstance(ancestor, cst.If) and child is ancestor.body:
                names = [n.rsplit(".", 1)[-1] for n in _read_names(ancestor.test)]
                epoch = [
                    n
                    for n in names
                    if is_progress_name(n) and any(is_epoch_word(w) for w in identifier_words(n))
                ]
                if epoch and not _calls_in(ancestor.test):
                    return ancestor
            child = ancestor
        return None

    def _check_increment(self, node: cst.Assign | cst.AugAssign) -> None:
        """``w = min(cap, w + epoch * k)`` once per batch: an epoch-sized step taken per batch."""
        if isinstance(node, cst.AugAssign):
            target = node.target
            increment = node.value
        else:
            target = node.targets[0].target
            increment = self._increment_of(node.value, target)
        if increment is None or not _epoch_sized(self.context, increment):
            return
        if not self._names_a_loss_weight(target):
            return
        if id(node) in self._reported or not self._persists(node, target):
            return
        answer = runs_per_batch(self.context, node)
        if not answer.per_batch or answer.confidence < Confidence.MEDIUM:
            return
        self._reported.add(id(node))
        name = self.context.snippet(target, 40)
        step = self.context.snippet(increment, 40)
        self.report(
            node,
            f"`{name}` grows by `{step}` each time this runs, once per batch "
            f"({answer.describe()}): the increment is sized by the epoch but added on every "
            "batch, so the weight ramps len(loader) times too fast and sits at its cap after a "
            "few batches. Update it once per epoch, or compute it in closed form from the epoch "
            f"(`{name} = min(cap, base + epoch * k)`).",
        )

    def _increment_of(self, value: cst.BaseExpression, target: cst.BaseExpression):
        """``k`` for ``target + k``, or for ``min(cap, target + k)``."""
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value == "min"
        ):
            for arg in value.args:
                found = self._increment_of(arg.value, target)
                if found is not None:
                    return found
            return None
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add):
            for mine, other in ((value.left, value.right), (value.right, value.left)):
                if self._holds(mine, target):
                    return other
        return None

    def _names_a_loss_weight(self, target: cst.BaseExpression) -> bool:
        """``beta_kl``, ``self.kl_weight``, ``weights["adv"]``; a learning rate is TL004's."""
        words = set(self._term_words(target))
        if isinstance(target, cst.Subscript):
            words |= set(self._term_words(target.value))
        if "lr" in words or {"learning", "rate"} <= words:
            return False
        return bool(words & _WEIGHT_WORDS)

    def _holds(self, factor: cst.BaseExpression, target: cst.BaseExpression) -> bool:
        """``factor`` reads ``target``, or (for an attribute or item) a local copied from it
        (``beta_max = cfg.beta``)."""
        place = place_of(target)
        if place is None:
            return False
        if place_of(factor) == place:
            return True
        if isinstance(factor, cst.Name) and not isinstance(target, cst.Name):
            values = assigned_values(self.context, factor)
            return bool(values) and all(place_of(value) == place for value in values)
        return False

    def _persists(self, node: cst.CSTNode, target: cst.BaseExpression) -> bool:
        """An attribute or item outlives the call; a local only the passes of a loop."""
        semantics = self.context.semantics
        fn = semantics.enclosing_function(node)
        if fn is not None and fn.name.value == "__init__":
            return False
        if isinstance(target, (cst.Attribute, cst.Subscript)):
            return True
        if not isinstance(target, cst.Name):
            return False
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
                return False
            if isinstance(ancestor, (cst.For, cst.While)):
                # Reset inside the loop (`w = base` before `w = w * ramp`): not carried over.
                assignments = [
                    small
                    for small in simple_statements(ancestor.body)
                    if any(
                        isinstance(t, cst.Name) and t.value == target.value
                        for t in assigned_targets(small)
                    )
                ]
                return len(assignments) == 1
        return False

    def _target_words(self, node: cst.CSTNode) -> tuple[str, ...]:
        statement = self.context.enclosing_statement(node)
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    return self._term_words(small.targets[0].target)
                if isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                    return self._term_words(small.target)
        return ()

    def _key_collection(self, node: cst.CSTNode):
        """The collection whose keys select this ramped product (`for k in RAMP_KEYS`)."""
        child = node
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
                return None
            candidates = []
            if isinstance(ancestor, (cst.For, cst.CompFor)):
                candidates.append(ancestor.iter)
            if isinstance(ancestor, (cst.If, cst.IfExp)) and child is ancestor.body:
                candidates.append(_membership_collection(ancestor.test))
            if isinstance(ancestor, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
                comp = ancestor.for_in
                while comp is not None:
                    candidates.append(comp.iter)
                    candidates.extend(_membership_collection(c.test) for c in comp.ifs)
                    comp = comp.inner_for_in
            for candidate in candidates:
                if candidate is None:
                    continue
                if _strings_of(self.context, candidate):
                    label = dotted_name(candidate) or "the ramped keys"
                    return candidate, f"`{label}`" if dotted_name(candidate) else label
            child = ancestor
        return None

    def _check_collection(self, expr, label: str, ramp_text: str | None) -> None:
        for element in _strings_of(self.context, expr):
            key = string_value(element)
            if key is None or id(element) in self._reported:
                continue
            if not self._is_primary_words(identifier_words(key)):
                continue
            self._reported.add(id(element))
            how = f"the ramp `{ramp_text}`" if ramp_text else "its warm-up ramp"
            self.report(
                element,
                f'"{key}" is in {label}, so {how} multiplies it and it is 0 at the start: the '
                "model gets no supervision from this primary term in the first epoch of each "
                "stage. Remove it from the ramped keys; ramp only the auxiliary terms.",
            )

    def _report_term(self, node, factor, ramp_text: str) -> None:
        if id(node) in self._reported:
            return
        self._reported.add(id(node))
        term = self.context.snippet(factor, 40)
        self.report(
            node,
            f"the primary loss term `{term}` is scaled by the warm-up ramp `{ramp_text}`, "
            "which is 0 at the start: the model gets no supervision in the first epoch (of each "
            "stage). Keep the primary term at full weight from step 0 and ramp only the "
            "auxiliary terms (or give the ramp a floor, e.g. `max(0.1, ...)`).",
        )


def _flatten_product(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
        return _flatten_product(expr.left) + _flatten_product(expr.right)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
        return _flatten_product(expr.left)
    return [expr]


# A factor this close to 1 is sized for a per-step schedule.
_PER_STEP_SLACK = 0.01


def _read_names(expr: cst.BaseExpression) -> list[str]:
    """Dotted names read in a condition (``self.current_epoch``, ``epoch``)."""
    from torchlint.walk import iter_children

    found = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.Attribute)):
            name = dotted_name(node)
            if name is not None:
                found.append(name)
                continue
        stack.extend(iter_children(node))
    return found


def _calls_in(expr: cst.BaseExpression) -> bool:
    """Whether a condition calls anything (``kl.mean() < target``: a measured value)."""
    from torchlint.walk import iter_children

    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call):
            return True
        stack.extend(iter_children(node))
    return False


def _epoch_sized(context, increment: cst.BaseExpression) -> bool:
    """``epoch * 0.015``, ``self.current_epoch * k``: proportional to the current epoch."""
    if not (
        isinstance(increment, cst.BinaryOperation) and isinstance(increment.operator, cst.Multiply)
    ):
        return False
    for counter, scale in (
        (increment.left, increment.right),
        (increment.right, increment.left),
    ):
        name = dotted_name(counter) if isinstance(counter, (cst.Name, cst.Attribute)) else None
        if name is None:
            continue
        last = name.rsplit(".", 1)[-1]
        if (
            is_progress_name(last)
            and any(is_epoch_word(w) for w in identifier_words(last))
            and constant_number(context, scale) is not None
        ):
            return True
    return False


def _membership_collection(test: cst.BaseExpression) -> cst.BaseExpression | None:
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        if isinstance(target.operator, cst.In):
            return target.comparator
    return None


def _strings_of(context, expr: cst.BaseExpression) -> list[cst.SimpleString]:
    """The string elements of a literal tuple/list/set/dict that ``expr`` holds."""
    for value in possible_values(context, expr, depth=2):
        if isinstance(value, (cst.Tuple, cst.List, cst.Set)):
            elements = [el.value for el in value.elements]
        elif isinstance(value, cst.Dict):
            elements = [el.key for el in value.elements if isinstance(el, cst.DictElement)]
        else:
            continue
        strings = [el for el in elements if isinstance(el, cst.SimpleString)]
        if strings and len(strings) == len(elements):
            return strings
    return []
