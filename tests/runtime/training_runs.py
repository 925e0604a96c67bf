"""Small, realistic CPU training scripts with the probes attached.

``HEALTHY``: runs that train as they should (the fixes the post-mortems and the
rule pages recommend, common schedules, a GAN step, gradient accumulation) --
the probes must stay silent on every one with the default thresholds.

``BUGGY``: each post-mortem in the seeds reproduced (000-004), plus NaN loss,
exploding gradients, dead ReLUs, a stalled loss and parameters left out of the
optimizer -- each must be reported, with the finding kind (and rule code) given.

Every run takes well under a second or two on one CPU thread. Run this module
to print each run's findings and the step at which they were reported (the
table in docs/runtime.md)::

    python tests/runtime/training_runs.py
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from torchlint.runtime.probes import watch


def _data(n, d_in, d_out, noise=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_in, generator=g)
    w = torch.randn(d_in, d_out, generator=g) / math.sqrt(d_in)
    y = torch.tanh(x @ w) + noise * torch.randn(n, d_out, generator=g)
    return x, y


def _batches(n, batch, steps, seed=0):
    g = torch.Generator().manual_seed(seed + 1)
    i = 0
    while i < steps:
        perm = torch.randperm(n, generator=g)
        for k in range(0, n - batch + 1, batch):
            if i >= steps:
                return
            yield perm[k : k + batch]
            i += 1


def _mlp(d_in, hidden, d_out, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


def _regression(model, opt, steps, sched=None, sched_per="batch", noise=0.1, epoch_len=None):
    x, y = _data(2048, 16, 4, noise=noise)
    epoch_len = epoch_len or 2048 // 64
    with watch(model, opt, on_finding=None) as w:
        for i, idx in enumerate(_batches(2048, 64, steps)):
            out = model(x[idx])
            loss = F.mse_loss(out, y[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            w.observe(out, y[idx])
            if sched is not None and sched_per == "batch":
                sched.step()
            if (i + 1) % epoch_len == 0:
                if sched is not None and sched_per == "epoch":
                    sched.step()
                w.end_epoch()
    return w


# ----------------------------------------------------------------------------
# Healthy runs
# ----------------------------------------------------------------------------


def healthy_warmup_from_zero():
    """Linear warm-up from lr 0 then linear decay to 0 (Hugging Face style LambdaLR)."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    warm, total = 50, 400

    def factor(s):
        return s / warm if s < warm else max(0.0, (total - s) / (total - warm))

    return _regression(model, opt, total, torch.optim.lr_scheduler.LambdaLR(opt, factor))


def healthy_cosine_to_zero():
    """CosineAnnealingLR stepped per batch down to 0 at the last step."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=400, eta_min=0.0)
    return _regression(model, opt, 400, sched)


def healthy_one_cycle():
    """OneCycleLR stepped per batch."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=400)
    return _regression(model, opt, 400, sched)


def healthy_step_lr_per_epoch():
    """StepLR(gamma=0.1) and ExponentialLR stepped once per epoch, as intended."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    return _regression(model, opt, 320, sched, sched_per="epoch", epoch_len=32)


def healthy_exponential_per_step():
    """A gentle per-step exponential decay (gamma 0.995) on purpose."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.995)
    return _regression(model, opt, 400, sched)


def healthy_noisy_regression():
    """A regression whose targets are half noise (R^2 about 0.5)."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return _regression(model, opt, 400, noise=0.6)


class _Coarse(nn.Module):
    def __init__(self):
        super().__init__()
        self.regressor = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4), nn.Sigmoid())

    def forward(self, feat):
        return self.regressor(feat)


class _RefineNet(nn.Module):
    """Seed 000's shape: a frozen coarse head and a residual refine head."""

    def __init__(self, fixed: bool):
        super().__init__()
        self.coarse = _Coarse()
        self.refine = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
        self.fixed = fixed
        for p in self.coarse.parameters():
            p.requires_grad_(False)

    def forward(self, feat):
        coarse = self.coarse(feat)
        delta = self.refine(torch.cat([feat, coarse], 1))
        if self.fixed:
            return torch.clamp(coarse + 0.2 * torch.tanh(delta), 0.0, 1.0)
        refined = coarse + delta.view(coarse.shape)
        return torch.sigmoid(refined)


