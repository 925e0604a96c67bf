"""TL002 tensor-condition-branch: a Python ``if`` on a tensor value inside ``forward``.

Task: a colour-enhancement head maps 16 RGB pixels per sample to an enhanced
target (luminance kept, colour difference amplified by 1.4, brightened). Half
the samples are nearly grey. The buggy head boosts colour when the *batch's*
mean saturation is below 0.1 (a Python ``if``); the fixed head applies a smooth,
per-sample boost. A third variant, ``torch.where`` on the per-sample
saturation, is measured for the probes only (see the notes).
"""

from __future__ import annotations

from torchlint.runtime.reference_common import generator, twin
from torchlint.runtime.stats import DIFFERENCE, HIGHER_IS_WORSE, RATIO, Claim

CODE = "TL002"
NAME = "tensor-condition-branch"
TASK = (
    "16 RGB pixels per sample -> colour-enhanced pixels (per-pixel MLP 3-16-3 + sigmoid,"
    " then a saturation boost); half the samples nearly grey; Adam lr 3e-3, batch 64"
)
BUGGY_CODE = "if saturation < 0.1:\n    out = lum + diff * 1.5"
FIXED_CODE = "gain = 1.0 + 0.5 * torch.sigmoid((0.1 - saturation) / 0.01)\nout = lum + diff * gain"

CLAIMS = (
    Claim(
        id="fullgraph-compile",
        text="torch.compile(fullgraph=True) cannot capture the forward",
        metric="1 if torch.compile(fullgraph=True, backend='eager') raises, else 0",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=1.0,
        kind="probe",
    ),
    Claim(
        id="host-syncs",
        text="every forward makes a host sync",
        metric="host syncs (__bool__/.item()/...) per forward, batch of 64",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=1.0,
        kind="probe",
    ),
    Claim(
        id="batch-coupling",
        text="a sample's output depends on the other samples in its batch",
        metric="max |f(x_i alone) - f(batch of 64)_i| over 512 validation samples",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=1e-3,
        kind="probe",
    ),
    Claim(
        id="train-val-mismatch",
        text="the model behaves differently when scored one sample at a time than in the"
        " batches it was trained on (train/val mismatch)",
        metric="validation MSE scored one sample at a time / scored in batches of 64",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
    Claim(
        id="worse-at-inference",
        text="scored one sample at a time (as at inference), the model is worse",
        metric="validation MSE scored one sample at a time",
        direction=HIGHER_IS_WORSE,
        compare=RATIO,
        threshold=1.1,
        kind="training",
    ),
    Claim(
        id="loss-jump",
        text="the output jumps where the condition flips (a discontinuity in the loss)",
        metric="largest change of the boosted output between two pre-boost outputs whose"
        " saturation differs by 0.0005, swept across the 0.1 threshold",
        direction=HIGHER_IS_WORSE,
        compare=DIFFERENCE,
        threshold=0.01,
        kind="probe",
    ),
)

PIXELS = 16


def _build(torch):
    lum_w = torch.tensor([0.299, 0.587, 0.114])

    class Enhancer(torch.nn.Module):
        """Per-pixel MLP; ``boost`` picks how low-saturation outputs are amplified."""

        def __init__(self, boost: str):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
            )
            self.boost = boost
            self.register_buffer("lum_w", lum_w.clone())

        def forward(self, x):
            return self.boost_colour(torch.sigmoid(self.net(x)))

        def boost_colour(self, out):
            lum = (out * self.lum_w).sum(-1, keepdim=True)
            diff = out - lum
            if self.boost == "buggy":
                saturation = diff.abs().mean()
                if saturation < 0.1:
                    out = lum + diff * 1.5
                return out
            saturation = diff.abs().mean(dim=(1, 2), keepdim=True)
            if self.boost == "where":
                return torch.where(saturation < 0.1, lum + diff * 1.5, out)
            gain = 1.0 + 0.5 * torch.sigmoid((0.1 - saturation) / 0.01)
            return lum + diff * gain

    return Enhancer


def _data(torch, seed, n):
    g = generator(torch, seed, salt=21)
    base = torch.rand(n, 1, 1, generator=g) * 0.6 + 0.2
    colour = torch.rand(n, PIXELS, 3, generator=g) - 0.5
    # Half the samples nearly grey (colour scale 0.06), half colourful (0.6).
    scale = torch.where(torch.arange(n) % 2 == 0, 0.06, 0.6).view(n, 1, 1)
    x = (base + colour * scale + 0.05 * torch.rand(n, PIXELS, 1, generator=g)).clamp(0, 1)
    lum = (x * torch.tensor([0.299, 0.587, 0.114])).sum(-1, keepdim=True)
    y = (lum + (x - lum) * 1.4 + 0.05).clamp(0, 1)
    return x, y


def _alone(torch, model, x):
    with torch.no_grad():
        return torch.cat([model(x[i : i + 1]) for i in range(x.shape[0])])


