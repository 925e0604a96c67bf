"""Identifiers read as words: the vocabulary shared by rules, semantics and pre-filters.

Training code says what a value is in its names (``train_loader``,
``num_epochs``, ``w_reconstruction``, ``FocalLoss``).  These functions read
those words from plain strings; nothing here imports libcst, so the
pre-filters that decide whether a file needs a full parse can use exactly
the same vocabulary as the analyses that run after it.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SPLIT = re.compile(r"[^0-9A-Za-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@lru_cache(maxsize=8192)
def identifier_words(name: str) -> tuple[str, ...]:
    """Lower-case words of an identifier or key.

    ``w_reconstruction`` -> ``w``, ``reconstruction``; ``CrossEntropyLoss`` ->
    ``cross``, ``entropy``, ``loss``.
    """
    words = []
    for chunk in _SPLIT.split(name):
        if chunk:
            words.extend(part.lower() for part in _CAMEL.split(chunk) if part)
    return tuple(words)


def is_epoch_word(word: str) -> bool:
    """``epoch``, ``epochs``, ``nepochs``, ``ep``: a count of passes over the data."""
    return word.startswith("epoch") or word in ("ep", "nepoch", "nepochs", "epo")


# -- losses ------------------------------------------------------------

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
LOSS_WORDS = frozenset({"loss", "losses", "criterion", "criterions"})
# Functions that handle a loss value without computing one.
_NOT_A_LOSS_WORDS = frozenset(
    {
        "plot",
        "print",
        "save",
        "load",
        "record",
        "track",
        "show",
        "display",
        "visualize",
        "reset",
        "summary",
        "summarize",
        "report",
        "scale",
        "scaler",
        "history",
        "reduce",
        "gather",
        "sync",
        "log",
        "logging",
        "meter",
        "test",
        "is",
        "has",
    }
)
# Text a file must contain to hold a loss function (``is_loss_function`` above NONE):
# every spelling of the words above that ``name_words`` reads as a loss word, a
# ``_Loss`` base, or ``backward`` (a function whose result reaches it).
LOSS_TOKENS = tuple(sorted({word.lower() for word in LOSS_WORDS | {"backward"}}))
# Text a file must contain to hold differentiable code (``is_differentiable_context``
# above NONE): a ``forward`` or a loss function is the root of every such function.
DIFFERENTIABLE_TOKENS = ("forward", *LOSS_TOKENS)


# Calls whose receiver or argument is the value `.backward()` differentiates.
BACKWARD_CALLS = frozenset({"backward", "manual_backward"})


def name_words(name: str) -> list[str]:
    """Lower-case words of an identifier: ``FocalLoss`` -> ``focal``, ``loss``."""
    return [word.lower() for word in _WORDS.findall(name)]


def is_loss_name(name: str) -> bool:
    """Whether an identifier names a loss (``dice_loss``, ``criterion``, ``FocalLoss``)."""
    words = name_words(name)
    if not any(word in LOSS_WORDS for word in words):
        return False
    if words and words[0] == "log" and len(words) == 2:
        return True  # `log_loss` is the logistic loss
    return not any(word in _NOT_A_LOSS_WORDS for word in words)


# Functions that drive training or evaluation rather than compute the model.
_DRIVER_WORDS = frozenset(
    {
        "train",
        "training",
        "fit",
        "step",
        "validate",
        "validation",
        "val",
        "eval",
        "evaluate",
        "evaluation",
        "test",
        "predict",
        "inference",
        "infer",
        "generate",
        "sample",
        "checkpoint",
        "epoch",
        "main",
        "run",
        "log",
        "callback",
        "metric",
        "metrics",
        "update",
        "compute",
        "init",
        "setup",
        "benchmark",
        "export",
        "load",
        "save",
    }
)


def is_driver_name(name: str) -> bool:
    """Names of training loops, steps, evaluation and checkpoint code."""
    if name.startswith("__") and name.endswith("__") and name != "__call__":
        return True
    return any(word in _DRIVER_WORDS for word in name_words(name))


# -- training progress and ramps --------------------------------------------

_PROGRESS_WORDS = frozenset(
    {
        "step",
        "iter",
        "iteration",
        "it",
        "itr",
        "progress",
        "global",
        "updates",
        "update",
        "cur",
        "current",
        "niter",
    }
)
RAMP_FUNCTION_WORDS = frozenset({"ramp", "rampup", "warmup", "ramped"})
RAMP_COLLECTION_WORDS = frozenset(
    {"ramp", "ramped", "rampup", "warmup", "warm", "anneal", "annealed", "annealing"}
)


@lru_cache(maxsize=4096)
def is_progress_name(name: str) -> bool:
    """A counter of training progress: ``epoch``, ``global_step``, ``epoch_in_stage``, ``it``."""
    words = identifier_words(name)
    if any(is_epoch_word(w) for w in words):
        return True
    if words and words[-1] in ("warmup", "ramp", "rampup"):
        return False
    return bool(set(words) & _PROGRESS_WORDS) and not (set(words) & {"total", "max", "num"})


def is_ramp_collection_name(name: str) -> bool:
    """``RAMP_KEYS``, ``WARMUP_TERMS``, ``ramped_losses``: a collection of ramped terms."""
    return bool(set(identifier_words(name)) & RAMP_COLLECTION_WORDS)


# -- learning-rate schedulers ------------------------------------------------

# The classes of ``torch.optim.lr_scheduler``.
TORCH_SCHEDULERS = frozenset(
    {
        "StepLR",
        "MultiStepLR",
        "ExponentialLR",
        "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts",
        "ReduceLROnPlateau",
        "LambdaLR",
        "MultiplicativeLR",
        "PolynomialLR",
        "LinearLR",
        "ConstantLR",
        "OneCycleLR",
        "CyclicLR",
        "SequentialLR",
        "ChainedScheduler",
    }
)


# -- Python builtins ---------------------------------------------------------

# Builtins that return Python values (never a tensor), whatever they are given.
PYTHON_VALUE_BUILTINS = frozenset(
    [
        "len",
        "int",
        "float",
        "bool",
        "str",
        "isinstance",
        "issubclass",
        "range",
        "enumerate",
        "zip",
        "hasattr",
        "getattr",
        "type",
        "id",
        "print",
        "repr",
        "list",
        "tuple",
        "dict",
        "set",
        "sorted",
        "reversed",
        "callable",
        "any",
        "all",
        "format",
    ]
)
# Builtins that combine their arguments; on tensors they mostly handle sizes and counts.
NUMBER_BUILTINS = frozenset({"abs", "min", "max", "sum", "pow"})


# -- conditions and tensors ------------------------------------------------------

# Calls that count elements (`mask.sum() == 0` is an emptiness check).
COUNT_CALLS = frozenset({"sum", "numel", "nelement", "count_nonzero", "nonzero", "any", "all"})
# Calls that read a tensor back into Python (`loss.item() > best` still compares a tensor).
CONVERSION_CALLS = frozenset({"item", "tolist"})
# Calls and attributes that measure a size (`st < len(tokens)`, `n <= x.shape[1]`).
SIZE_CALLS = frozenset({"len", "size", "numel", "dim"})
# Signed location statistics: compared with zero they test a sign, not emptiness
# (a count, a norm or a std compared with zero is a zero guard).
SIGNED_MEASURE_CALLS = frozenset({"mean", "nanmean", "median"})
SIZE_ATTRIBUTES = frozenset({"shape", "ndim"})
# Attributes that are a view of their owner: a tensor's `.T` is a tensor.
VIEW_ATTRIBUTES = frozenset(
    {"T", "mT", "H", "mH", "data", "grad", "real", "imag", "values", "indices"}
)
# A loop over one of these yields Python integers (or tuples of them and the items).
INDEX_LOOP_CALLS = frozenset({"range", "enumerate", "zip"})


def is_count_name(name: str) -> bool:
    """``num_pos``, ``n_valid``, ``token_count``: a name that counts things; and
    ``avg_factor``, the count of positive samples a detection loss averages over."""
    name = name.lower()
    return (
        name.startswith(("num_", "n_", "count"))
        or name.endswith(("_count", "_num"))
        or name == "avg_factor"
    )


# A learning rate is named by one of these words, or by every word of a phrase.
LEARNING_RATE_WORDS = frozenset({"lr"})
LEARNING_RATE_PHRASES = (("learning", "rate"),)


def names_a_learning_rate(name: str) -> bool:
    """``lr``, ``base_lr``, ``self.learning_rate``'s last part: a learning rate."""
    words = identifier_words(name)
    return not LEARNING_RATE_WORDS.isdisjoint(words) or any(
        all(word in words for word in phrase) for phrase in LEARNING_RATE_PHRASES
    )