def _refine_run(fixed: bool, steps: int):
    torch.manual_seed(0)
    model = _RefineNet(fixed)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1024, 8, generator=g)
    y = torch.sigmoid(x[:, :4] * 2 + 0.3 * torch.randn(1024, 4, generator=g))
    opt = torch.optim.Adam(model.refine.parameters(), lr=1e-3)
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(1024, 64, steps):
            out = model(x[idx])
            loss = F.mse_loss(out, y[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            w.observe(out, y[idx])
    return w


def healthy_clamp_refine_head():
    """Seed 000's fix: clamp(coarse + 0.2 * tanh(delta), 0, 1), trained 900 steps."""
    return _refine_run(True, 900)


class _VAE(nn.Module):
    def __init__(self, d=16, latent=4):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, 64), nn.ReLU())
        self.mu = nn.Linear(64, latent)
        self.logvar = nn.Linear(64, latent)
        self.dec = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, d))

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
        z = q.rsample()
        return self.dec(z), mu, logvar


def _vae_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    factors = torch.randn(2048, 3, generator=g)
    mix = torch.randn(3, 16, generator=g)
    return torch.tanh(factors @ mix) + 0.05 * torch.randn(2048, 16, generator=g)


def _vae_run(beta, anneal_steps, steps=500):
    torch.manual_seed(0)
    model = _VAE()
    x = _vae_data()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    with watch(model, opt, on_finding=None) as w:
        for i, idx in enumerate(_batches(2048, 64, steps)):
            xb = x[idx]
            recon, mu, logvar = model(xb)
            rec = F.mse_loss(recon, xb)
            kl_raw = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), 1))
            weight = beta * min(1.0, i / anneal_steps) if anneal_steps else beta
            kl = weight * kl_raw
            opt.zero_grad()
            w.backward(rec + kl, terms={"rec": rec, "kl": kl})
            opt.step()
            w.observe(recon, xb)
    return w


def healthy_beta_vae_annealed():
    """A VAE with beta = 1e-4 annealed from 0 (torch.distributions in the forward)."""
    return _vae_run(1e-4, 200)


def healthy_beta_vae_moderate():
    """A VAE with beta = 0.02: the KL term is active but does not crush reconstruction."""
    return _vae_run(0.02, 100)


def healthy_gan_step():
    """A small 1-D GAN: the generator is watched, the discriminator trains beside it."""
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(5)
    with watch(G, opt_g, on_finding=None) as w:
        for _ in range(500):
            real = torch.randn(64, 2, generator=g) * 0.5 + torch.tensor([2.0, -1.0])
            fake = G(torch.randn(64, 4, generator=g))
            d_loss = F.binary_cross_entropy_with_logits(
                D(real), torch.ones(64, 1)
            ) + F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(64, 1))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = F.binary_cross_entropy_with_logits(D(fake), torch.ones(64, 1))
            opt_g.zero_grad()
            w.backward(g_loss)
            opt_g.step()
    return w


def healthy_gradient_accumulation():
    """Gradient accumulation over 8 micro-batches, clipping before the step."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = _data(2048, 16, 4)
    accum = 8
    with watch(model, opt, on_finding=None) as w:
        for i, idx in enumerate(_batches(2048, 16, 800)):
            out = model(x[idx])
            loss = F.mse_loss(out, y[idx]) / accum
            w.backward(loss)
            if (i + 1) % accum == 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad()
    return w


def _classes(n=2048, d=16, k=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * 1.5
    labels = torch.randint(0, k, (n,), generator=g)
    return centers[labels] + torch.randn(n, d, generator=g), labels


def healthy_classifier():
    """A 10-class MLP classifier with dropout and batch norm, validated every epoch."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10)
    )
    x, labels = _classes()
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    with watch(model, opt, scheduler=sched, on_finding=None) as w:
        for epoch in range(12):
            model.train()
            for idx in _batches(2048, 64, 32, seed=epoch):
                logits = model(x[idx])
                loss = F.cross_entropy(logits, labels[idx])
                opt.zero_grad()
                w.backward(loss)
                opt.step()
                w.observe(logits, labels[idx])
            sched.step()
            w.end_epoch()
            model.eval()
            with torch.no_grad():
                model(x[:256])
    return w


