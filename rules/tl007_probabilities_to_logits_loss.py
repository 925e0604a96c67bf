"""TL007: softmax or sigmoid output fed to a loss that applies its own."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Fix, Invalid, Rule
from torchlint.semantics.callgraph import (
    call_sites,
    callee_function,
    find_method,
    module_held_by,
    resolve_callee,
)
from torchlint.semantics.conditions import condition_atoms
from torchlint.semantics.losses import backward_targets
from torchlint.semantics.modules import is_module_class, module_of_method
from torchlint.semantics.names import dotted_name
from torchlint.semantics.values import flow_of, lookup, possible_values, self_attribute
from torchlint.semantics.vocabulary import is_loss_name, name_words
from torchlint.syntax import SyntaxIndex, assignment_pairs, last_name

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------

# Losses that apply log-softmax (or log-sigmoid) to their input themselves, by the
# squashing function a caller must not apply first.  NLL expects log-probabilities:
# softmax probabilities are as wrong there (it needs `log_softmax`).
SOFTMAX_LOSS_FUNCTIONS = frozenset({"cross_entropy", "nll_loss"})
SOFTMAX_LOSS_MODULES = frozenset({"CrossEntropyLoss", "NLLLoss"})
SIGMOID_LOSS_FUNCTIONS = frozenset({"binary_cross_entropy_with_logits"})
SIGMOID_LOSS_MODULES = frozenset({"BCEWithLogitsLoss"})
SOFTMAX_NAMES = frozenset({"softmax", "Softmax"})
SIGMOID_NAMES = frozenset({"sigmoid", "Sigmoid", "expit"})


def _tl007_syntax(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A loss call of the family whose input may hold squashed output.

    Mirrors ``ProbabilitiesToLogitsLoss``: a finding needs a call of a loss that
    resolves to the family (a function, a held ``nn`` loss module) or is named
    like a loss, whose input (``_input_argument``) ``_probabilities`` follows to a
    squash.  That walk is mirrored flow-insensitively, by name over the whole
    file (:func:`_squash_reach`): through indexing, shape methods, names assigned
    such a value, squash calls (by name, or a held ``nn.Softmax``/``nn.Sigmoid``)
    and, when some ``forward`` of the file returns such a value on every path,
    any call of a model.
    """
    names = {last_name(call.func) for call in index.nodes(ast.Call)}
    # `from torch.nn.functional import softmax as sm`: the call is `sm(...)`.
    for node in index.nodes(ast.ImportFrom):
        names.update(alias.name for alias in node.names)
    if not names & (SOFTMAX_NAMES | SIGMOID_NAMES):
        return False
    family = SOFTMAX_LOSS_FUNCTIONS | SOFTMAX_LOSS_MODULES
    family |= SIGMOID_LOSS_FUNCTIONS | SIGMOID_LOSS_MODULES
    if not names & family and not any(name is not None and is_loss_name(name) for name in names):
        return False
    return _squash_reaches_a_loss(index)


def _local_names(index: SyntaxIndex, words: frozenset[str]) -> frozenset[str]:
    """``words`` and the local names ``from ... import word as local`` gives them."""
    found = set(words)
    for node in index.nodes(ast.ImportFrom):
        found.update(alias.asname for alias in node.names if alias.name in words and alias.asname)
    return frozenset(found)


