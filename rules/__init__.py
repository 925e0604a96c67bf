"""The rules of torchlint, one module per rule (installed as ``torchlint.rules``).

Adding a rule: write ``rules/tlNNN_<name>.py`` with one :class:`~torchlint.rule.Rule`
subclass, its fixtures in ``tests/fixtures/TLNNN/``, and add the class to ``RULES``.
"""

from __future__ import annotations

from torchlint.rules.tl001_sigmoid_after_residual import SigmoidAfterResidual
from torchlint.rules.tl002_tensor_condition_branch import TensorConditionBranch
from torchlint.rules.tl003_constant_loss_return import ConstantLossReturn
from torchlint.rules.tl004_lr_decay_per_batch import LrDecayPerBatch
from torchlint.rules.tl005_ramped_primary_loss import RampedPrimaryLoss
from torchlint.rules.tl006_epoch_scheduler_per_batch import EpochSchedulerPerBatch

RULES: list = [
    SigmoidAfterResidual,
    TensorConditionBranch,
    ConstantLossReturn,
    LrDecayPerBatch,
    RampedPrimaryLoss,
    EpochSchedulerPerBatch,
]
