"""How sure a semantic answer is; each rule decides how much it needs."""

from __future__ import annotations

from enum import IntEnum


class Confidence(IntEnum):
    """Ordered degrees of belief: ``NONE`` (known not to hold) < LOW < MEDIUM < HIGH.

    ``bool(Confidence.NONE)`` is False, so an answer can be tested directly,
    but rules should compare against the level they need
    (``tensor_confidence(...) >= Confidence.MEDIUM``).
    """

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
