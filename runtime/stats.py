"""Verdict logic: decide from per-seed numbers whether a claimed harm showed.

Pure Python on purpose (no torch): the rules that turn measurements into a
verdict must be testable, and readable, on their own.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CONFIRMED = "confirmed"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"

HIGHER_IS_WORSE = "higher_is_worse"
LOWER_IS_WORSE = "lower_is_worse"

RATIO = "ratio"
DIFFERENCE = "difference"


@dataclass(frozen=True)
class Claim:
    """One symptom a rule promises, and how the harness measures it.

    ``threshold`` is the effect size every seed must reach: for ``compare="ratio"``
    the per-seed ratio worse/better (``buggy/fixed`` when higher is worse), for
    ``compare="difference"`` the per-seed difference in the harmful direction.
    ``kind`` is ``"probe"`` (a deterministic check, one value per arm) or
    ``"training"`` (one value per seed and arm).
    """

    id: str
    text: str
    metric: str
    direction: str
    threshold: float
    kind: str
    compare: str = RATIO
    source: str = "rule"

    def __post_init__(self) -> None:
        if self.direction not in (HIGHER_IS_WORSE, LOWER_IS_WORSE):
            raise ValueError(f"claim {self.id}: unknown direction {self.direction!r}")
        if self.kind not in ("probe", "training"):
            raise ValueError(f"claim {self.id}: unknown kind {self.kind!r}")
        if self.compare not in (RATIO, DIFFERENCE):
            raise ValueError(f"claim {self.id}: unknown compare {self.compare!r}")
        if self.compare == RATIO and self.threshold <= 1.0:
            raise ValueError(f"claim {self.id}: a ratio threshold must exceed 1")
        if self.compare == DIFFERENCE and self.threshold <= 0.0:
            raise ValueError(f"claim {self.id}: a difference threshold must be positive")


@dataclass(frozen=True)
class Verdict:
    """The outcome for one claim: verdict, per-seed effects and why."""

    verdict: str
    effects: tuple[float, ...]
    separated: bool
    p_separation: float | None
    reason: str


def harm_effect(buggy: float, fixed: float, direction: str, compare: str) -> float:
    """How much worse ``buggy`` is than ``fixed`` for one seed.

    For ratios: worse over better, so 1.0 means no difference, above 1 means the
    buggy arm is worse; a zero in the denominator gives ``inf`` (or 1.0 when both
    are zero). For differences: the signed gap in the harmful direction.
    """
    if compare == DIFFERENCE:
        return buggy - fixed if direction == HIGHER_IS_WORSE else fixed - buggy
    worse, better = (buggy, fixed) if direction == HIGHER_IS_WORSE else (fixed, buggy)
    if better == 0.0:
        if worse == 0.0:
            return 1.0
        return math.inf if worse > 0 else -math.inf
    return worse / better


def p_full_separation(n_buggy: int, n_fixed: int) -> float:
    """Chance that every buggy value lands above every fixed one if the arms were equal.

    One-sided exact Mann-Whitney probability of the most extreme ordering:
    ``1 / C(n_buggy + n_fixed, n_buggy)``; 5 against 5 gives 1/252 = 0.004.
    """
    return 1.0 / math.comb(n_buggy + n_fixed, n_buggy)


def _worse(a: float, b: float, direction: str) -> bool:
    return a > b if direction == HIGHER_IS_WORSE else a < b


#: A training claim needs at least this many seeds per arm to be "confirmed": with
#: fewer, full separation happens by chance too often (2 against 2: p = 1/6).
MIN_TRAINING_SEEDS = 3


def decide(claim: Claim, buggy: Sequence[float], fixed: Sequence[float]) -> Verdict:
    """Verdict for one claim from paired per-seed values (same seed at the same index).

    - **confirmed**: every buggy value is worse than every fixed value and the
      smallest per-seed effect reaches ``claim.threshold`` (a training claim also
      needs at least ``MIN_TRAINING_SEEDS`` seeds per arm);
    - **not reproduced**: no seed reaches the threshold (the harm is absent, too
      small to matter, or points the other way);
    - **inconclusive**: anything in between (some seeds show it, some do not).

    With one value per arm (a deterministic probe) the separation test degenerates
    to a single comparison; the reason says so.
    """
    if len(buggy) != len(fixed) or not buggy:
        raise ValueError("buggy and fixed need the same, non-zero number of values")
    if any(math.isnan(v) for v in (*buggy, *fixed)):
        return Verdict(INCONCLUSIVE, (), False, None, "a measurement was NaN")
    effects = tuple(harm_effect(b, f, claim.direction, claim.compare) for b, f in zip(buggy, fixed))
    separated = all(_worse(b, f, claim.direction) for b in buggy for f in fixed)
    n = len(buggy)
    p = p_full_separation(n, n) if n > 1 else None
    unit = "x" if claim.compare == RATIO else ""
    smallest, largest = min(effects), max(effects)
    if math.isinf(smallest) and math.isinf(largest):
        unit = ""
    if n == 1:
        what = f"deterministic probe, one value per arm: effect {fmt(smallest)}{unit}"
    else:
        what = f"{n} seeds, per-seed effect {fmt(smallest)}{unit}..{fmt(largest)}{unit}"
    bar = f"threshold {fmt(claim.threshold)}{unit}"
    if separated and smallest >= claim.threshold:
        if claim.kind == "training" and n < MIN_TRAINING_SEEDS:
            return Verdict(
                INCONCLUSIVE,
                effects,
                separated,
                p,
                f"{what} >= {bar}, but a training claim needs at least"
                f" {MIN_TRAINING_SEEDS} seeds per arm to be confirmed (got {n})",
            )
        sep = "" if n == 1 else f", every buggy seed worse than every fixed seed (p={p:.3g})"
        return Verdict(CONFIRMED, effects, separated, p, f"{what} >= {bar}{sep}")
    if largest < claim.threshold:
        if largest <= (1.0 if claim.compare == RATIO else 0.0):
            why = "no seed has the buggy arm worse"
        else:
            why = f"no seed reaches the {bar}"
        return Verdict(NOT_REPRODUCED, effects, separated, p, f"{what}; {why}")
    why = "the arms overlap" if not separated else f"the smallest effect misses the {bar}"
    return Verdict(INCONCLUSIVE, effects, separated, p, f"{what}; {why}")


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), min and max."""
    vals = list(values)
    return {
        "mean": statistics.fmean(vals) if all(math.isfinite(v) for v in vals) else math.nan,
        "std": statistics.stdev(vals) if len(vals) > 1 and all(map(math.isfinite, vals)) else 0.0,
        "min": min(vals),
        "max": max(vals),
    }


def fmt(value: float) -> str:
    """A number short enough for a table cell, keeping tiny and huge values readable."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    mag = abs(value)
    if mag >= 1e5 or mag < 1e-3:
        return f"{value:.3g}"
    if mag >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}"