def healthy_imbalanced_binary():
    """A binary classifier on 9:1 imbalanced labels (predicting the majority is right)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2048, 16, generator=g)
    labels = ((x[:, 0] + 0.5 * torch.randn(2048, generator=g)) > 1.3).long()
    model = _mlp(16, 32, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(2048, 64, 400):
            logits = model(x[idx])
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            w.observe(logits, labels[idx])
    return w


class _Enhancer(nn.Module):
    """Seed 004's low-light enhancer, small: colour matrix, curve, saturation gate, mask."""

    def __init__(self, buggy: bool):
        super().__init__()
        self.buggy = buggy
        self.decoder = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 3))
        self.colour = nn.Parameter(torch.eye(3))
        self.mask = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, x):  # x: (batch, pixels, 3)
        enhanced = torch.sigmoid(self.decoder(x)) @ self.colour
        lum = enhanced.mean(-1, keepdim=True)
        diff = enhanced - lum
        saturation = diff.abs().mean()
        if self.buggy:
            if saturation < 0.1:
                enhanced = lum + diff * 1.5
        else:
            boost = torch.clamp((0.1 - saturation) / 0.1, 0.0, 1.0)
            gate = torch.sigmoid(50.0 * (0.1 - saturation))  # a steep gate, on purpose
            enhanced = lum + diff * (1.0 + 0.5 * boost * gate)
        m = torch.sigmoid(self.mask(x))
        return m * enhanced + (1 - m) * x, enhanced


def _colour_diversity(out, buggy):
    d = out.std(dim=-1).mean()
    if buggy:
        if d < 10:
            return torch.tensor(0.5)
        return torch.tensor(0.0)
    return torch.exp(-15.0 * d)


def _seed004(buggy: bool, epochs=6, per_epoch=48):
    torch.manual_seed(0)
    model = _Enhancer(buggy)
    g = torch.Generator().manual_seed(4)
    clean = torch.rand(1024, 16, 3, generator=g)
    dark = clean * 0.3 + 0.02 * torch.randn(1024, 16, 3, generator=g)
    main = [p for n, p in model.named_parameters() if not n.startswith("mask")]
    opt = torch.optim.Adam(main, lr=1e-3)
    ramp_keys = ("w_rec", "w_color", "w_exposure") if buggy else ("w_color", "w_exposure")
    weights = {"w_rec": 1.0, "w_color": 0.3, "w_exposure": 0.1}
    unfrozen = False
    with watch(model, opt, on_finding=None) as w:
        for epoch in range(epochs):
            stage_epoch = epoch % 3  # a new stage every 3 epochs
            ramp = min(1.0, stage_epoch / 2)
            wt = {k: v * ramp if k in ramp_keys else v for k, v in weights.items()}
            if epoch >= 2 and not unfrozen:  # stage 2: unfreeze the mask predictor
                opt.add_param_group({"params": list(model.mask.parameters()), "lr": 1e-4})
                unfrozen = True
                if not buggy:
                    opt.param_groups[-1]["lr"] = 2e-5  # absolute, once
            for idx in _batches(1024, 16, per_epoch, seed=epoch):
                if buggy and unfrozen:
                    for grp in opt.param_groups[1:]:
                        grp["lr"] *= 0.1  # runs per batch (the bug)
                out, enhanced = model(dark[idx])
                rec = wt["w_rec"] * F.l1_loss(out, clean[idx])
                color = wt["w_color"] * _colour_diversity(enhanced, buggy)
                exposure = wt["w_exposure"] * (out.mean() - 0.5).pow(2)
                loss = rec + color + exposure
                opt.zero_grad()
                w.backward(loss, terms={"rec": rec, "color_diversity": color, "exposure": exposure})
                torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                opt.step()
                with torch.no_grad():  # identity-relative clamp of the colour matrix
                    eye = torch.eye(3)
                    model.colour.data = torch.clamp(model.colour.data, eye - 0.15, eye + 0.15)
            w.end_epoch()
    return w


