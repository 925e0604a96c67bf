"""TL001 sigmoid-after-residual: ``torch.sigmoid(coarse + delta)`` on a sigmoid output.

Task: regress 4 targets in [0, 1] from 8 features. A coarse head (MLP ending in
a sigmoid) is trained briefly and frozen; a refine head predicts ``delta`` from
the features and the coarse output. Both arms share the frozen coarse head and
the refine head's initial weights for each seed.
"""

from __future__ import annotations

from torchlint.runtime.reference_common import generator, mlp, twin
from torchlint.runtime.stats import (
    DIFFERENCE,
    HIGHER_IS_WORSE,
    LOWER_IS_WORSE,
    RATIO,
    Claim,
)

CODE = "TL001"
NAME = "sigmoid-after-residual"
TASK = (
    "8 features -> 4 targets in [0, 1]; a frozen coarse head (MLP + sigmoid) refined by a"
    " residual head (MLP on features and coarse output), Adam lr 1e-3, batch 128"
)
BUGGY_CODE = "return torch.sigmoid(coarse + delta)"
FIXED_CODE = "return torch.clamp(coarse + 0.2 * torch.tanh(delta), 0.0, 1.0)"

CLAIMS = (
    Claim(
        id="double-squash",
        text="with delta = 0 the head does not return the coarse prediction (it returns"
        " sigmoid(coarse), confined to [0.5, 0.731])",
        metric="max |head(coarse, delta=0) - coarse| on the validation set",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.05,
        kind="probe",
    ),
    Claim(
        id="refine-worse",
        text="refining a frozen coarse head ends with a higher validation error",
        metric="validation MSE after the refine steps",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
    Claim(
        id="slow-to-beat-coarse",
        text="the refine head takes longer to get below the coarse head's error"
        " (or never does within the step budget)",
        metric="refine steps until validation MSE first drops below the coarse head's,"
        " checked every 10 steps; a run that never does counts as budget + 10 (a lower bound)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
    Claim(
        id="collapse",
        text="predictions collapse to the same values for every input (mode collapse)",
        metric="prediction variance across the validation set / target variance",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=2.0,
        kind="training",
        source="post-mortem",
    ),
    Claim(
        id="saturation",
        text="the sigmoid's input saturates (|x| >= 5)",
        metric="fraction of the head's squashing-function inputs with |x| >= 5"
        " (buggy: sigmoid input; fixed: tanh input)",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.5,
        kind="training",
        source="post-mortem",
    ),
    Claim(
        id="vanishing-gradient",
        text="the refine head's gradient vanishes",
        metric="mean gradient norm of the refine head's parameters over training",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="training",
        source="post-mortem",
    ),
)

N_IN, N_OUT, HIDDEN = 8, 4, 32


def buggy_head(torch, coarse, delta):
    """The pattern TL001 flags."""
    return torch.sigmoid(coarse + delta)


def fixed_head(torch, coarse, delta):
    """What TL001 recommends."""
    return torch.clamp(coarse + 0.2 * torch.tanh(delta), 0.0, 1.0)


HEADS = {"buggy": buggy_head, "fixed": fixed_head}


def _data(torch, seed, n):
    g = generator(torch, seed, salt=1)
    w1 = torch.randn(N_IN, N_OUT, generator=g) / N_IN**0.5
    w2 = torch.randn(N_IN, N_OUT, generator=g)
    x = torch.randn(n, N_IN, generator=g)
    y = torch.sigmoid(2.0 * (x @ w1) + torch.sin(x @ w2))
    return x, y


def run(ctx) -> None:
    """Measure every claim for every seed (see module docstring for the task)."""
    torch = ctx.torch
    dev = ctx.device
    coarse_steps = ctx.steps(150, 100)
    refine_steps = ctx.steps(300, 150)
    eval_every = 10
    ctx.plan(1 + 3 * len(ctx.seeds))

    # Probe: the head at delta = 0 over the whole range a sigmoid coarse output can take.
    grid = torch.linspace(0.0, 1.0, 1001, device=dev)
    zero = torch.zeros_like(grid)
    at_zero = {arm: head(torch, grid, zero) for arm, head in HEADS.items()}
    probe_range = {arm: [float(out.min()), float(out.max())] for arm, out in at_zero.items()}
    probe_err = {arm: float((out - grid).abs().max()) for arm, out in at_zero.items()}
    ctx.tick()

    vals = {k: {"buggy": [], "fixed": []} for k in ("mse", "var", "sat", "grad")}
    coarse_mse, steps_to_beat, zero_err = [], {"buggy": [], "fixed": []}, {"buggy": [], "fixed": []}
    for seed in ctx.seeds:
        x, y = (t.to(dev) for t in _data(torch, seed, 3072))
        xt, yt, xv, yv = x[:2048], y[:2048], x[2048:], y[2048:]
        coarse_net = mlp(torch, [N_IN, HIDDEN, N_OUT], seed, final=torch.nn.Sigmoid()).to(dev)
        opt = torch.optim.Adam(coarse_net.parameters(), lr=1e-2)
        g = generator(torch, seed, salt=2)
        for _ in range(coarse_steps):
            idx = torch.randint(0, 2048, (128,), generator=g).to(dev)
            loss = torch.nn.functional.mse_loss(coarse_net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        coarse_net.requires_grad_(False)
        with torch.no_grad():
            ct, cv = coarse_net(xt), coarse_net(xv)
            c_mse = float(torch.nn.functional.mse_loss(cv, yv))
        coarse_mse.append(c_mse)
        ctx.tick()

        refine0 = mlp(torch, [N_IN + N_OUT, HIDDEN, N_OUT], 1000 + seed).to(dev)
        for arm, head in HEADS.items():
            refine = twin(refine0)
            opt = torch.optim.Adam(refine.parameters(), lr=1e-3)
            g = generator(torch, seed, salt=3)
            curve, grads, beat = [], [], None
            with torch.no_grad():
                at_zero_delta = head(torch, cv, torch.zeros_like(cv))
                zero_err[arm].append(float((at_zero_delta - cv).abs().max()))
            for step in range(refine_steps + 1):
                if step % eval_every == 0:
                    with torch.no_grad():
                        pv = head(torch, cv, refine(torch.cat([xv, cv], 1)))
                        v_mse = float(torch.nn.functional.mse_loss(pv, yv))
                    curve.append(v_mse)
                    if beat is None and v_mse < c_mse:
                        beat = step
                if step == refine_steps:
                    break
                idx = torch.randint(0, 2048, (128,), generator=g).to(dev)
                pred = head(torch, ct[idx], refine(torch.cat([xt[idx], ct[idx]], 1)))
                loss = torch.nn.functional.mse_loss(pred, yt[idx])
                opt.zero_grad()
                loss.backward()
                grads.append(
                    float(torch.stack([p.grad.norm() for p in refine.parameters()]).norm())
                )
                opt.step()
            with torch.no_grad():
                delta = refine(torch.cat([xv, cv], 1))
                pv = head(torch, cv, delta)
                pre = cv + delta if arm == "buggy" else delta
            vals["mse"][arm].append(curve[-1])
            vals["var"][arm].append(float(pv.var(0).mean() / yv.var(0).mean()))
            vals["sat"][arm].append(float((pre.abs() >= 5).float().mean()))
            vals["grad"][arm].append(sum(grads) / len(grads))
            steps_to_beat[arm].append(beat)
            ctx.curve("validation MSE (every 10 refine steps)", arm, curve)
            ctx.tick()

    ctx.record(
        "double-squash",
        [max(zero_err["buggy"])],
        [max(zero_err["fixed"])],
        output_range_at_zero_delta=probe_range,
        max_error_over_coarse_range=probe_err,
    )
    ctx.record(
        "refine-worse",
        vals["mse"]["buggy"],
        vals["mse"]["fixed"],
        coarse_val_mse=coarse_mse,
        refine_steps=refine_steps,
        steps_until_below_coarse_error=steps_to_beat,
    )
    censored = refine_steps + eval_every
    ctx.record(
        "slow-to-beat-coarse",
        [censored if b is None else b for b in steps_to_beat["buggy"]],
        [censored if b is None else b for b in steps_to_beat["fixed"]],
        never_within_budget={
            arm: sum(b is None for b in runs) for arm, runs in steps_to_beat.items()
        },
        refined_over_coarse_val_mse={
            arm: [m / c for m, c in zip(vals["mse"][arm], coarse_mse)] for arm in HEADS
        },
    )
    ctx.record("collapse", vals["var"]["buggy"], vals["var"]["fixed"])
    ctx.record("saturation", vals["sat"]["buggy"], vals["sat"]["fixed"])
    ctx.record("vanishing-gradient", vals["grad"]["buggy"], vals["grad"]["fixed"])
