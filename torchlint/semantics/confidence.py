"""How sure a semantic answer is: one scale for every analysis, 0 to 1.

A confidence is a float: 0 means known not to hold, 1 certain.  The tensor,
bound, loss and differentiability analyses answer in the named levels below;
the loop and scheduler analyses use the finer named steps between MEDIUM and
HIGH and multiply them along a chain (``Confidence.HIGH`` for a loop over
``train_loader``, times ``Confidence.LIKELY`` for a caller matched only by
name).  Each rule decides how much it needs (``>= Confidence.MEDIUM``).  No
analysis writes a bare number: every level is named here.
"""

from __future__ import annotations

from typing import ClassVar


class Confidence(float):
    """A degree of belief in [0, 1]; ``NONE`` < ``LOW`` < ``MEDIUM`` < ``HIGH`` name levels.

    ``bool(Confidence.NONE)`` is False, so an answer can be tested directly,
    but rules should compare against the level they need
    (``tensor_confidence(...) >= Confidence.MEDIUM``).
    """

    NONE: ClassVar[Confidence]
    LOW: ClassVar[Confidence]
    MEDIUM: ClassVar[Confidence]
    MODERATE: ClassVar[Confidence]
    FAIR: ClassVar[Confidence]
    LIKELY: ClassVar[Confidence]
    PROBABLE: ClassVar[Confidence]
    STRONG: ClassVar[Confidence]
    HIGH: ClassVar[Confidence]
    VERY_HIGH: ClassVar[Confidence]

    def __repr__(self) -> str:
        return f"Confidence({float(self)!r})"


Confidence.NONE = Confidence(0.0)
Confidence.LOW = Confidence(0.25)
Confidence.MEDIUM = Confidence(0.5)
# Finer steps between MEDIUM and HIGH, for the loop, scheduler and call-match
# answers, which weigh several kinds of evidence.
Confidence.MODERATE = Confidence(0.6)
Confidence.FAIR = Confidence(0.65)
Confidence.LIKELY = Confidence(0.7)
Confidence.PROBABLE = Confidence(0.8)
Confidence.STRONG = Confidence(0.85)
Confidence.HIGH = Confidence(0.9)
Confidence.VERY_HIGH = Confidence(0.95)
