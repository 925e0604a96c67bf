"""classify_scheduler: the time unit of torch LR schedulers; TL005's configurable names."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from torchlint.context import FileContext
from torchlint.engine import RuleSelection, check_source
from torchlint.registry import rules_by_code
from torchlint.semantics.schedulers import classify_scheduler
from torchlint.walk import Walker


def _kind(construction: str, prelude: str = ""):
    source = (
        "import torch\nfrom torch.optim import lr_scheduler\n"
        + textwrap.dedent(prelude)
        + f"\nscheduler = {construction}\n"
    )
    module = cst.parse_module(source)
    context = FileContext("example.py", source, module)
    Walker({}, {}, context.parents, lambda *args: None).walk(module)
    call = module.body[-1].body[0].value
    return classify_scheduler(context, call)


EPOCH_BASED = [
    "lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)",
    "lr_scheduler.MultiStepLR(opt, milestones=[30, 60])",
    "torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)",
    "lr_scheduler.CosineAnnealingLR(opt, T_max=num_epochs)",
    "lr_scheduler.ReduceLROnPlateau(opt, patience=5)",
    "lr_scheduler.LambdaLR(opt, lambda epoch: 0.95 ** epoch)",
    "lr_scheduler.LambdaLR(opt, lambda x: (1 - x / num_epochs) ** 0.9)",
    "lr_scheduler.MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.95)",
]
PER_STEP = [
    "lr_scheduler.StepLR(opt, step_size=30 * len(train_loader))",
    "lr_scheduler.StepLR(opt, step_size=20000)",
    "lr_scheduler.MultiStepLR(opt, milestones=[60000, 80000])",
    "torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9999)",
    "lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)",
    "lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)",
    "lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=1000)",
    "lr_scheduler.CyclicLR(opt, 1e-4, 1e-2)",
    "lr_scheduler.LambdaLR(opt, lambda step: min(1.0, step / warmup_steps))",
    "lr_scheduler.LambdaLR(opt, lambda epoch: epoch ** 0.65)",
]


@pytest.mark.parametrize("construction", EPOCH_BASED)
def test_epoch_based(construction: str) -> None:
    kind = _kind(construction)
    assert kind is not None and kind.per_epoch, kind


@pytest.mark.parametrize("construction", PER_STEP)
def test_per_step(construction: str) -> None:
    kind = _kind(construction)
    assert kind is not None and not kind.per_epoch, kind


def test_argparse_default_decides_the_unit() -> None:
    prelude = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--decay-steps", type=int, default=50000)
parser.add_argument("--step-size", type=int, default=7)
args = parser.parse_args()
"""
    assert not _kind("lr_scheduler.StepLR(opt, step_size=args.decay_steps)", prelude).per_epoch
    assert _kind("lr_scheduler.StepLR(opt, step_size=args.step_size)", prelude).per_epoch


def test_non_torch_schedulers_are_not_classified() -> None:
    assert _kind("DDPMScheduler(num_train_timesteps=1000)") is None
    assert _kind("get_linear_schedule_with_warmup(opt, 100, 1000)") is None


RAMPED_PIXEL_LOSS = """
def loss_fn(pred, target, epoch, warmup=10):
    pixel_loss = (pred - target).abs().mean()
    return min(1.0, epoch / warmup) * pixel_loss
"""


def test_primary_loss_names_are_configurable() -> None:
    rule = rules_by_code()["TL005"]
    default = check_source(RAMPED_PIXEL_LOSS, "ex.py", RuleSelection((rule,), {}))
    assert not default
    configured = check_source(
        RAMPED_PIXEL_LOSS,
        "ex.py",
        RuleSelection((rule,), {"TL005": {"primary-loss-names": ["pixel"]}}),
    )
    assert [d.code for d in configured] == ["TL005"]