def _squash_reaches_a_loss(index: SyntaxIndex) -> bool:
    squash_calls = _local_names(index, SOFTMAX_NAMES | SIGMOID_NAMES)
    squash_modules = _local_names(index, frozenset(_SQUASH_MODULES))
    loss_functions = _local_names(index, SOFTMAX_LOSS_FUNCTIONS | SIGMOID_LOSS_FUNCTIONS)
    loss_modules = _local_names(index, SOFTMAX_LOSS_MODULES | SIGMOID_LOSS_MODULES)
    # Every assignment, by the name (or `x.attr`) it writes: `lookup` bindings of
    # kind "assign" and `init_values`, over the whole file.
    pairs: list = []
    for node in index.nodes(ast.Assign):
        for target in node.targets:
            pairs.extend(assignment_pairs(target, node.value))
    for node in index.nodes(ast.AnnAssign):
        if node.value is not None:
            pairs.extend(assignment_pairs(node.target, node.value))
    by_name: dict[str, list] = {}
    by_attr: dict[str, list] = {}
    for target, value in pairs:
        if isinstance(target, ast.Name):
            by_name.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Attribute):
            by_attr.setdefault(target.attr, []).append(value)

    def holder_names(constructors: frozenset[str]) -> tuple[set, set]:
        """Names and attributes that may hold a module built by ``constructors``
        (``module_held_by``: a constructor call, through names and ``self.x``)."""
        names: set[str] = set()
        attrs: set[str] = set()

        def held(expr) -> bool:
            if isinstance(expr, ast.Call):
                return last_name(expr.func) in constructors
            if isinstance(expr, ast.Attribute):
                return expr.attr in attrs
            return isinstance(expr, ast.Name) and expr.id in names

        changed = True
        while changed:
            changed = False
            for target, value in pairs:
                if held(value):
                    if isinstance(target, ast.Name) and target.id not in names:
                        names.add(target.id)
                        changed = True
                    elif isinstance(target, ast.Attribute) and target.attr not in attrs:
                        attrs.add(target.attr)
                        changed = True
        return names, attrs

    squash_names, squash_attrs = holder_names(squash_modules)
    loss_names, loss_attrs = holder_names(loss_modules)

    def holds(func, constructors, names, attrs) -> bool:
        if isinstance(func, ast.Call):
            return last_name(func.func) in constructors
        if isinstance(func, ast.Attribute):
            return func.attr in attrs
        return isinstance(func, ast.Name) and func.id in names

    tainted: set[str] = set()
    model_call = [False]  # some `forward` returns squashed output on every path

    def probabilities(expr) -> bool:
        for _ in range(64):
            if isinstance(expr, ast.Subscript):
                expr = expr.value
            elif isinstance(expr, ast.Name):
                return expr.id in tainted
            elif not isinstance(expr, ast.Call):
                return False
            else:
                func = expr.func
                if last_name(func) in squash_calls:
                    return True
                if holds(func, squash_modules, squash_names, squash_attrs):
                    return True
                if model_call[0] and isinstance(func, (ast.Name, ast.Attribute, ast.Call)):
                    return True
                if isinstance(func, ast.Attribute) and func.attr in _SHAPE_METHODS:
                    expr = func.value
                else:
                    return False
        return True

    forwards = [
        node
        for node in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef)
        if node.name == "forward"
    ]
    forward_returns = [_returned_values(node) for node in forwards]
    changed = True
    while changed:
        changed = False
        for name, values in by_name.items():
            if name not in tainted and any(probabilities(value) for value in values):
                tainted.add(name)
                changed = True
        if not model_call[0]:
            for values in forward_returns:
                if values and all(
                    not isinstance(value, (ast.Tuple, ast.List, ast.Dict)) and probabilities(value)
                    for value in values
                ):
                    model_call[0] = True
                    changed = True
                    break

    for call in index.nodes(ast.Call):
        func = call.func
        if not (
            last_name(func) in loss_functions
            or holds(func, loss_modules, loss_names, loss_attrs)
            or (isinstance(func, ast.Name) and is_loss_name(func.id))
        ):
            continue
        inputs = [keyword.value for keyword in call.keywords if keyword.arg == "input"]
        if call.args and not isinstance(call.args[0], ast.Starred):
            inputs.append(call.args[0])
        if any(probabilities(value) for value in inputs):
            return True
    return False


def _returned_values(function) -> list:
    """The values ``function`` itself returns (nested functions and classes not entered)."""
    values = []
    stack = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            if node.value is not None:
                values.append(node.value)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                stack.append(child)
            elif isinstance(child, ast.excepthandler) or type(child).__name__ == "match_case":
                stack.extend(child.body)
    return values