def _max_jump(torch, model):
    # Sweep the pre-boost output's saturation from 0 to 0.2 through the 0.1
    # threshold: the sweep must cross the condition for the probe to measure it.
    dev = model.lum_w.device
    g = generator(torch, 0, salt=23)
    pattern = torch.rand(1, PIXELS, 3, generator=g).to(dev) - 0.5
    pattern = pattern - (pattern * model.lum_w).sum(-1, keepdim=True)
    pattern = pattern / pattern.abs().mean()
    levels = torch.arange(0.0, 0.2, 0.0005, device=dev)
    with torch.no_grad():
        outs = torch.stack([model.boost_colour(0.5 + pattern * s) for s in levels])
    return float((outs[1:] - outs[:-1]).abs().amax())


def run(ctx) -> None:
    """Probes on fresh and trained heads, then training per seed; see module docstring."""
    torch = ctx.torch
    dev = ctx.device
    from torchlint.runtime.syncs import count_host_syncs, fullgraph_compile_fails

    Enhancer = _build(torch)
    steps = ctx.steps(400, 200)
    ctx.plan(1 + 2 * len(ctx.seeds))

    torch.manual_seed(0)
    probe = {arm: Enhancer(arm).to(dev) for arm in ("buggy", "where", "fixed")}
    x0, _ = _data(torch, 0, 64)
    x0 = x0.to(dev)
    compile_fail, syncs, why = {}, {}, {}
    for arm, model in probe.items():
        compile_fail[arm], why[arm] = fullgraph_compile_fails(model, x0)
        syncs[arm] = count_host_syncs(model, x0)
    ctx.tick()

    mse_alone = {"buggy": [], "fixed": []}
    mse_batched = {"buggy": [], "fixed": []}
    coupling = {"buggy": [], "fixed": [], "where": []}
    # The boost stage has no weights, so the jump is a property of the code alone.
    jump = {arm: _max_jump(torch, model) for arm, model in probe.items()}
    for seed in ctx.seeds:
        x, y = (t.to(dev) for t in _data(torch, seed, 2560))
        xt, yt, xv, yv = x[:2048], y[:2048], x[2048:], y[2048:]
        torch.manual_seed(seed)
        init = Enhancer("fixed").to(dev)
        for arm in ("buggy", "fixed"):
            model = twin(init)
            model.boost = arm
            opt = torch.optim.Adam(model.parameters(), lr=3e-3)
            g = generator(torch, seed, salt=22)
            curve = []
            for _step in range(steps):
                idx = torch.randint(0, 2048, (64,), generator=g).to(dev)
                loss = torch.nn.functional.mse_loss(model(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                curve.append(float(loss.detach()))
            ctx.curve("training loss per step", arm, curve)
            alone = _alone(torch, model, xv)
            with torch.no_grad():
                batched = torch.cat([model(xv[i : i + 64]) for i in range(0, xv.shape[0], 64)])
            mse_alone[arm].append(float(torch.nn.functional.mse_loss(alone, yv)))
            mse_batched[arm].append(float(torch.nn.functional.mse_loss(batched, yv)))
            coupling[arm].append(float((alone - batched).abs().max()))
            if arm == "buggy":
                # The torch.where rewrite, on the weights the buggy arm learned.
                model.boost = "where"
                alone_w = _alone(torch, model, xv)
                with torch.no_grad():
                    batched_w = torch.cat(
                        [model(xv[i : i + 64]) for i in range(0, xv.shape[0], 64)]
                    )
                coupling["where"].append(float((alone_w - batched_w).abs().max()))
            ctx.tick()

    ctx.record(
        "fullgraph-compile",
        [float(compile_fail["buggy"])],
        [float(compile_fail["fixed"])],
        error=why["buggy"],
        where_variant_fails=compile_fail["where"],
    )
    ctx.record("host-syncs", [syncs["buggy"]], [syncs["fixed"]], where_variant_syncs=syncs["where"])
    ctx.record(
        "batch-coupling",
        coupling["buggy"],
        coupling["fixed"],
        where_variant=coupling["where"],
    )
    ctx.record(
        "train-val-mismatch",
        [a / b for a, b in zip(mse_alone["buggy"], mse_batched["buggy"])],
        [a / b for a, b in zip(mse_alone["fixed"], mse_batched["fixed"])],
        val_mse_scored_alone=mse_alone,
        val_mse_scored_in_batches_of_64=mse_batched,
    )
    ctx.record("worse-at-inference", mse_alone["buggy"], mse_alone["fixed"])
    ctx.record("loss-jump", [jump["buggy"]], [jump["fixed"]], where_variant=jump["where"])
    ctx.note(
        "torch.where variant (per-sample condition): fullgraph compile"
        f" {'fails' if compile_fail['where'] else 'succeeds'}, {syncs['where']} host sync(s)"
        f" per forward, batch coupling max {max(coupling['where']):.3g},"
        f" output jump {jump['where']:.3g} (buggy {jump['buggy']:.3g},"
        f" smooth fix {jump['fixed']:.3g})"
    )
