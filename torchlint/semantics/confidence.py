"""How sure a semantic answer is: one scale for every analysis, 0 to 1.

A confidence is a float: 0 means known not to hold, 1 certain.  The tensor,
bound, loss and differentiability analyses answer in the named levels below;
the loop and scheduler analyses compute finer values on the same scale (about
0.9 for a loop over ``train_loader``, times 0.7 for a caller matched only by
name).  Each rule decides how much it needs (``>= Confidence.MEDIUM``, or a
threshold of its own such as 0.5).
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
    HIGH: ClassVar[Confidence]

    def __repr__(self) -> str:
        return f"Confidence({float(self)!r})"


Confidence.NONE = Confidence(0.0)
Confidence.LOW = Confidence(0.25)
Confidence.MEDIUM = Confidence(0.5)
Confidence.HIGH = Confidence(0.9)