PREFILTER = Prefilter(
    tokens=(
        text_tokens(SOFTMAX_NAMES, SIGMOID_NAMES),
        text_tokens(
            SOFTMAX_LOSS_FUNCTIONS,
            SOFTMAX_LOSS_MODULES,
            SIGMOID_LOSS_FUNCTIONS,
            SIGMOID_LOSS_MODULES,
            ["loss", "criterion"],
        ),
    ),
    syntax=_tl007_syntax,
)


# -- judgement ------------------------------------------------------------------

_LOSS_OF_FUNCTION = {
    **{f"torch.nn.functional.{name}": "softmax" for name in SOFTMAX_LOSS_FUNCTIONS},
    **{f"torch.nn.functional.{name}": "sigmoid" for name in SIGMOID_LOSS_FUNCTIONS},
}
_LOSS_OF_MODULE = {
    **{name: "softmax" for name in SOFTMAX_LOSS_MODULES},
    **{name: "sigmoid" for name in SIGMOID_LOSS_MODULES},
}
_SQUASH_FUNCTIONS = {
    "torch.softmax": "softmax",
    "torch.nn.functional.softmax": "softmax",
    "torch.special.softmax": "softmax",
    "torch.sigmoid": "sigmoid",
    "torch.nn.functional.sigmoid": "sigmoid",
    "torch.special.expit": "sigmoid",
}
_SQUASH_METHODS = {"softmax": "softmax", "sigmoid": "sigmoid"}
_SQUASH_MODULES = {"Softmax": "softmax", "Sigmoid": "sigmoid"}
# Tensor methods that keep what a value is (probabilities stay probabilities).
_SHAPE_METHODS = frozenset(
    {
        "view",
        "reshape",
        "squeeze",
        "unsqueeze",
        "permute",
        "transpose",
        "contiguous",
        "flatten",
        "float",
        "double",
        "clone",
        "to",
        "cuda",
        "cpu",
        "view_as",
        "reshape_as",
        "resize",
        "resize_as",
        "expand",
        "expand_as",
        "movedim",
        "swapaxes",
        "type",
        "half",
        "bfloat16",
    }
)
_LOSS_NAMES = {
    "softmax": "`CrossEntropyLoss`/`cross_entropy` (or `NLLLoss`/`nll_loss`)",
    "sigmoid": "`BCEWithLogitsLoss`/`binary_cross_entropy_with_logits`",
}
_MAX_DEPTH = 4


