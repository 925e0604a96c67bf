"""TL009 eval-mode-leak: ``model.eval()`` for validation, and training resumes in eval mode.

Task: classify 4 Gaussian classes from 24 features (8 informative, 16 noise)
with an MLP that has batch-norm and dropout, trained with Adam on a small
training set (512 samples, 16 batches per epoch) and validated after every
epoch. The buggy loop calls ``model.train()`` once, before the epoch loop, and
the validation calls ``model.eval()``: from the second epoch on every batch
trains in eval mode. The fixed loop calls ``model.train()`` at the top of each
epoch.
"""

from __future__ import annotations

from torchlint.runtime.reference_common import generator, twin
from torchlint.runtime.stats import DIFFERENCE, HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL009"
NAME = "eval-mode-leak"
TASK = (
    "24 features (8 informative) -> 4 classes, MLP 24-128-128-4 with BatchNorm1d and"
    " Dropout(0.5), Adam lr 1e-3, 512 training samples in 16 batches, validation after"
    " every epoch"
)
BUGGY_CODE = (
    "model.train()\nfor epoch in range(epochs):\n    for xb, yb in loader:\n        ...\n"
    "    validate(model)  # calls model.eval()"
)
FIXED_CODE = (
    "for epoch in range(epochs):\n    model.train()\n    for xb, yb in loader:\n        ...\n"
    "    validate(model)  # calls model.eval()"
)

CLAIMS = (
    Claim(
        id="batches-in-eval-mode",
        text="after the first validation every training batch runs in eval mode",
        metric="fraction of training batches run with model.training == False",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.5,
        kind="probe",
    ),
    Claim(
        id="batch-norm-frozen",
        text="batch-norm running statistics stop following the data after the first epoch",
        metric="change of the first batch-norm layer's running mean after epoch 1 (L2)",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="training",
    ),
    Claim(
        id="worse-validation",
        text="the model ends training with a lower validation accuracy",
        metric="validation accuracy after the last epoch",
        direction=LOWER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.02,
        kind="training",
    ),
)

TRAIN, BATCH, VAL = 512, 32, 2048


def _model(torch, seed):
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(24, 128),
        nn.BatchNorm1d(128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, 128),
        nn.BatchNorm1d(128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, 4),
    )


def _data(torch, seed, n):
    g = generator(torch, seed, salt=91)
    centres = torch.randn(4, 8, generator=g) * 1.2
    labels = torch.randint(0, 4, (n,), generator=g)
    informative = centres[labels] + torch.randn(n, 8, generator=g)
    noise = torch.randn(n, 16, generator=g) * 2.0
    # Features on different scales: batch-norm has something to normalise.
    scale = torch.linspace(0.2, 5.0, 24)
    return torch.cat([informative, noise], dim=1) * scale + 3.0, labels


def _validate(torch, model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train(torch, model, loader, xv, yv, epochs, variant):
    """Train ``epochs`` epochs with validation after each; ``variant`` places ``train()``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bn = model[1]
    in_eval = 0
    total = 0
    mean_after_first = None
    if variant == "buggy":
        model.train()
    for epoch in range(epochs):
        if variant == "fixed":
            model.train()
        for xb, yb in loader:
            in_eval += not model.training
            total += 1
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch == 0:
            mean_after_first = bn.running_mean.clone()
        accuracy = _validate(torch, model, xv, yv)
    moved = float((bn.running_mean - mean_after_first).norm())
    return in_eval / total, moved, accuracy


def run(ctx) -> None:
    """Both arms from the same weights on the same batches, per seed."""
    torch = ctx.torch
    dev = ctx.device
    epochs = ctx.steps(20, 8)
    ctx.plan(2 * len(ctx.seeds))
    frac = {"buggy": [], "fixed": []}
    moved = {"buggy": [], "fixed": []}
    acc = {"buggy": [], "fixed": []}
    for seed in ctx.seeds:
        x, y = _data(torch, seed, TRAIN + VAL)
        x, y = x.to(dev), y.to(dev)
        xt, yt, xv, yv = x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]
        order = torch.randperm(TRAIN, generator=generator(torch, seed, salt=92)).to(dev)
        loader = [
            (xt[order[i : i + BATCH]], yt[order[i : i + BATCH]]) for i in range(0, TRAIN, BATCH)
        ]
        init = _model(torch, seed).to(dev)
        for arm in ("buggy", "fixed"):
            torch.manual_seed(1000 + seed)  # the same dropout masks while both arms use them
            fraction, change, accuracy = train(torch, twin(init), loader, xv, yv, epochs, arm)
            frac[arm].append(fraction)
            moved[arm].append(change)
            acc[arm].append(accuracy)
            ctx.tick()
    ctx.record("batches-in-eval-mode", [frac["buggy"][0]], [frac["fixed"][0]], epochs=epochs)
    ctx.record("batch-norm-frozen", moved["buggy"], moved["fixed"])
    ctx.record("worse-validation", acc["buggy"], acc["fixed"], epochs=epochs)