def healthy_seed004_fixed():
    """Seed 004 with the rule pages' fixes: smooth gate, differentiable term, aux-only ramp,
    absolute lr for the unfrozen group, identity-relative clamp."""
    return _seed004(False)


def healthy_recommended_fixes():
    """The rule pages' 'Use instead' loops together: per-epoch scheduler, model.train() at the
    top of each epoch, zero_grad/backward/clip/step in order, absolute lr change."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 4))
    x, y = _data(2048, 16, 4)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[4, 7], gamma=0.1)
    with watch(model, opt, scheduler=sched, on_finding=None) as w:
        for epoch in range(9):
            model.train()
            if epoch == 3:
                for grp in opt.param_groups:
                    grp["lr"] = 1e-3
            for idx in _batches(2048, 64, 32, seed=epoch):
                out = model(x[idx])
                loss = F.mse_loss(out, y[idx])
                opt.zero_grad()
                w.backward(loss)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                w.observe(out, y[idx])
            sched.step()
            w.end_epoch()
            model.eval()
            with torch.no_grad():
                F.mse_loss(model(x[:256]), y[:256])
    return w


class _Flow(nn.Module):
    """Seed 002's shape: a vector field moving embeddings towards attribute regions."""

    def __init__(self, d=8, attrs=3):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d + attrs, 64), nn.ReLU(), nn.Linear(64, d))

    def forward(self, z, attrs):
        return self.net(torch.cat([z, attrs], 1))


def _flow_run(lambda_identity, steps=500):
    torch.manual_seed(0)
    model = _Flow()
    g = torch.Generator().manual_seed(6)
    z_all = F.normalize(torch.randn(2048, 8, generator=g), dim=1)
    a_all = torch.randint(0, 2, (2048, 3), generator=g).float()
    targets = F.normalize(torch.randn(8, 8, generator=g), dim=1)  # a region per combination
    code = (a_all * torch.tensor([4.0, 2.0, 1.0])).sum(1).long()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(2048, 64, steps):
            z, attrs = z_all[idx], a_all[idx]
            v = model(z, attrs)
            flowed = F.normalize(z + 0.5 * v, dim=1)
            logits = flowed @ targets.T / 0.1
            contrastive = F.cross_entropy(logits, code[idx])
            identity = lambda_identity * (flowed - z).pow(2).sum(1).mean()
            opt.zero_grad()
            w.backward(
                contrastive + identity, terms={"contrastive": contrastive, "identity": identity}
            )
            opt.step()
    return w


def healthy_flow_small_identity():
    """Seed 002's fix: identity weight 0.05, the contrastive term leads."""
    return _flow_run(0.05)


HEALTHY = {
    "warm-up from 0 + linear decay (LambdaLR)": healthy_warmup_from_zero,
    "cosine to 0 per batch": healthy_cosine_to_zero,
    "OneCycleLR": healthy_one_cycle,
    "StepLR per epoch": healthy_step_lr_per_epoch,
    "ExponentialLR(0.995) per step": healthy_exponential_per_step,
    "noisy regression (R^2 ~ 0.5)": healthy_noisy_regression,
    "seed 000 fix: clamp refine head": healthy_clamp_refine_head,
    "beta-VAE, beta 1e-4 annealed": healthy_beta_vae_annealed,
    "VAE, beta 0.02": healthy_beta_vae_moderate,
    "seed 002 fix: identity 0.05": healthy_flow_small_identity,
    "GAN step": healthy_gan_step,
    "gradient accumulation + clipping": healthy_gradient_accumulation,
    "10-class classifier": healthy_classifier,
    "imbalanced binary classifier": healthy_imbalanced_binary,
    "seed 004 fixed code": healthy_seed004_fixed,
    "rule pages' recommended fixes": healthy_recommended_fixes,
}


