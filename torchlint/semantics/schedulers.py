"""PyTorch learning-rate schedulers: which object a ``.step()`` steps, and its time unit.

``scheduler_constructions(context, receiver)`` follows the receiver of a
``.step()`` call (``scheduler``, ``self.lr_scheduler``, a parameter, a tuple
element returned by a builder, Lightning's ``self.lr_schedulers()``) back to
the ``torch.optim.lr_scheduler`` constructors it may hold.  Anything else
named ``*scheduler`` (a diffusers noise scheduler, a timm or HF scheduler)
is not a torch LR scheduler and yields nothing.

``classify_scheduler(context, call)`` says whether the schedule is counted
in epochs: ``StepLR(step_size=30)`` is, ``StepLR(step_size=30 * len(loader))``
and ``StepLR(step_size=5000)`` are counted in steps, ``OneCycleLR`` and
``CyclicLR`` always are, ``ExponentialLR`` with ``gamma >= 0.99`` is sized for
per-step decay, ``LambdaLR`` is per-epoch only when its lambda reads an
epoch (``lambda epoch: 0.95 ** epoch``) and no warm-up or step count.
"""

from __future__ import annotations

from dataclasses import dataclass

from torchlint.context import FileContext
from torchlint.lazy import lazy_module
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.names import dotted_name
from torchlint.semantics.values import constant_number, function_returns, possible_values
from torchlint.semantics.vocabulary import TORCH_SCHEDULERS, identifier_words, is_epoch_word
from torchlint.semantics.words import expression_words
from torchlint.walk import iter_children

cst = lazy_module("libcst", globals(), "cst")

# A period this long is counted in optimizer steps: nobody decays every 500 epochs.
STEP_COUNT_THRESHOLD = 500
# Factors this close to 1 are sized for per-step decay.
PER_STEP_FACTOR = 0.99

_STEP_UNIT_WORDS = frozenset(
    {
        "iter",
        "iters",
        "iteration",
        "iterations",
        "itr",
        "niter",
        "niters",
        "updates",
        "batches",
        "nbatches",
        "len",
    }
)
_STEPS_QUALIFIERS = frozenset({"num", "total", "max", "decay", "train", "training", "per", "n"})


@dataclass(frozen=True)
class SchedulerKind:
    """A torch LR scheduler construction and whether its schedule counts epochs."""

    name: str
    per_epoch: bool
    confidence: float
    reason: str
    construction: cst.Call


def torch_scheduler_name(context: FileContext, call: cst.Call) -> str | None:
    """``StepLR`` when ``call`` constructs a ``torch.optim.lr_scheduler`` class."""
    qualified = context.semantics.qualified_name(call.func)
    dotted = dotted_name(call.func)
    name = qualified or dotted
    if name is None:
        return None
    last = name.rsplit(".", 1)[-1]
    if last not in TORCH_SCHEDULERS:
        return None
    foreign = not (qualified or "").startswith("torch.") and "lr_scheduler" not in (qualified or "")
    if qualified is not None and "." in qualified and foreign:
        return None
    return last


def scheduler_constructions(context: FileContext, receiver: cst.BaseExpression) -> list[cst.Call]:
    """Torch LR scheduler constructor calls that ``receiver`` may hold."""
    found = []
    for value in possible_values(context, receiver):
        if not isinstance(value, cst.Call):
            continue
        if torch_scheduler_name(context, value) is not None:
            found.append(value)
        elif _is_lightning_schedulers_call(value):
            found.extend(_configured_schedulers(context, value))
    return found


def _is_lightning_schedulers_call(call: cst.Call) -> bool:
    func = call.func
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == "lr_schedulers"
        and isinstance(func.value, cst.Name)
        and func.value.value == "self"
    )


def _configured_schedulers(context: FileContext, call: cst.Call) -> list[cst.Call]:
    """Schedulers built in the class's ``configure_optimizers`` (Lightning manual stepping)."""
    cls = context.semantics.enclosing_class(call)
    if cls is None:
        return []
    method = context.semantics.methods(cls).get("configure_optimizers")
    if method is None:
        return []
    found = []
    stack: list[cst.CSTNode] = [method.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call) and torch_scheduler_name(context, node) is not None:
            found.append(node)
        stack.extend(iter_children(node))
    return found


def argument(call: cst.Call, position: int, keyword: str) -> cst.BaseExpression | None:
    """The argument passed by ``keyword`` or at ``position`` (counting positional ones)."""
    positional = []
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg.value
        elif not arg.star:
            positional.append(arg.value)
    return positional[position] if position < len(positional) else None


def classify_scheduler(context: FileContext, call: cst.Call) -> SchedulerKind | None:
    """The time unit of a torch LR scheduler construction; None for other calls."""
    name = torch_scheduler_name(context, call)
    if name is None:
        return None
    key = ("schedulers.kind", call)
    cache = context.semantics.cache
    if key in cache:
        return cache[key]
    kind = _classify(context, call, name)
    cache[key] = kind
    return kind


