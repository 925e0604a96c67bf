"""TL006 epoch-scheduler-per-batch: an epoch-based scheduler's ``.step()`` called
every batch.

Task: regress 4 targets from 8 features with an MLP, Adam lr 3e-3 and
``StepLR(step_size=3, gamma=0.1)`` meant as "divide by 10 every 3 epochs", for
8 epochs (5 with ``--quick``) of 40 batches. The buggy loop calls
``scheduler.step()`` inside the batch loop, the fixed loop once per epoch.
"""

from __future__ import annotations

from torchlint.runtime.reference_common import generator, mlp, twin
from torchlint.runtime.stats import HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL006"
NAME = "epoch-scheduler-per-batch"
TASK = (
    "8 features -> 4 targets (MLP 8-32-4), Adam lr 3e-3, StepLR(step_size=3, gamma=0.1),"
    " 40 batches of 32 per epoch"
)
BUGGY_CODE = "for xb, yb in loader:\n    ...\n    opt.step()\n    scheduler.step()"
FIXED_CODE = "for xb, yb in loader:\n    ...\n    opt.step()\nscheduler.step()"

CLAIMS = (
    Claim(
        id="lr-collapse",
        text="after one epoch the learning rate has been decayed once per batch",
        metric="learning rate after the first epoch",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="probe",
    ),
    Claim(
        id="worse-loss",
        text="the model ends training with a higher validation error",
        metric="validation MSE after the last epoch",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
)

BATCHES, BATCH = 40, 32


def train(torch, model, opt, scheduler, loader, epochs, variant):
    """Train ``epochs`` epochs; ``variant`` says where ``scheduler.step()`` sits."""
    lrs = []
    for _epoch in range(epochs):
        for xb, yb in loader:
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if variant == "buggy":
                scheduler.step()
        if variant == "fixed":
            scheduler.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def _data(torch, seed, n):
    g = generator(torch, seed, salt=61)
    w = torch.randn(8, 4, generator=g)
    x = torch.randn(n, 8, generator=g)
    return x, torch.tanh(x @ w / 8**0.5) + 0.5 * torch.sin(x[:, :4])


def _lr_after_one_epoch(torch, make_scheduler, per_batch: bool) -> float:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=3e-3)
    sched = make_scheduler(opt)
    for _ in range(BATCHES if per_batch else 1):
        opt.step()
        sched.step()
    return opt.param_groups[0]["lr"]


def run(ctx) -> None:
    """Per seed: the same weights and batches, scheduler stepped per batch vs per epoch."""
    torch = ctx.torch
    dev = ctx.device
    epochs = ctx.steps(8, 5)
    ctx.plan(2 * len(ctx.seeds))
    lr1 = {"buggy": [], "fixed": []}
    val = {"buggy": [], "fixed": []}
    for seed in ctx.seeds:
        x, y = (t.to(dev) for t in _data(torch, seed, BATCHES * BATCH + 1024))
        loader = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, BATCHES * BATCH, BATCH)]
        xv, yv = x[BATCHES * BATCH :], y[BATCHES * BATCH :]
        init = mlp(torch, [8, 32, 4], seed).to(dev)
        for arm in ("buggy", "fixed"):
            model = twin(init)
            opt = torch.optim.Adam(model.parameters(), lr=3e-3)
            scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
            lrs = train(torch, model, opt, scheduler, loader, epochs, arm)
            lr1[arm].append(lrs[0])
            with torch.no_grad():
                val[arm].append(float(torch.nn.functional.mse_loss(model(xv), yv)))
            ctx.curve("learning rate per epoch", arm, lrs)
            ctx.tick()

    sched = torch.optim.lr_scheduler
    others = {
        "MultiStepLR(milestones=[3, 6], gamma=0.1)": lambda o: sched.MultiStepLR(o, [3, 6], 0.1),
        "ExponentialLR(gamma=0.9)": lambda o: sched.ExponentialLR(o, 0.9),
    }
    for label, make in others.items():
        ctx.note(
            f"{label}, lr 3e-3, {BATCHES} batches: lr after one epoch"
            f" {_lr_after_one_epoch(torch, make, True):.3g} stepped per batch vs"
            f" {_lr_after_one_epoch(torch, make, False):.3g} stepped per epoch"
        )
    ctx.record("lr-collapse", [lr1["buggy"][0]], [lr1["fixed"][0]], batches_per_epoch=BATCHES)
    ctx.record("worse-loss", val["buggy"], val["fixed"], epochs=epochs)
