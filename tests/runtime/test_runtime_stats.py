"""Verdict logic: the rules that turn per-seed numbers into a verdict."""

from __future__ import annotations

import math

import pytest

from torchlint.runtime.stats import (
    CONFIRMED,
    DIFFERENCE,
    HIGHER_IS_WORSE,
    INCONCLUSIVE,
    LOWER_IS_WORSE,
    NOT_REPRODUCED,
    RATIO,
    Claim,
    decide,
    harm_effect,
    p_full_separation,
)


def claim(direction=HIGHER_IS_WORSE, compare=RATIO, threshold=1.1, kind="training"):
    return Claim("c", "text", "metric", direction, threshold, kind, compare)


def test_full_separation_with_threshold_is_confirmed():
    v = decide(claim(), [1.3, 1.25, 1.4, 1.35, 1.3], [1.0, 1.05, 1.1, 1.0, 1.02])
    assert v.verdict == CONFIRMED
    assert v.separated
    assert v.p_separation == pytest.approx(1 / 252)
    assert min(v.effects) >= 1.1


def test_no_difference_is_not_reproduced():
    v = decide(claim(), [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert v.verdict == NOT_REPRODUCED
    assert v.effects == (1.0, 1.0, 1.0)


def test_opposite_direction_is_not_reproduced():
    # The fixed arm is the worse one on every seed.
    v = decide(claim(), [1.0, 1.0, 1.0], [2.0, 2.1, 2.2])
    assert v.verdict == NOT_REPRODUCED
    assert "no seed has the buggy arm worse" in v.reason


def test_overlap_with_some_large_effects_is_inconclusive():
    v = decide(claim(), [1.5, 1.0, 2.0], [1.0, 1.2, 1.0])
    assert v.verdict == INCONCLUSIVE
    assert not v.separated


def test_separated_but_below_threshold_is_inconclusive():
    # Every buggy seed is worse, but one seed's ratio misses the stated threshold.
    v = decide(claim(threshold=1.2), [1.25, 1.5], [1.1, 1.0])
    assert v.separated
    assert v.verdict == INCONCLUSIVE


def test_cohens_d_trap_tiny_fixed_spread_is_not_confirmed():
    # Fixed arm with almost no spread: Cohen's d would be huge, but the effect is tiny.
    v = decide(claim(), [1.001, 1.002, 1.003], [1.0, 1.0, 1.0])
    assert v.verdict == NOT_REPRODUCED


def test_lower_is_worse_and_zero_denominator():
    assert harm_effect(0.0, 2e-5, LOWER_IS_WORSE, RATIO) == math.inf
    assert harm_effect(0.0, 0.0, LOWER_IS_WORSE, RATIO) == 1.0
    v = decide(claim(direction=LOWER_IS_WORSE, threshold=10, kind="probe"), [0.0], [2e-5])
    assert v.verdict == CONFIRMED
    assert "deterministic probe" in v.reason


def test_difference_compare():
    c = claim(compare=DIFFERENCE, threshold=1.0, kind="probe")
    assert decide(c, [1.0], [0.0]).verdict == CONFIRMED
    assert decide(c, [0.0], [0.0]).verdict == NOT_REPRODUCED


def test_nan_is_inconclusive():
    assert decide(claim(), [math.nan, 1.0], [1.0, 1.0]).verdict == INCONCLUSIVE


def test_claim_validation():
    with pytest.raises(ValueError):
        claim(threshold=1.0)
    with pytest.raises(ValueError):
        claim(direction="sideways")
    with pytest.raises(ValueError):
        decide(claim(), [1.0], [1.0, 2.0])


def test_p_full_separation():
    assert p_full_separation(5, 5) == pytest.approx(0.00397, abs=1e-5)
    assert p_full_separation(3, 3) == pytest.approx(0.05)


def test_training_claim_needs_three_seeds_to_be_confirmed():
    from torchlint.runtime.stats import MIN_TRAINING_SEEDS

    assert MIN_TRAINING_SEEDS == 3
    two = decide(claim(), [1.3, 1.4], [1.0, 1.05])
    assert two.verdict == INCONCLUSIVE and "at least 3 seeds" in two.reason
    assert decide(claim(), [1.3, 1.4, 1.35], [1.0, 1.05, 1.0]).verdict == CONFIRMED
    probe = Claim("p", "text", "metric", HIGHER_IS_WORSE, 0.5, "probe", DIFFERENCE)
    assert decide(probe, [1.0], [0.0]).verdict == CONFIRMED