# ----------------------------------------------------------------------------
# Buggy runs
# ----------------------------------------------------------------------------


def buggy_seed000_sigmoid_after_residual():
    """Seed 000: sigmoid(coarse + delta) on a coarse head that already ends in a sigmoid."""
    return _refine_run(False, 200)


def buggy_seed001_kl_dominates():
    """Seed 001: the KL weight is too high; the posterior collapses, reconstructions blur."""
    return _vae_run(2.0, 0)


def buggy_seed002_identity_pins():
    """Seed 002: an identity weight far above the contrastive term's pins the embeddings."""
    return _flow_run(200.0)


class _ArcFace(nn.Module):
    def __init__(self, d, k, scale, margin):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32))
        self.weight = nn.Parameter(torch.randn(k, 32))
        self.scale, self.margin = scale, margin

    def forward(self, x, labels):
        cos = F.normalize(self.backbone(x)) @ F.normalize(self.weight).T
        theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
        target = torch.cos(theta + self.margin)
        onehot = F.one_hot(labels, cos.shape[1]).float()
        return self.scale * (onehot * target + (1 - onehot) * cos)


def _arcface_run(scale, margin, k=100, steps=500, lr=0.1):
    torch.manual_seed(0)
    x, labels = _classes(4096, 16, k)
    x = 0.5 * x + torch.randn(x.shape, generator=torch.Generator().manual_seed(9))
    model = _ArcFace(16, k, scale, margin)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(4096, 64, steps):
            logits = model(x[idx], labels[idx])
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            with torch.no_grad():
                plain = model.scale * (
                    F.normalize(model.backbone(x[idx])) @ F.normalize(model.weight).T
                )
            w.observe(plain, labels[idx])
    return w


def buggy_seed003_class_collapse():
    """Seed 003: ArcFace head with scale 64 and margin 0.5 on 100 classes: a few classes win."""
    return _arcface_run(64.0, 0.5)


def buggy_seed003_partial_collapse():
    """Seed 003, partial: a per-class bias lets two classes take most predictions."""
    torch.manual_seed(0)
    x, labels = _classes(4096, 16, 20)
    model = _mlp(16, 64, 20)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bias = torch.zeros(20)
    bias[3], bias[7] = 6.0, 5.5  # over-confident classes
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(4096, 64, 400):
            logits = model(x[idx]) * 0.2 + bias
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            w.observe(logits, labels[idx])
    return w


def buggy_seed004():
    """Seed 004 as the post-mortem found it: constant loss term, tensor branch, ramped
    reconstruction, per-batch lr *= 0.1 on the group added at unfreeze time."""
    return _seed004(True)


