"""TL010 gradient-step-order: the optimizer step sees zeroed, unclipped, over-clipped or
accumulated gradients.

Task: regress 4 targets from 8 features with an MLP (8-32-4), one epoch of
200 batches of 16, in four pairs that differ only in the order of the step:

- zero between: ``backward(); zero_grad(); step()`` vs the usual order (SGD lr 0.05);
- clip after step: ``step(); clip_grad_norm_(…, 1.0)`` vs clipping before the step,
  on targets with rare large outliers (SGD lr 0.05);
- scaled clip: ``scaler.scale(loss).backward(); clip_grad_norm_(…, 1.0); scaler.step()``
  vs ``unscale_`` first (a ``GradScaler`` at its default initial scale 65536, SGD lr 0.05;
  no autocast, so only the scaling differs); the same pair with Adam lr 1e-3 is
  reported as a note, since Adam divides by the gradient's own scale;
- never zeroed: no ``zero_grad()`` anywhere vs ``zero_grad()`` every batch (SGD lr 0.01).
"""

from __future__ import annotations

from torchlint.runtime.reference_common import flat_params, generator, grad_norm, mlp, twin
from torchlint.runtime.stats import HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL010"
NAME = "gradient-step-order"
TASK = (
    "8 features -> 4 targets (MLP 8-32-4), one epoch of 200 batches of 16, SGD, four orderings"
    " of backward / zero_grad / clip / unscale_ / step, each against the usual order"
)
BUGGY_CODE = (
    "loss.backward(); opt.zero_grad(); opt.step()\n"
    "loss.backward(); opt.step(); clip_grad_norm_(params, 1.0)\n"
    "scaler.scale(loss).backward(); clip_grad_norm_(params, 1.0); scaler.step(opt)\n"
    "loss.backward(); opt.step()  # no zero_grad anywhere"
)
FIXED_CODE = (
    "opt.zero_grad(); loss.backward(); opt.step()\n"
    "loss.backward(); clip_grad_norm_(params, 1.0); opt.step()\n"
    "scaler.scale(loss).backward(); scaler.unscale_(opt); clip_grad_norm_(params, 1.0);"
    " scaler.step(opt)\n"
    "opt.zero_grad(); loss.backward(); opt.step()"
)

CLAIMS = (
    Claim(
        id="zeroed-update",
        text="with zero_grad() between backward() and step(), SGD never moves the parameters",
        metric="L2 norm of the parameter change over the epoch (zero between)",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="training",
    ),
    Claim(
        id="zeroed-loss",
        text="and the model ends the epoch with a higher validation error",
        metric="validation MSE after the epoch (zero between)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.5,
        kind="training",
    ),
    Claim(
        id="unclipped-updates",
        text="clipping after step() leaves the updates unclipped: outlier batches move the"
        " parameters much further",
        metric="largest single-step parameter change (clip after step)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=2.0,
        kind="training",
    ),
    Claim(
        id="scaled-clip-shrinks-update",
        text="clipping scaled gradients shrinks every update by about the loss scale",
        metric="median gradient norm the optimizer applies per step (scaled clip, SGD)",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=100.0,
        kind="training",
    ),
    Claim(
        id="scaled-clip-loss",
        text="and the model ends the epoch with a higher validation error",
        metric="validation MSE after the epoch (scaled clip, SGD)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.5,
        kind="training",
    ),
    Claim(
        id="accumulated-gradient",
        text="without zero_grad() the gradient is the sum of all earlier ones and keeps growing",
        metric="gradient norm at the last step (never zeroed)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="training",
    ),
    Claim(
        id="accumulated-loss",
        text="and the model ends the epoch with a higher validation error",
        metric="validation MSE after the epoch (never zeroed)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.5,
        kind="training",
    ),
)

BATCHES, BATCH = 200, 16


def _data(torch, seed, n, outliers=False):
    g = generator(torch, seed, salt=101)
    w = torch.randn(8, 4, generator=g)
    x = torch.randn(n, 8, generator=g)
    y = torch.tanh(x @ w / 8**0.5) + 0.3 * torch.sin(x[:, :4])
    if outliers:
        # One sample in 50 has a target 40 times too large (a mislabelled batch).
        rare = torch.rand(n, generator=g) < 0.02
        y = torch.where(rare[:, None], y * 40.0, y)
    return x, y


