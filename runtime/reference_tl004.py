"""TL004 lr-decay-per-batch: ``g['lr'] *= 0.1`` in code that runs every batch.

Task: regress 4 targets from 8 features with an MLP and Adam (lr 1e-4) for one
epoch of 400 batches. At the start of the epoch a stage change lowers the
learning rate. The buggy loop does it inside the batch loop with a
multiplication, so it compounds every batch; the fixed loop assigns an absolute
value once (``g['lr'] = 2e-5`` under a once-guard), as the post-mortem's fix did.
"""

from __future__ import annotations

from torchlint.runtime.reference_common import flat_params, generator, mlp, twin
from torchlint.runtime.stats import HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL004"
NAME = "lr-decay-per-batch"
TASK = (
    "8 features -> 4 targets (MLP 8-32-4), Adam starting at lr 1e-4, one epoch of"
    " 400 batches of 16 after a stage change that lowers the learning rate"
)
BUGGY_CODE = (
    "for xb, yb in loader:\n    for g in opt.param_groups:\n        g['lr'] *= 0.1\n    ..."
)
FIXED_CODE = (
    "for xb, yb in loader:\n    if not lowered:\n        for g in opt.param_groups:\n"
    "            g['lr'] = 2e-5\n        lowered = True\n    ..."
)

CLAIMS = (
    Claim(
        id="lr-collapse",
        text="after one epoch of per-batch updates the learning rate is (effectively) zero",
        metric="learning rate after the epoch",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="probe",
    ),
    Claim(
        id="parameters-frozen",
        text="the parameters barely move during the epoch",
        metric="L2 norm of the parameter change over the epoch",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="training",
    ),
    Claim(
        id="worse-loss",
        text="the model ends the epoch with a higher validation error",
        metric="validation MSE after the epoch",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
)

BATCHES, BATCH = 400, 16


def train_epoch(torch, model, opt, loader, variant):
    """One epoch; ``variant`` picks how the stage change sets the learning rate."""
    lowered = False
    lrs, losses = [], []
    for xb, yb in loader:
        if variant == "buggy":
            for g in opt.param_groups:
                g["lr"] *= 0.1
        elif not lowered:
            for g in opt.param_groups:
                g["lr"] = 2e-5
            lowered = True
        lrs.append(opt.param_groups[0]["lr"])
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return lrs, losses


def _data(torch, seed, n):
    g = generator(torch, seed, salt=41)
    w = torch.randn(8, 4, generator=g)
    x = torch.randn(n, 8, generator=g)
    return x, torch.tanh(x @ w / 8**0.5) + 0.5 * torch.sin(x[:, :4])


def run(ctx) -> None:
    """One epoch per arm and seed from the same weights, on the same batches."""
    torch = ctx.torch
    dev = ctx.device
    ctx.plan(2 * len(ctx.seeds))
    lr_end = {"buggy": [], "fixed": []}
    moved = {"buggy": [], "fixed": []}
    val = {"buggy": [], "fixed": []}
    zero_at, alive, alive_abs = [], [], []
    for seed in ctx.seeds:
        x, y = (t.to(dev) for t in _data(torch, seed, BATCHES * BATCH + 1024))
        xt, yt = x[: BATCHES * BATCH], y[: BATCHES * BATCH]
        xv, yv = x[BATCHES * BATCH :], y[BATCHES * BATCH :]
        init = mlp(torch, [8, 32, 4], seed).to(dev)
        order = torch.randperm(BATCHES * BATCH, generator=generator(torch, seed, salt=42))
        order = order.to(dev)
        loader = [
            (xt[order[i : i + BATCH]], yt[order[i : i + BATCH]])
            for i in range(0, BATCHES * BATCH, BATCH)
        ]
        for arm in ("buggy", "fixed"):
            model = twin(init)
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)
            before = flat_params(torch, model)
            lrs, losses = train_epoch(torch, model, opt, loader, arm)
            lr_end[arm].append(lrs[-1])
            moved[arm].append(float((flat_params(torch, model) - before).norm()))
            with torch.no_grad():
                val[arm].append(float(torch.nn.functional.mse_loss(model(xv), yv)))
            ctx.curve("training loss per batch", arm, losses)
            ctx.curve("learning rate per batch", arm, lrs)
            if arm == "buggy":
                zero_at.append(next((i + 1 for i, lr in enumerate(lrs) if lr == 0.0), None))
                alive.append(sum(lr > 1e-12 * 1e-4 for lr in lrs))
                alive_abs.append(sum(lr > 1e-12 for lr in lrs))
            ctx.tick()

    # The learning-rate sequence does not depend on the seed: one value per arm.
    ctx.record(
        "lr-collapse",
        [lr_end["buggy"][0]],
        [lr_end["fixed"][0]],
        initial_lr=1e-4,
        batches_per_epoch=BATCHES,
        buggy_lr_exactly_zero_from_batch=zero_at[0],
        buggy_batches_with_lr_above_1e_12_x_initial=alive[0],
        buggy_batches_with_lr_above_1e_12=alive_abs[0],
    )
    ctx.record("parameters-frozen", moved["buggy"], moved["fixed"])
    ctx.record("worse-loss", val["buggy"], val["fixed"])