def buggy_tl006_steplr_per_batch():
    """StepLR(step_size=3, gamma=0.1) stepped in the batch loop."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    x, y = _data(2048, 16, 4)
    with watch(model, opt, scheduler=sched, on_finding=None) as w:
        for idx in _batches(2048, 64, 100):
            loss = F.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            sched.step()
    return w


def buggy_nan_loss():
    """log of a prediction that can go negative: the loss turns NaN."""
    model = _mlp(16, 64, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = _data(2048, 16, 1)
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(2048, 64, 200):
            out = model(x[idx])
            loss = (torch.log(out) - torch.log(y[idx].abs() + 0.1)).pow(2).mean()
            opt.zero_grad()
            w.backward(loss)
            opt.step()
    return w


def buggy_exploding_gradients():
    """SGD with momentum at lr 0.05 on unnormalised targets (x10), no clipping: it diverges."""
    torch.manual_seed(0)
    layers = []
    for _ in range(4):
        layers += [nn.Linear(32, 32), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = _data(2048, 32, 4)
    y = 10 * y
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(2048, 64, 200):
            loss = F.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
    return w


def buggy_dead_relu():
    """Hidden biases initialised at -4: most ReLUs never fire."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4)
    )
    with torch.no_grad():
        model[0].bias.fill_(-4.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _data(2048, 16, 4)
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(2048, 64, 200):
            loss = F.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
    return w


def buggy_stalled_loss():
    """A learning rate of 1e-7: the loss does not move."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-7)
    return _regression(model, opt, 400)


def buggy_frozen_parameters():
    """zero_grad() between backward() and step(): the weights never change."""
    model = _mlp(16, 64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _data(2048, 16, 4)
    with watch(model, opt, on_finding=None) as w:
        for idx in _batches(2048, 64, 200):
            loss = F.mse_loss(model(x[idx]), y[idx])
            w.backward(loss)
            opt.zero_grad()
            opt.step()
    return w


#: name -> (run, expected finding kind, expected rule code or None, reported by this step)
BUGGY = {
    "seed 000: sigmoid after residual": (
        buggy_seed000_sigmoid_after_residual,
        "sigmoid-after-residual",
        "TL001",
        0,
    ),
    "seed 001: KL dominates": (buggy_seed001_kl_dominates, "loss-term-dominates", None, 200),
    "seed 002: identity loss pins embeddings": (
        buggy_seed002_identity_pins,
        "loss-term-dominates",
        None,
        200,
    ),
    "seed 003: class collapse (ArcFace)": (
        buggy_seed003_class_collapse,
        "class-collapse",
        None,
        401,
    ),
    "seed 003: partial collapse to 2 classes": (
        buggy_seed003_partial_collapse,
        "class-collapse",
        None,
        201,
    ),
    "seed 004: constant loss term": (buggy_seed004, "loss-term-without-grad", "TL003", 48),
    "seed 004: tensor branch in forward": (buggy_seed004, "host-sync-in-forward", "TL002", 0),
    "seed 004: ramped reconstruction": (buggy_seed004, "loss-term-zero-weight", "TL005", 10),
    "seed 004: lr *= 0.1 per batch (group added at unfreeze)": (
        buggy_seed004,
        "lr-shrinking-geometrically",
        "TL004",
        100,
    ),
    "StepLR stepped per batch": (
        buggy_tl006_steplr_per_batch,
        "lr-shrinking-geometrically",
        "TL006",
        12,
    ),
    "NaN loss": (buggy_nan_loss, "nan-or-inf-loss", None, 0),
    "exploding gradients": (buggy_exploding_gradients, "exploding-gradient", None, 100),
    "dead ReLU": (buggy_dead_relu, "dead-relu", None, 10),
    "stalled loss": (buggy_stalled_loss, "loss-not-decreasing", None, 300),
    "frozen parameters": (buggy_frozen_parameters, "parameters-not-updated", None, 50),
}


def main() -> None:
    """Print every run's findings (kind, code, step) and its time."""
    torch.set_num_threads(1)
    print("| healthy run | findings | time |\n|---|---|---|")
    for name, run in HEALTHY.items():
        start = time.perf_counter()
        w = run()
        found = "; ".join(f"{f.kind} {f.code or ''} @{f.step}" for f in w.findings) or "none"
        print(f"| {name} | {found} | {time.perf_counter() - start:.2f} s |")
    print("\n| buggy run | expected | reported at step | all findings |\n|---|---|---|---|")
    cache = {}
    for name, (run, kind, code, _) in BUGGY.items():
        if run not in cache:
            cache[run] = run()
        w = cache[run]
        hit = [f for f in w.findings if f.kind == kind and f.code == code]
        at = str(hit[0].step) if hit else "MISSED"
        found = "; ".join(f"{f.kind} {f.code or ''} @{f.step}" for f in w.findings) or "none"
        print(f"| {name} | {kind} {code or ''} | {at} | {found} |")


if __name__ == "__main__":
    main()