def step_once(torch, model, opt, xb, yb, case, variant, scaler=None):
    """One training step of ``case`` in its ``variant`` order; returns the gradient norm used."""
    params = list(model.parameters())
    loss = torch.nn.functional.mse_loss(model(xb), yb)
    if case == "zero-between":
        if variant == "buggy":
            loss.backward()
            opt.zero_grad()
        else:
            opt.zero_grad()
            loss.backward()
        used = grad_norm(torch, params)
        opt.step()
        return used
    if case == "clip-after-step":
        opt.zero_grad()
        loss.backward()
        if variant == "fixed":
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        used = grad_norm(torch, params)
        opt.step()
        if variant == "buggy":
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        return used
    if case == "scaled-clip":
        opt.zero_grad()
        scaler.scale(loss).backward()
        if variant == "fixed":
            scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        if variant == "buggy":
            # What the optimizer will apply once scaler.step divides by the scale.
            used = grad_norm(torch, params) / scaler.get_scale()
        else:
            used = grad_norm(torch, params)
        scaler.step(opt)
        scaler.update()
        return used
    # never-zeroed
    if variant == "fixed":
        opt.zero_grad()
    loss.backward()
    used = grad_norm(torch, params)
    opt.step()
    return used


def _optimizer(torch, case, model):
    if case == "scaled-clip-adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3)
    lr = 0.01 if case == "never-zeroed" else 0.05
    return torch.optim.SGD(model.parameters(), lr=lr)


def run(ctx) -> None:
    """Each case and arm from the same weights on the same batches, per seed."""
    torch = ctx.torch
    dev = ctx.device
    cases = ("zero-between", "clip-after-step", "scaled-clip", "scaled-clip-adam", "never-zeroed")
    batches = ctx.steps(BATCHES, 100)
    ctx.plan(2 * len(cases) * len(ctx.seeds))
    out = {case: {"buggy": [], "fixed": []} for case in cases}
    for seed in ctx.seeds:
        for case in cases:
            n = batches * BATCH
            x, y = _data(torch, seed, n + 1024, outliers=case == "clip-after-step")
            x, y = x.to(dev), y.to(dev)
            xv, yv = x[n:], y[n:]
            if case == "clip-after-step":
                # Validate on clean targets: the outliers are label noise.
                xv, yv = _data(torch, seed + 500, 1024)
                xv, yv = xv.to(dev), yv.to(dev)
            init = mlp(torch, [8, 32, 4], seed).to(dev)
            for arm in ("buggy", "fixed"):
                model = twin(init)
                opt = _optimizer(torch, case, model)
                scaled = case.startswith("scaled-clip")
                scaler = torch.amp.GradScaler(dev.type) if scaled else None
                step_case = "scaled-clip" if scaled else case
                before = flat_params(torch, model)
                previous = before
                used, moves = [], []
                for i in range(0, n, BATCH):
                    xb, yb = x[i : i + BATCH], y[i : i + BATCH]
                    used.append(step_once(torch, model, opt, xb, yb, step_case, arm, scaler))
                    if case == "clip-after-step":
                        now = flat_params(torch, model)
                        moves.append(float((now - previous).norm()))
                        previous = now
                with torch.no_grad():
                    val = float(torch.nn.functional.mse_loss(model(xv), yv))
                out[case][arm].append(
                    {
                        "moved": float((flat_params(torch, model) - before).norm()),
                        "max_move": max(moves, default=0.0),
                        "median_used": sorted(used)[len(used) // 2],
                        "last_used": used[-1],
                        "val": val,
                    }
                )
                ctx.curve(f"gradient norm used per step ({case})", arm, used)
                ctx.tick()

    def values(case, key):
        return [r[key] for r in out[case]["buggy"]], [r[key] for r in out[case]["fixed"]]

    ctx.record("zeroed-update", *values("zero-between", "moved"))
    ctx.record("zeroed-loss", *values("zero-between", "val"))
    ctx.record("unclipped-updates", *values("clip-after-step", "max_move"))
    ctx.record("scaled-clip-shrinks-update", *values("scaled-clip", "median_used"))
    ctx.record("scaled-clip-loss", *values("scaled-clip", "val"))
    ctx.record("accumulated-gradient", *values("never-zeroed", "last_used"))
    ctx.record("accumulated-loss", *values("never-zeroed", "val"))
    buggy, fixed = values("scaled-clip-adam", "val")
    ctx.note(
        "scaled clip with Adam lr 1e-3: validation MSE buggy "
        f"{min(buggy):.3g}..{max(buggy):.3g}, fixed {min(fixed):.3g}..{max(fixed):.3g}"
        " (Adam divides by the gradient's own scale, so the shrunken gradients barely"
        " change its update)"
    )