class ProbabilitiesToLogitsLoss(Rule):
    """
    ## What it does
    Flags probabilities fed to a loss that expects logits (or
    log-probabilities):

    - `softmax(...)` output given to `nn.CrossEntropyLoss`/`F.cross_entropy`
      (which apply log-softmax themselves) or to `nn.NLLLoss`/`F.nll_loss`
      (which expect `log_softmax`);
    - `sigmoid(...)` output given to `nn.BCEWithLogitsLoss`/
      `F.binary_cross_entropy_with_logits` (which apply log-sigmoid).

    The probabilities are followed through local names, shape methods
    (`.view`, `.squeeze`, `.resize`, indexing), the rows of a `for` loop
    over them and `nn.Softmax`/`nn.Sigmoid` modules, and through a model:
    when a module's `forward` returns softmax (or sigmoid) output on every
    path and code of the same file passes that model's output to such a loss
    (also a model's own training method calling `self(x)`,
    `self.__call__(x)` or `self.forward(x)`), the finding is on the
    `forward`'s squash. A loss held in `self.criterion` that a constructor
    parameter sets counts with that parameter's default
    (`criterion=nn.CrossEntropyLoss()`). A training function (or method) of
    the same file that passes a model's output to a loss it receives as an
    argument or through a setter (`loss_function(output, y)`,
    `self.loss_fn(output, y)`, no construction visible) counts for softmax,
    whose usual partner is cross-entropy.

    Not flagged: `log_softmax` with `NLLLoss` (or with cross-entropy, where
    it is harmless), softmax into MSE, KL or other consistency terms,
    `BCELoss` on sigmoid, a forward that returns logits on some path (the
    softmax only at inference, under `if not self.training:`), and a call
    in a branch chosen by a flag whose other branch passes the logits to the
    same loss (`--double_softmax`, an experiment's switch).

    ## Why is this bad?
    Cross-entropy computes `log_softmax` of its input. Given probabilities
    in [0, 1] it squashes them a second time: the effective logits differ by
    at most 1, so even a perfect prediction has a loss of at least
    `log(1 + (C - 1) / e)` (1.46 for 10 classes) instead of 0, the gradient
    reaching the logits is damped, and the logged loss no longer says how
    well the model fits. Reported cases describe slower training and worse
    accuracy; the reference pair below shows the loss floor but not an
    accuracy loss on an easy task. `nll_loss` on probabilities (not
    log-probabilities) has no log at all, so a wrong class with probability
    near 0 costs almost nothing more than one at 0.5. `BCEWithLogitsLoss` on
    a sigmoid output treats it as a logit in [0, 1], so its own prediction
    stays between 0.5 and 0.73. Nothing crashes and the loss does go down.

    ## Example
    ```python
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        probs = F.softmax(model(x), dim=1)
        loss = criterion(probs, y)
        loss.backward()
    ```

    ## Use instead
    ```python
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
    ```
    Return logits from `forward` and apply softmax only where probabilities
    are reported (metrics, inference). With `NLLLoss`, use `log_softmax`.

    The fix is **unsafe** and offered only where the squash is written
    inside the loss call: it removes the softmax/sigmoid (or, for NLL,
    turns `softmax` into `log_softmax`). It changes the loss values and the
    trained model (that is its purpose), the softmax's `dim` may not be the
    class dimension the loss assumes, and probabilities computed elsewhere
    (a model's `forward`, a variable used for metrics) need the author to
    decide where the logits should come from.

    ## Evidence
    Measured by `torchlint confirm TL007 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs; 10 overlapping Gaussian classes, MLP 32-64-10,
    400 Adam steps). Buggy (`cross_entropy(softmax(logits))`) vs fixed:

    - **Confirmed**: the training loss stays above its floor: 1.56-1.61 over the last 50
      steps (floor 1.46) vs 0.23-0.34, 4.8-6.8x higher.
    - **Not reproduced**: validation accuracy is the same (88.7-92.9% vs 88.9-92.5%) on this
      task.
    - **Not reproduced**: a lower confidence on the true class; it is *higher* (0.84-0.89 vs
      0.80-0.85): the double squash pushes the logits apart instead.

    **Real code**: over the 70 repositories of the real-code set (`torchlint check --select
    TL007`), 2 findings, 2 true: CaImAn's classifier whose `forward` returns `F.softmax`
    while `train()` feeds its output to the loss it is given (the labelled row o02; the
    notebook that calls it passes `nn.CrossEntropyLoss`), and a PyTorch Lightning test that
    computes `F.cross_entropy(F.softmax(x, dim=1), y)`. The look-alike l40
    (self-ensemble-visual-domain-adapt's `--double_softmax` experiment switch) stays quiet.

    **Held-out check** (code the rule was not built on). Recall: 16 upstream-reported
    bugs tried, 4 found before this check and 7 after. Found: midas-research/man-sf-emnlp
    issue #2 (`F.nll_loss(F.softmax(output))`), lansinuote/Huggingface_Toturials issue #6
    (three notebooks whose `forward` returns `out.softmax(dim=1)`), bkitano/llama-from-scratch
    issue #5 (`F.cross_entropy` on `F.softmax` in `forward`), MicrosoftDocs/ml-basics issue
    #48 (a notebook's `forward` returns `torch.softmax`); and, after this check,
    nishnik/Deep-Semantic-Similarity-Model-PyTorch issue #2 (the output reaches the loss
    through `y_pred.resize(...)`), mlelarge/graph_neural_net PR #37 (a loss module given as
    a constructor default, applied to each row of `torch.softmax` output in a loop) and
    AnubhavGupta3377/Text-Classification-Models-Pytorch issue #9 (models whose `run_epoch`
    calls `self.__call__(x)` and a loss handed to `add_loss_op`; 4 files). Missed, out of
    scope: the model and the loss in different files (IBM/dstc-noesis issue #18,
    Turoad/lanedet issue #32, NaJaeMin92/pytorch-DANN issue #7, clvrai/ACGAN-PyTorch PR #4,
    meilfang/LMFD-PAD PR #1, the only sigmoid cases found), a framework choosing the loss
    (Yard1/ray-skorch PR #18: skorch's `criterion=nn.CrossEntropyLoss`; NVIDIA-Merlin/models
    PR #1175), softmax as the last layer of an `nn.Sequential` handed to a wrapper module
    (danielkelshaw/ConcreteDropout issue #11) and softmax written as
    `torch.exp(log_softmax(x))` (bowang-lab/Transformer-GCN-QA PR #32). Precision: over 25
    other repositories (pytorch_geometric, dgl, cogdl, ogb, fairseq, allennlp, deepchem,
    RecBole, DeepCTR-Torch and 16 smaller model zoos and tutorials) the rule reports
    nothing, before and after this check.
    """

    code = "TL007"
    name = "probabilities-to-logits-loss"
    summary = "softmax or sigmoid output fed to a loss that applies its own"
    fix_hint = "pass the logits (CrossEntropyLoss, BCEWithLogitsLoss) or log_softmax (NLLLoss)"
    fixable = "unsafe"
    prefilter = PREFILTER
    variants = {
        "nn.CrossEntropyLoss": [f"nn.{name}" for name in sorted(SOFTMAX_LOSS_MODULES)],
        "F.softmax": ["F.softmax", "torch.softmax"],
    }
    valid = [
        """
import torch.nn as nn
import torch.nn.functional as F

def train(model, loader, optimizer):
    criterion = nn.NLLLoss()
    for x, y in loader:
        loss = criterion(F.log_softmax(model(x), dim=1), y)
        loss.backward()
        optimizer.step()
""",
        """
import torch.nn as nn
import torch.nn.functional as F

def consistency(student_logits, teacher_logits):
    mse = nn.MSELoss()
    return mse(F.softmax(student_logits, dim=1), F.softmax(teacher_logits, dim=1))
""",
        """
import torch
import torch.nn as nn

def train(model, loader, optimizer):
    criterion = nn.BCELoss()
    for x, y in loader:
        loss = criterion(torch.sigmoid(model(x)), y)
        loss.backward()
""",
    ]
    invalid = [
        Invalid(
            """
import torch.nn as nn
import torch.nn.functional as F

def train(model, loader, optimizer):
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        probs = F.softmax(model(x), dim=1)
        loss = criterion(probs, y)
        loss.backward()
        optimizer.step()
""",
            line=9,
            message="`criterion` (`nn.CrossEntropyLoss`) receives `F.softmax(model(x), dim=1)`",
        ),
        Invalid(
            """
import torch.nn as nn
import torch.nn.functional as F

class Classifier(nn.Module):
    def forward(self, x):
        x = F.relu(self.fc1(x))
        return F.softmax(self.fc2(x), dim=1)

def train(model, loader, optimizer):
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
""",
            line=8,
            message="`Classifier.forward()` returns `F.softmax(self.fc2(x), dim=1)`",
        ),
    ]

    def leave_Module(self, original_node: cst.Module) -> None:
        reported: set = set()
        for call, scope in call_sites(self.context):
            if not call.args:
                continue
            family, loss_text = self._loss_family(call, scope)
            if family is None:
                continue
            argument = _input_argument(call)
            if argument is None:
                continue
            self._check(call, scope, argument, family, loss_text, reported)

    # -- which loss ---------------------------------------------------------

    def _loss_family(self, call: cst.Call, scope) -> tuple[str | None, str]:
        """``("softmax"|"sigmoid"|"unknown", text)`` for a loss of the family; None otherwise.

        ``unknown``: a loss-named callable whose construction the file does not
        show (a parameter), which counts only for a model's softmax output.
        """
        model = self.context.semantics
        qualified = model.qualified_name(call.func) or ""
        if qualified in _LOSS_OF_FUNCTION:
            return _LOSS_OF_FUNCTION[qualified], _short(qualified, "F.")
        held = module_held_by(self.context, call.func, scope)
        if held is not None:
            if held.kind == "torch_module" and held.qualified:
                last = held.qualified.rsplit(".", 1)[-1]
                if last in _LOSS_OF_MODULE:
                    return _LOSS_OF_MODULE[last], f"nn.{last}"
            return None, ""
        attr = self_attribute(call.func)
        if attr is not None and is_loss_name(attr):
            return self._attribute_loss(call.func)
        if isinstance(call.func, cst.Name) and is_loss_name(call.func.value):
            bindings, _ = lookup(self.context, call.func.value, scope)
            if bindings and all(binding.kind == "param" for binding in bindings):
                return "unknown", ""
        return None, ""

    def _attribute_loss(self, func: cst.Attribute) -> tuple[str | None, str]:
        """The family of a loss-named ``self.<attr>`` that ``__init__`` does not construct.

        Set from a parameter: its default (``criterion=nn.CrossEntropyLoss()``), or
        ``unknown`` when the file never says (``self.loss_fn = loss_fn`` in a setter).
        """
        model = self.context.semantics
        families = set()
        for value in possible_values(self.context, func):
            if isinstance(value, cst.Name):
                bindings = [
                    param
                    for fn in [model.enclosing_function(value)]
                    if fn is not None
                    for param in [*fn.params.params, *fn.params.kwonly_params]
                    if param.name.value == value.value
                ]
                if not bindings:
                    return None, ""
                families.add(("unknown", ""))
                continue
            if not isinstance(value, cst.Call):
                return None, ""
            qualified = model.qualified_name(value.func) or ""
            last = qualified.rsplit(".", 1)[-1]
            if not (qualified.startswith("torch.nn.") and last in _LOSS_OF_MODULE):
                return None, ""
            families.add((_LOSS_OF_MODULE[last], f"nn.{last}"))
        return families.pop() if len(families) == 1 else (None, "")

    # -- which input ----------------------------------------------------------

    def _check(self, call, scope, argument, family, loss_text, reported: set) -> None:
        found = self._probabilities(argument, scope, family, 0)
        if found is None:
            return
        squash, kind, forward = found
        if family == "unknown":
            if forward is None or kind != "softmax" or not self._trains(call):
                return
        elif kind != family:
            return
        if self._flag_branch(call, argument):
            return
        if squash in reported:
            return
        reported.add(squash)
        loss_name = dotted_name(call.func) or self.context.snippet(call.func, 30)
        what = f"`{loss_name}`"
        if loss_text and loss_text != loss_name:
            what += f" (`{loss_text}`)"
        squash_text = self.context.snippet(squash, 50, collapse_whitespace=True)
        nll = "NLL" in loss_text or "nll" in loss_text
        if family == "unknown":
            consequence = (
                "; if that loss is cross-entropy (the usual partner of softmax), it applies "
                "log-softmax again: the class scores are squashed twice, the loss cannot "
                "approach 0 and its gradient is damped; return logits from `forward` and apply "
                "softmax only for metrics and inference"
            )
        elif nll:
            consequence = (
                ", which expects log-probabilities: without the log a confidently wrong "
                "class costs almost nothing more than an unsure one; use `log_softmax` (or "
                "pass the logits to cross-entropy)"
            )
        elif kind == "softmax":
            consequence = (
                ", which applies log-softmax itself: the probabilities are squashed twice, "
                "the loss cannot approach 0 and its gradient is damped; pass the logits"
            )
        else:
            consequence = (
                ", which applies log-sigmoid itself: the probabilities are squashed twice, so "
                "the effective prediction stays between 0.5 and 0.73 and the loss cannot "
                "approach 0; pass the logits"
            )
        if forward is not None:
            owner = model_name(self.context, forward)
            caller = self.context.semantics.enclosing_function(call)
            where = f" in `{caller.name.value}()`" if caller is not None else ""
            self.report(
                squash,
                f"`{owner}.forward()` returns `{squash_text}`, and its output reaches "
                f"{what}{where}{consequence}",
            )
            return
        fix = None
        if _inside(self.context, squash, call) and family in ("softmax", "sigmoid"):
            fix = self._fix(squash, loss_text)
        self.report(
            call,
            f"{what} receives `{squash_text}`{consequence}",
            fix=fix,
        )

    def _probabilities(self, expr, scope, family, depth):
        """``(squash_call, kind, forward_or_None)`` when ``expr`` holds squashed output."""
        if depth > _MAX_DEPTH or scope is None:
            return None
        if isinstance(expr, cst.Subscript):
            return self._probabilities(expr.value, scope, family, depth + 1)
        if isinstance(expr, cst.Name):
            bindings, found_scope = lookup(self.context, expr.value, scope)
            # `for row in probs:` holds rows of `probs`, as `probs[i]` would.
            assigned = [b for b in bindings if b.kind in ("assign", "loop") and b.value is not None]
            if not assigned or len(assigned) != len(bindings):
                return None
            results = [
                self._probabilities(b.value, found_scope.at(b), family, depth + 1) for b in assigned
            ]
            if any(result is None for result in results):
                return None
            return results[-1]
        if not isinstance(expr, cst.Call):
            return None
        kind = self._squash_kind(expr, scope)
        if kind is not None:
            return expr, kind, None
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value in _SHAPE_METHODS:
            return self._probabilities(func.value, scope, family, depth + 1)
        forward = self._forward_of(expr, scope, family)
        if forward is not None:
            returned = self._returns_probabilities(forward)
            if returned is not None:
                return returned[0], returned[1], forward
        return None

    def _squash_kind(self, call: cst.Call, scope) -> str | None:
        model = self.context.semantics
        qualified = model.qualified_name(call.func) or ""
        if qualified in _SQUASH_FUNCTIONS:
            return _SQUASH_FUNCTIONS[qualified]
        func = call.func
        if _is_tensor_method(self.context, call):
            # `x.softmax(dim=1)`: a tensor method.
            return _SQUASH_METHODS[func.attr.value]
        held = module_held_by(self.context, func, scope)
        if held is not None and held.kind == "torch_module" and held.qualified:
            return _SQUASH_MODULES.get(held.qualified.rsplit(".", 1)[-1])
        return None

    def _forward_of(self, call: cst.Call, scope, family) -> cst.FunctionDef | None:
        """The ``forward`` a model call runs: a module of this file, ``self(x)``, or for a
        model passed in as an argument, the one module of the file whose forward squashes."""
        model = self.context.semantics
        func = call.func
        own = isinstance(func, cst.Name) and func.value == "self"
        own = own or self_attribute(func) in ("__call__", "forward")
        if own:
            cls = module_of_method(self.context, scope.flow.function)
            return _forward(self.context, cls) if cls is not None else None
        callee = resolve_callee(self.context, call, scope)
        if callee.kind == "module":
            fn = callee_function(self.context, callee)
            return fn if fn is not None and fn.name.value == "forward" else None
        if callee.kind != "unknown" or not isinstance(func, cst.Name):
            return None
        bindings, _ = lookup(self.context, func.value, scope)
        if not bindings or not all(binding.kind == "param" for binding in bindings):
            return None
        if not ({"model", "net", "network", "classifier"} & set(name_words(func.value))):
            return None
        candidates = [
            forward
            for cls in model.classes.values()
            if is_module_class(self.context, cls)
            for forward in [_forward(self.context, cls)]
            if forward is not None
            and (self._returns_probabilities(forward) or (None, None))[1] == "softmax"
        ]
        return candidates[0] if len(candidates) == 1 else None

    def _returns_probabilities(self, forward: cst.FunctionDef):
        """``(squash, kind)`` when every value ``forward`` returns is squashed output."""
        model = self.context.semantics
        key = ("tl007.returns", forward)
        if key in model.cache:
            return model.cache[key]
        model.cache[key] = None  # recursion guard
        found = []
        for statement, scope in flow_of(self.context, forward).returns:
            value = statement.value
            if value is None:
                continue
            if isinstance(value, (cst.Tuple, cst.List, cst.Dict)):
                found = []
                break
            result = self._probabilities(value, scope, None, 1)
            if result is None:
                found = []
                break
            found.append(result)
        answer = (found[-1][0], found[-1][1]) if found else None
        model.cache[key] = answer
        return answer

    # -- quiet cases and helpers --------------------------------------------

    def _trains(self, call: cst.Call) -> bool:
        """The loss call sits in a function that calls ``.backward()``."""
        model = self.context.semantics
        fn = model.enclosing_function(call)
        for other, _ in call_sites(self.context):
            if backward_targets(other) and model.enclosing_function(other) is fn:
                return True
        return False

    def _flag_branch(self, call: cst.Call, argument) -> bool:
        """``if double_softmax: loss(probs) else: loss(logits)``: a chosen experiment."""
        child: cst.CSTNode = call
        callee = dotted_name(call.func)
        for ancestor in self.context.ancestors(call):
            if isinstance(ancestor, cst.FunctionDef):
                return False
            if isinstance(ancestor, cst.If) and _is_flag_test(ancestor.test):
                other = ancestor.orelse if child is ancestor.body else ancestor.body
                if other is not None and callee is not None and _calls(other, callee):
                    return True
            child = ancestor
        return False

    def _fix(self, squash: cst.Call, loss_text: str) -> Fix | None:
        """Unwrap ``softmax(x, dim)``/``x.softmax(dim)`` to ``x`` (NLL: ``log_softmax``)."""
        nll = "NLL" in loss_text or "nll" in loss_text
        func = squash.func
        if nll:
            if isinstance(func, cst.Attribute) and func.attr.value == "softmax":
                renamed = squash.with_changes(func=func.with_changes(attr=cst.Name("log_softmax")))
                return Fix(renamed, safe=False, message="Use `log_softmax`", target=squash)
            if isinstance(func, cst.Name) and func.value == "softmax":
                return None  # a bare imported name: `log_softmax` may not be imported
            return None
        if _is_tensor_method(self.context, squash):
            inner = func.value
        else:
            positional = [arg for arg in squash.args if arg.keyword is None and not arg.star]
            if not positional:
                return None
            inner = positional[0].value
        return Fix(inner, safe=False, message="Pass the logits (remove the squash)", target=squash)


