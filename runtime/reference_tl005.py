"""TL005 ramped-primary-loss: a warm-up ramp ``min(1, epoch / warmup)`` on the
reconstruction weight, so the first epoch of a stage has no supervision.

Task: a 16-4-16 autoencoder on correlated synthetic data, loss =
``w_reconstruction * MSE + w_ssim * L1 + w_colour * mean-matching``, 3 warm-up
epochs in a stage of 5 (4 with ``--quick``). The buggy weights ramp every key
(reconstruction included); the fixed weights ramp only the auxiliary key. Run
once with Adam and once with SGD, because Adam's normalised steps let a late
start catch up in a way SGD's do not.
"""

from __future__ import annotations

from torchlint.runtime.reference_common import generator, grad_norm, mlp, twin
from torchlint.runtime.stats import HIGHER_IS_WORSE, LOWER_IS_WORSE, RATIO, Claim

CODE = "TL005"
NAME = "ramped-primary-loss"
TASK = (
    "16-dim correlated data, autoencoder MLP 16-32-4-32-16; loss = w_reconstruction*MSE +"
    " w_ssim*L1 + w_colour*mean-matching; warm-up 3 epochs; 40 batches of 32 per epoch;"
    " Adam lr 3e-3 and SGD lr 0.05 momentum 0.9"
)
BUGGY_CODE = (
    'RAMP_KEYS = ("w_reconstruction", "w_ssim", "w_colour")\nramp = min(1.0, epoch / warmup)'
)
FIXED_CODE = 'RAMP_KEYS = ("w_colour",)\nramp = min(1.0, epoch / warmup)'

CLAIMS = (
    Claim(
        id="no-gradient-first-epoch",
        text="the first epoch of the stage gets no gradient at all",
        metric="largest total gradient norm over the first epoch's batches (Adam run)",
        direction=LOWER_IS_WORSE,
        compare=RATIO,
        threshold=10.0,
        kind="training",
    ),
    Claim(
        id="worse-after-first-epoch",
        text="reconstruction is worse after the first epoch",
        metric="validation reconstruction MSE after epoch 1 (Adam)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
    Claim(
        id="worse-at-end-adam",
        text="reconstruction is still worse at the end of the stage (Adam)",
        metric="validation reconstruction MSE at the end of the stage (Adam)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
    Claim(
        id="worse-at-end-sgd",
        text="reconstruction is still worse at the end of the stage (SGD)",
        metric="validation reconstruction MSE at the end of the stage (SGD)",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
)

BASE_WEIGHTS = {"w_reconstruction": 1.0, "w_ssim": 0.5, "w_colour": 0.1}
RAMP_KEYS = {
    "buggy": ("w_reconstruction", "w_ssim", "w_colour"),
    "fixed": ("w_colour",),
}
WARMUP = 3
BATCHES, BATCH = 40, 32


def stage_weights(epoch: int, ramp_keys, warmup: int = WARMUP) -> dict:
    """Loss weights for ``epoch`` of the stage; keys in ``ramp_keys`` are ramped."""
    ramp = min(1.0, epoch / warmup)
    return {k: v * ramp if k in ramp_keys else v for k, v in BASE_WEIGHTS.items()}


def _data(torch, seed, n):
    g = generator(torch, seed, salt=51)
    mix = torch.randn(4, 16, generator=g)
    z = torch.randn(n, 4, generator=g)
    return torch.tanh(z @ mix) + 0.05 * torch.randn(n, 16, generator=g)


def _train(torch, model, opt, batches, val, epochs, ramp_keys, ctx):
    first_epoch_grad, after_first, curve = 0.0, None, []
    for epoch in range(epochs):
        w = stage_weights(epoch, ramp_keys)
        for xb in batches:
            out = model(xb)
            rec = torch.nn.functional.mse_loss(out, xb)
            l1 = (out - xb).abs().mean()
            colour = (out.mean(0) - xb.mean(0)).pow(2).mean()
            loss = w["w_reconstruction"] * rec + w["w_ssim"] * l1 + w["w_colour"] * colour
            opt.zero_grad()
            loss.backward()
            if epoch == 0:
                first_epoch_grad = max(first_epoch_grad, grad_norm(torch, model.parameters()))
            opt.step()
        with torch.no_grad():
            v = float(torch.nn.functional.mse_loss(model(val), val))
        curve.append(v)
        if epoch == 0:
            after_first = v
    return first_epoch_grad, after_first, curve


def run(ctx) -> None:
    """Per seed: buggy and fixed ramps, each under Adam and under SGD."""
    torch = ctx.torch
    dev = ctx.device
    epochs = ctx.steps(5, 4)
    ctx.plan(4 * len(ctx.seeds))
    grad0 = {"buggy": [], "fixed": []}
    first = {"buggy": [], "fixed": []}
    end = {"adam": {"buggy": [], "fixed": []}, "sgd": {"buggy": [], "fixed": []}}
    for seed in ctx.seeds:
        data = _data(torch, seed, BATCHES * BATCH + 512).to(dev)
        batches = [data[i : i + BATCH] for i in range(0, BATCHES * BATCH, BATCH)]
        val = data[BATCHES * BATCH :]
        init = mlp(torch, [16, 32, 4, 32, 16], seed).to(dev)
        for opt_name in ("adam", "sgd"):
            for arm in ("buggy", "fixed"):
                model = twin(init)
                if opt_name == "adam":
                    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
                else:
                    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
                g0, after_first, curve = _train(
                    torch, model, opt, batches, val, epochs, RAMP_KEYS[arm], ctx
                )
                end[opt_name][arm].append(curve[-1])
                ctx.curve(f"validation reconstruction MSE per epoch ({opt_name})", arm, curve)
                if opt_name == "adam":
                    grad0[arm].append(g0)
                    first[arm].append(after_first)
                ctx.tick()
    ctx.record("no-gradient-first-epoch", grad0["buggy"], grad0["fixed"])
    ctx.record("worse-after-first-epoch", first["buggy"], first["fixed"])
    ctx.record("worse-at-end-adam", end["adam"]["buggy"], end["adam"]["fixed"], epochs=epochs)
    ctx.record("worse-at-end-sgd", end["sgd"]["buggy"], end["sgd"]["fixed"], epochs=epochs)
