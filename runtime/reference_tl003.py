"""TL003 constant-loss-return: a loss term that returns ``torch.tensor(...)`` on a
tensor-decided path, so it carries no gradient.

Task: predict 3 colour channels from 8 features where most of the target is
unpredictable noise, so the MSE-optimal prediction is nearly the same colour for
every input. A colour-diversity term (weight 0.5) is meant to keep predictions
spread out. Each seed trains three runs from the same weights on the same
batches: with the buggy term, with the fixed term, and with no term at all.
"""

from __future__ import annotations

from torchlint.runtime.reference_common import flat_params, generator, mlp, twin
from torchlint.runtime.stats import DIFFERENCE, HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL003"
NAME = "constant-loss-return"
TASK = (
    "8 features -> 3 colour channels (MLP 8-32-3 + sigmoid), target mostly noise;"
    " loss = MSE + 0.5 * colour_diversity_loss; Adam lr 3e-3, batch 128"
)
BUGGY_CODE = (
    "diversity = out.std(dim=0).mean()\nif diversity < 0.1:\n    return torch.tensor(0.5)\n"
    "return torch.tensor(0.0)"
)
FIXED_CODE = "diversity = out.std(dim=0).mean()\nreturn torch.exp(-15.0 * diversity)"

CLAIMS = (
    Claim(
        id="no-gradient",
        text="the loss term has no gradient (requires_grad=False, no grad_fn)",
        metric="1 if the term's requires_grad is False, else 0",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=1.0,
        kind="probe",
    ),
    Claim(
        id="silent-no-op",
        text="adding the term changes nothing in training (bit-identical to leaving it out)",
        metric="max |parameter with the term - parameter without it| after training",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="training",
    ),
    Claim(
        id="property-not-enforced",
        text="the property the term should enforce (colour diversity) ends weaker",
        metric="colour diversity of validation predictions (std across samples, mean over"
        " channels)",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
)


def buggy_colour_diversity_loss(torch, out):
    """The pattern TL003 flags."""
    diversity = out.std(dim=0).mean()
    if diversity < 0.1:
        return torch.tensor(0.5)
    return torch.tensor(0.0)


def fixed_colour_diversity_loss(torch, out):
    """What TL003 recommends: a smooth, differentiable penalty."""
    diversity = out.std(dim=0).mean()
    return torch.exp(-15.0 * diversity)


TERMS = {"buggy": buggy_colour_diversity_loss, "fixed": fixed_colour_diversity_loss, "none": None}


def _data(torch, seed, n):
    g = generator(torch, seed, salt=31)
    w = torch.randn(8, 3, generator=g) / 8**0.5
    x = torch.randn(n, 8, generator=g)
    y = (0.5 + 0.05 * torch.tanh(x @ w) + 0.2 * torch.randn(n, 3, generator=g)).clamp(0, 1)
    return x, y


def run(ctx) -> None:
    """Probe the term's autograd state, then train three runs per seed."""
    torch = ctx.torch
    dev = ctx.device
    steps = ctx.steps(300, 150)
    ctx.plan(1 + 3 * len(ctx.seeds))

    probe_out = torch.full((16, 3), 0.5, device=dev, requires_grad=True)
    no_grad = {}
    for arm in ("buggy", "fixed"):
        term = TERMS[arm](torch, probe_out)
        no_grad[arm] = not term.requires_grad
    ctx.tick()

    moved = {"buggy": [], "fixed": []}
    diversity = {"buggy": [], "fixed": [], "none": []}
    logged_extra = []
    for seed in ctx.seeds:
        x, y = (t.to(dev) for t in _data(torch, seed, 3072))
        xt, yt, xv = x[:2048], y[:2048], x[2048:]
        init = mlp(torch, [8, 32, 3], seed, final=torch.nn.Sigmoid()).to(dev)
        final = {}
        for arm, term_fn in TERMS.items():
            model = twin(init)
            opt = torch.optim.Adam(model.parameters(), lr=3e-3)
            g = generator(torch, seed, salt=32)
            curve, extra = [], 0.0
            for _step in range(steps):
                idx = torch.randint(0, 2048, (128,), generator=g).to(dev)
                out = model(xt[idx])
                loss = torch.nn.functional.mse_loss(out, yt[idx])
                logged = float(loss.detach())
                if term_fn is not None:
                    term = term_fn(torch, out).to(dev)
                    loss = loss + 0.5 * term
                    extra += 0.5 * float(term.detach())
                opt.zero_grad()
                loss.backward()
                opt.step()
                curve.append(logged)
            with torch.no_grad():
                diversity[arm].append(float(model(xv).std(dim=0).mean()))
            final[arm] = flat_params(torch, model)
            if arm == "buggy":
                logged_extra.append(extra / steps)
            if arm != "none":
                ctx.curve("MSE per step (without the diversity term)", arm, curve)
            ctx.tick()
        for arm in ("buggy", "fixed"):
            moved[arm].append(float((final[arm] - final["none"]).abs().max()))

    ctx.record(
        "no-gradient",
        [float(no_grad["buggy"])],
        [float(no_grad["fixed"])],
    )
    ctx.record(
        "silent-no-op",
        moved["buggy"],
        moved["fixed"],
        buggy_term_mean_added_to_logged_loss=logged_extra,
    )
    ctx.record(
        "property-not-enforced",
        diversity["buggy"],
        diversity["fixed"],
        diversity_without_the_term=diversity["none"],
        diversity_penalty_exp_minus_15d={
            arm: [2.718281828459045 ** (-15.0 * d) for d in vals] for arm, vals in diversity.items()
        },
    )
