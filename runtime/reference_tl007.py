"""TL007 probabilities-to-logits-loss: ``CrossEntropyLoss`` on ``softmax(logits)``.

Task: classify 32 features into 10 overlapping Gaussian classes with a small
MLP. Both arms start from the same weights and see the same batches; the buggy
arm's loss is ``cross_entropy(softmax(logits), y)`` (softmax applied twice),
the fixed arm's ``cross_entropy(logits, y)``.
"""

from __future__ import annotations

import math

from torchlint.runtime.reference_common import generator, mlp, twin
from torchlint.runtime.stats import DIFFERENCE, HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL007"
NAME = "probabilities-to-logits-loss"
CLASSES = 10
TASK = (
    "32 features -> 10 overlapping classes (MLP 32-64-10), Adam lr 1e-3,"
    " 400 steps of batch 64; loss = cross_entropy(probabilities or logits, y)"
)
BUGGY_CODE = "loss = F.cross_entropy(F.softmax(model(x), dim=1), y)"
FIXED_CODE = "loss = F.cross_entropy(model(x), y)"

CLAIMS = (
    Claim(
        id="loss-floor",
        text="the training loss cannot approach 0: on probabilities it is at least"
        " log(1 + (C - 1) / e) = 1.46 for 10 classes",
        metric="training loss over the last 50 steps",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.5,
        kind="training",
    ),
    Claim(
        id="worse-accuracy",
        text="the model ends with a lower validation accuracy",
        metric="validation accuracy after training",
        direction=LOWER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.02,
        kind="training",
    ),
    Claim(
        id="washed-out-confidence",
        text="the model's own softmax confidence on the true class is lower (less separated"
        " logits)",
        metric="mean softmax probability of the true class on the validation set",
        direction=LOWER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.05,
        kind="training",
    ),
)

BATCH = 64


def _data(torch, seed, n):
    g = generator(torch, seed, salt=71)
    centers = torch.randn(CLASSES, 32, generator=g) * 0.6
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    x = centers[labels] + torch.randn(n, 32, generator=g)
    return x, labels


def run(ctx) -> None:
    """Both arms from the same weights on the same batches."""
    torch = ctx.torch
    dev = ctx.device
    F = torch.nn.functional
    steps = ctx.steps(400, 200)
    ctx.plan(2 * len(ctx.seeds))
    tail = {"buggy": [], "fixed": []}
    acc = {"buggy": [], "fixed": []}
    confidence = {"buggy": [], "fixed": []}
    for seed in ctx.seeds:
        x, y = (t.to(dev) for t in _data(torch, seed, steps * BATCH + 4096))
        xt, yt = x[: steps * BATCH], y[: steps * BATCH]
        xv, yv = x[steps * BATCH :], y[steps * BATCH :]
        init = mlp(torch, [32, 64, CLASSES], seed).to(dev)
        for arm in ("buggy", "fixed"):
            model = twin(init)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            losses = []
            for i in range(steps):
                xb, yb = xt[i * BATCH : (i + 1) * BATCH], yt[i * BATCH : (i + 1) * BATCH]
                logits = model(xb)
                if arm == "buggy":
                    loss = F.cross_entropy(F.softmax(logits, dim=1), yb)
                else:
                    loss = F.cross_entropy(logits, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
            ctx.curve("training loss per step", arm, losses)
            tail[arm].append(sum(losses[-50:]) / 50)
            with torch.no_grad():
                logits = model(xv)
                acc[arm].append(float((logits.argmax(dim=1) == yv).float().mean()))
                probs = F.softmax(logits, dim=1)
                confidence[arm].append(float(probs.gather(1, yv[:, None]).mean()))
            ctx.tick()
    ctx.record(
        "loss-floor",
        tail["buggy"],
        tail["fixed"],
        floor=math.log(1 + (CLASSES - 1) / math.e),
    )
    ctx.record("worse-accuracy", acc["buggy"], acc["fixed"])
    ctx.record("washed-out-confidence", confidence["buggy"], confidence["fixed"])
