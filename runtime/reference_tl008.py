"""TL008 dropout-ignores-eval: ``F.dropout(h, p)`` in ``forward`` without ``training=``.

Task: classify 16 features into 4 classes with a small MLP that applies
functional dropout (p = 0.5) to its hidden layer. Both arms train identically
(in training mode dropout is on either way, and each seed uses the same
dropout masks); they differ only after ``model.eval()``, where the buggy arm's
dropout stays on and the fixed arm's (``training=self.training``) is off.
"""

from __future__ import annotations

from torchlint.runtime.reference_common import generator
from torchlint.runtime.stats import DIFFERENCE, HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL008"
NAME = "dropout-ignores-eval"
TASK = (
    "16 features -> 4 classes (MLP 16-64-64-4 with F.dropout(p=0.5) after each hidden"
    " layer), Adam lr 3e-3, 300 steps of batch 64, then model.eval()"
)
BUGGY_CODE = "h = F.dropout(F.relu(self.fc1(x)), p=0.5)"
FIXED_CODE = "h = F.dropout(F.relu(self.fc1(x)), p=0.5, training=self.training)"

CLAIMS = (
    Claim(
        id="eval-not-deterministic",
        text="in eval mode two calls on the same input give different outputs",
        metric="mean std of the logits over 8 repeated eval-mode calls on the validation set",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.01,
        kind="training",
    ),
    Claim(
        id="worse-validation-loss",
        text="the validation loss measured in eval mode is higher",
        metric="validation cross-entropy in eval mode",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
    Claim(
        id="worse-validation-accuracy",
        text="the validation accuracy measured in eval mode is lower",
        metric="validation accuracy in eval mode",
        direction=LOWER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.01,
        kind="training",
    ),
)

P_DROP = 0.5
BATCH = 64


def make_model(torch, seed: int, variant: str):
    """The MLP; ``variant`` decides whether dropout follows the module's mode."""
    F = torch.nn.functional

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(16, 64)
            self.fc2 = torch.nn.Linear(64, 64)
            self.fc3 = torch.nn.Linear(64, 4)

        def forward(self, x):
            training = True if variant == "buggy" else self.training
            h = F.dropout(F.relu(self.fc1(x)), p=P_DROP, training=training)
            h = F.dropout(F.relu(self.fc2(h)), p=P_DROP, training=training)
            return self.fc3(h)

    torch.manual_seed(seed)
    return Net()


def _data(torch, seed, n):
    g = generator(torch, seed, salt=81)
    centers = torch.randn(4, 16, generator=g) * 1.2
    labels = torch.randint(0, 4, (n,), generator=g)
    x = centers[labels] + torch.randn(n, 16, generator=g)
    return x, labels


def run(ctx) -> None:
    """Train both arms from the same weights with the same masks, then evaluate."""
    torch = ctx.torch
    dev = ctx.device
    F = torch.nn.functional
    steps = ctx.steps(300, 150)
    ctx.plan(2 * len(ctx.seeds))
    spread = {"buggy": [], "fixed": []}
    val_loss = {"buggy": [], "fixed": []}
    val_acc = {"buggy": [], "fixed": []}
    for seed in ctx.seeds:
        x, y = (t.to(dev) for t in _data(torch, seed, steps * BATCH + 2048))
        xt, yt = x[: steps * BATCH], y[: steps * BATCH]
        xv, yv = x[steps * BATCH :], y[steps * BATCH :]
        for arm in ("buggy", "fixed"):
            model = make_model(torch, seed, arm).to(dev)
            opt = torch.optim.Adam(model.parameters(), lr=3e-3)
            torch.manual_seed(1000 + seed)  # the same dropout masks in both arms
            model.train()
            losses = []
            for i in range(steps):
                xb, yb = xt[i * BATCH : (i + 1) * BATCH], yt[i * BATCH : (i + 1) * BATCH]
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
            ctx.curve("training loss per step", arm, losses)
            model.eval()
            with torch.no_grad():
                outputs = torch.stack([model(xv) for _ in range(8)])
                spread[arm].append(float(outputs.std(dim=0).mean()))
                logits = model(xv)
                val_loss[arm].append(float(F.cross_entropy(logits, yv)))
                val_acc[arm].append(float((logits.argmax(dim=1) == yv).float().mean()))
            ctx.tick()
    ctx.record("eval-not-deterministic", spread["buggy"], spread["fixed"])
    ctx.record("worse-validation-loss", val_loss["buggy"], val_loss["fixed"])
    ctx.record("worse-validation-accuracy", val_acc["buggy"], val_acc["fixed"])