def _classify(context: FileContext, call: cst.Call, name: str) -> SchedulerKind:
    def kind(per_epoch: bool, confidence: float, reason: str) -> SchedulerKind:
        return SchedulerKind(name, per_epoch, confidence, reason, call)

    if name == "ReduceLROnPlateau":
        return kind(
            True, Confidence.HIGH, "its `patience` counts calls to `step()`, meant to be epochs"
        )
    period_args = {
        "StepLR": (1, "step_size"),
        "MultiStepLR": (1, "milestones"),
        "CosineAnnealingLR": (1, "T_max"),
        "CosineAnnealingWarmRestarts": (1, "T_0"),
        "PolynomialLR": (1, "total_iters"),
    }
    if name in period_args:
        position, keyword = period_args[name]
        expr = argument(call, position, keyword)
        unit = period_unit(context, expr) if expr is not None else None
        text = f"{keyword}={_code(context, expr)}" if expr is not None else keyword
        if unit == "steps":
            return kind(False, Confidence.HIGH, f"`{text}` is counted in steps")
        if unit == "epochs":
            return kind(True, Confidence.HIGH, f"`{text}` is counted in epochs")
        if name in ("StepLR", "MultiStepLR"):
            # Almost every StepLR/MultiStepLR in the wild is sized in epochs.
            return kind(True, Confidence.LIKELY, f"`{text}` is presumably counted in epochs")
        return kind(False, Confidence.MEDIUM, f"the unit of `{text}` is unknown")
    if name == "ExponentialLR":
        gamma = argument(call, 1, "gamma")
        if gamma is None:
            return kind(False, Confidence.MEDIUM, "no gamma given")
        value = constant_number(context, gamma)
        if value is not None:
            if value >= PER_STEP_FACTOR:
                return kind(False, Confidence.HIGH, f"gamma={value:g} is sized for per-step decay")
            return kind(True, Confidence.HIGH, f"gamma={value:g} is a per-epoch decay")
        if _speaks_of_steps(expression_words(gamma)):
            return kind(False, Confidence.PROBABLE, "gamma is derived from a step count")
        return kind(
            True, Confidence.MODERATE, f"`gamma={_code(context, gamma)}` is presumably per epoch"
        )
    if name in ("LambdaLR", "MultiplicativeLR"):
        lr_lambda = argument(call, 1, "lr_lambda")
        if lr_lambda is None:
            return kind(False, Confidence.MEDIUM, "no lambda given")
        return _classify_lambda(context, lr_lambda, name, kind)
    return kind(False, Confidence.HIGH, "it is stepped per optimizer step by design")


def period_unit(context: FileContext, expr: cst.BaseExpression, depth: int = 2) -> str | None:
    """``"steps"`` or ``"epochs"`` for a scheduler period, or None when unknown."""
    numbers = _numbers(context, expr)
    if numbers:
        return "steps" if max(numbers) >= STEP_COUNT_THRESHOLD else "epochs"
    words = expression_words(expr)
    if _speaks_of_steps(words):
        return "steps"
    if any(is_epoch_word(w) for w in words):
        return "epochs"
    if depth > 0 and isinstance(expr, (cst.Name, cst.Attribute)):
        units = set()
        for value in possible_values(context, expr, depth=2):
            if value is not expr:
                units.add(period_unit(context, value, depth - 1))
        units.discard(None)
        if len(units) == 1:
            return units.pop()
    return None


def _numbers(context: FileContext, expr: cst.BaseExpression) -> list[float]:
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        values = [constant_number(context, el.value) for el in expr.elements]
        return [v for v in values if v is not None] if all(v is not None for v in values) else []
    value = constant_number(context, expr)
    return [] if value is None else [value]


def _speaks_of_steps(words: set[str]) -> bool:
    if words & _STEP_UNIT_WORDS:
        return True
    return "steps" in words and bool(words & _STEPS_QUALIFIERS)


def _classify_lambda(context, lr_lambda, name, kind) -> SchedulerKind:
    for value in possible_values(context, lr_lambda, depth=2):
        target = value
        if isinstance(value, cst.Name):
            target = context.semantics.functions.get(value.value)
        if isinstance(target, cst.Lambda):
            params = [p.name.value for p in target.params.params]
            bodies = [target.body]
        elif isinstance(target, cst.FunctionDef):
            params = [p.name.value for p in target.params.params]
            bodies = function_returns(context, target)
            bodies = [*bodies, target.body]
        else:
            continue
        if not params:
            continue
        parameter = params[0]
        words = set()
        for body in bodies:
            words |= expression_words(body)
        if name == "MultiplicativeLR":
            factors = [constant_number(context, body) for body in bodies[:1]]
            if factors and factors[0] is not None and factors[0] < PER_STEP_FACTOR:
                return kind(
                    True, Confidence.HIGH, f"it multiplies the LR by {factors[0]:g} on every step()"
                )
            return kind(False, Confidence.MODERATE, "its factor is not a constant decay")
        if _speaks_of_steps(words) or words & {"step", "warm", "warmup"}:
            return kind(False, Confidence.PROBABLE, "its lambda counts steps")
        param_is_epoch = any(is_epoch_word(w) for w in identifier_words(parameter))
        other_epoch_names = any(is_epoch_word(w) for w in words - set(identifier_words(parameter)))
        if other_epoch_names:
            # `lambda x: (1 - x / num_epochs) ** 0.9` reaches its end after num_epochs calls.
            return kind(True, Confidence.PROBABLE, "its lambda is scaled by an epoch count")
        if param_is_epoch and _decays_per_call(context, bodies, parameter):
            return kind(True, Confidence.PROBABLE, f"its lambda decays once per `{parameter}`")
        return kind(False, Confidence.MODERATE, "its lambda has no visible time unit")
    return kind(False, Confidence.MEDIUM, "its lambda is not visible")


def _decays_per_call(context, bodies, parameter: str) -> bool:
    """``0.95 ** epoch`` or ``0.1 ** (epoch // 30)``: a per-call decay."""
    for body in bodies:
        stack = [body]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Power):
                base = constant_number(context, node.left)
                exponent_names = {n.value for n in _names(node.right) if isinstance(n, cst.Name)}
                if base is not None and 0 < base < PER_STEP_FACTOR and parameter in exponent_names:
                    return True
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                continue
            stack.extend(iter_children(node))
    return False


def _names(expr):
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            yield node
        stack.extend(iter_children(node))


def _code(context: FileContext, node: cst.CSTNode | None) -> str:
    if node is None:
        return ""
    return context.snippet(node, 50)
