"""The rules of torchlint, one module per rule (installed as ``torchlint.rules``).

Adding a rule: write ``rules/tlNNN_<name>.py`` with one :class:`~torchlint.rule.Rule`
subclass, its fixtures in ``tests/fixtures/TLNNN/``, its pre-filter in
``rules/prefilters.py`` (text tokens and, where it pays, an ``ast`` test that
mirrors the rule's first steps), and add a line to ``RULE_INDEX``.

The index names each rule and its pre-filter without importing the rule:
a run whose files are all answered by the cache, or rejected by the
pre-filters, never imports libcst or a rule module
(``tests/test_rule_definitions.py`` checks the index against the classes).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from torchlint.prefilter import Prefilter
from torchlint.rules import prefilters


class RuleEntry(NamedTuple):
    """What is known of a rule before its module is imported."""

    code: str
    name: str
    default_enabled: bool
    module: str
    class_name: str
    prefilter: Prefilter

    def load(self):
        """The rule class (imports its module)."""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.class_name)


RULE_INDEX: tuple[RuleEntry, ...] = (
    RuleEntry(
        "TL001",
        "sigmoid-after-residual",
        True,
        "tl001_sigmoid_after_residual",
        "SigmoidAfterResidual",
        prefilters.TL001,
    ),
    RuleEntry(
        "TL002",
        "tensor-condition-branch",
        True,
        "tl002_tensor_condition_branch",
        "TensorConditionBranch",
        prefilters.TL002,
    ),
    RuleEntry(
        "TL003",
        "constant-loss-return",
        True,
        "tl003_constant_loss_return",
        "ConstantLossReturn",
        prefilters.TL003,
    ),
    RuleEntry(
        "TL004",
        "lr-decay-per-batch",
        True,
        "tl004_lr_decay_per_batch",
        "LrDecayPerBatch",
        prefilters.TL004,
    ),
    RuleEntry(
        "TL005",
        "ramped-primary-loss",
        True,
        "tl005_ramped_primary_loss",
        "RampedPrimaryLoss",
        prefilters.TL005,
    ),
    RuleEntry(
        "TL006",
        "epoch-scheduler-per-batch",
        True,
        "tl006_epoch_scheduler_per_batch",
        "EpochSchedulerPerBatch",
        prefilters.TL006,
    ),
)