def model_name(context, forward: cst.FunctionDef) -> str:
    """``Classifier`` for ``Classifier.forward``."""
    cls = context.semantics.class_of_method(forward)
    return cls.name.value if cls is not None else forward.name.value


def _forward(context, cls: cst.ClassDef) -> cst.FunctionDef | None:
    return find_method(context, cls, "forward")


def _is_tensor_method(context, call: cst.Call) -> bool:
    func = call.func
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value in _SQUASH_METHODS
        and context.semantics.qualified_name(func) is None
        and not _is_module_path(func)
    )


def _is_module_path(func: cst.Attribute) -> bool:
    """``F.softmax`` or ``torch.softmax`` with the module not imported under that name."""
    name = dotted_name(func.value)
    return name is not None and name.split(".", 1)[0] in ("F", "torch", "nn", "functional")


def _input_argument(call: cst.Call) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "input":
            return arg.value
    first = call.args[0]
    if first.keyword is None and not first.star:
        return first.value
    return None


def _short(qualified: str, prefix: str) -> str:
    return prefix + qualified.rsplit(".", 1)[-1]


def _inside(context, node: cst.CSTNode, container: cst.CSTNode) -> bool:
    return any(ancestor is container for ancestor in context.ancestors(node))


def _is_flag_test(test: cst.BaseExpression) -> bool:
    """A plain switch: a name or attribute, possibly negated (``args.double_softmax``)."""
    atoms = list(condition_atoms(test))
    return len(atoms) == 1 and dotted_name(atoms[0]) is not None


def _calls(block: cst.CSTNode, callee: str) -> bool:
    found = False

    class _Finder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            if dotted_name(node.func) == callee:
                found = True

    block.visit(_Finder())
    return found
