"""The Lightning callback, driven by duck-typed trainer and module objects (Lightning
itself is optional and need not be installed)."""

from __future__ import annotations

import types

import pytest

torch = pytest.importorskip("torch")

from torchlint.runtime.lightning import TorchlintCallback  # noqa: E402


class Module(torch.nn.Module):
    """Stands in for a LightningModule: a training_step that sets ``loss_terms``."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8)
        )

    def forward(self, x):
        return self.net(x)

    def training_step(self, x, epoch):
        out = self(x)
        rec = min(1.0, epoch / 2) * torch.nn.functional.mse_loss(out, x)
        penalty = torch.tensor(0.5)  # a constant term: no gradient
        self.loss_terms = {"rec": rec, "penalty": penalty}
        return {"loss": rec + penalty, "preds": out.detach(), "targets": x}


def fit(callback, module, trainer, epochs=2, batches=6, per_batch_lr_decay=True):
    opt = trainer.optimizers[0]
    callback.on_train_start(trainer, module)
    x = torch.randn(batches * 16, 8, generator=torch.Generator().manual_seed(0))
    for epoch in range(epochs):
        for b in range(batches):
            if per_batch_lr_decay:
                for g in opt.param_groups:
                    g["lr"] *= 0.1
            outputs = module.training_step(x[b * 16 : (b + 1) * 16], epoch)
            opt.zero_grad()
            callback.on_before_backward(trainer, module, outputs["loss"])
            outputs["loss"].backward()
            callback.on_after_backward(trainer, module)
            opt.step()
            callback.on_train_batch_end(trainer, module, outputs, None, b)
        callback.on_train_epoch_end(trainer, module)
    callback.on_train_end(trainer, module)


def test_callback_reports_codes_through_lightning_hooks():
    module = Module()
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    trainer = types.SimpleNamespace(optimizers=[opt], lr_scheduler_configs=[])
    callback = TorchlintCallback(on_finding=None)
    assert callback.findings == []
    fit(callback, module, trainer)
    assert callback.watch.codes() == ["TL003", "TL004", "TL005"]
    assert callback.watch.step == 12 and callback.watch.epoch == 2


def test_callback_sees_per_batch_epoch_scheduler_as_tl006():
    module = Module()
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.01)
    trainer = types.SimpleNamespace(
        optimizers=[opt], lr_scheduler_configs=[types.SimpleNamespace(scheduler=sched)]
    )
    callback = TorchlintCallback(on_finding=None)
    callback.on_train_start(trainer, module)
    x = torch.randn(16, 8)
    for _ in range(8):
        out = module.training_step(x, epoch=2)
        opt.zero_grad()
        out["loss"].backward()
        callback.on_after_backward(trainer, module)
        opt.step()
        sched.step()
    codes = {f.kind: f.code for f in callback.findings}
    assert codes["lr-shrinking-geometrically"] == "TL006"


def test_callback_without_terms_or_preds_is_quiet():
    module = torch.nn.Linear(8, 8)
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    trainer = types.SimpleNamespace(optimizers=[opt])
    callback = TorchlintCallback(on_finding=None)
    callback.on_train_start(trainer, module)
    for _ in range(5):
        loss = module(torch.randn(16, 8)).pow(2).mean()
        callback.on_before_backward(trainer, module, loss)
        opt.zero_grad()
        loss.backward()
        callback.on_after_backward(trainer, module)
        opt.step()
        callback.on_train_batch_end(trainer, module, loss, None, 0)
    callback.on_train_epoch_end(trainer, module)
    callback.on_train_end(trainer, module)
    assert callback.findings == []


class Refine(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.coarse = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Sigmoid())
        self.delta = torch.nn.Linear(8, 8)

    def forward(self, x):
        coarse = self.coarse(x)
        if coarse.mean() > 10:  # a tensor branch
            coarse = coarse * 2
        return torch.sigmoid(coarse + self.delta(x))


class Branchy(torch.nn.Module):
    """A LightningModule whose training_step calls a submodule directly."""

    def __init__(self):
        super().__init__()
        self.net = Refine()

    def forward(self, x):  # never called by training_step
        return self.net(x)

    def training_step(self, x):
        return self.net(x)


def test_forward_checks_attach_to_submodules_whatever_training_step_calls():
    module = Branchy()
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    trainer = types.SimpleNamespace(optimizers=[opt], lr_scheduler_configs=[])
    callback = TorchlintCallback(on_finding=None)
    callback.on_train_start(trainer, module)
    out = module.training_step(torch.randn(16, 8))
    callback.on_before_backward(trainer, module, out.mean())
    out.mean().backward()
    callback.on_after_backward(trainer, module)
    callback.on_train_end(trainer, module)
    assert callback.watch.codes() == ["TL001", "TL002"]
    assert callback.watch.syncs_per_forward == [1]
