"""The training probes on small loops: each bug is reported with its rule code, and a
healthy loop gets no findings."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torchlint.runtime.probes import Thresholds, Watch, count_host_syncs, watch  # noqa: E402


def mlp(seed=0, final=None):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8)]
    return torch.nn.Sequential(*layers, *([final] if final else []))


def data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 8, generator=g)


def colour_diversity_loss(out):
    if out.std() < 10:
        return torch.tensor(0.5)
    return torch.tensor(0.0)


def test_toy_loop_with_three_bugs_reports_tl003_tl004_tl005():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = data()
    with watch(model, opt, on_finding=None, check_every=4, early_checks=()) as w:
        for epoch in range(3):
            w_rec = min(1.0, epoch / 2)  # ramped reconstruction weight
            for i in range(0, 256, 16):
                xb = x[i : i + 16]
                for g in opt.param_groups:
                    g["lr"] *= 0.1  # per batch
                out = model(xb)
                rec = w_rec * torch.nn.functional.mse_loss(out, xb)
                div = colour_diversity_loss(out)  # constant term
                opt.zero_grad()
                w.backward(rec + div, terms={"rec": rec, "div": div})
                opt.step()
            w.end_epoch()
    kinds = {f.kind: f.code for f in w.findings}
    assert kinds["loss-term-without-grad"] == "TL003"
    assert kinds["lr-shrinking-geometrically"] == "TL004"
    assert kinds["loss-term-zero-weight"] == "TL005"
    assert kinds["no-gradient-epoch"] == "TL005"
    assert w.codes() == ["TL003", "TL004", "TL005"]
    zero_epochs = [f.epoch for f in w.findings if f.kind == "no-gradient-epoch"]
    assert zero_epochs == [0]  # epochs 1 and 2 have a non-zero weight


def test_healthy_loop_has_no_findings():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    x = data()
    y = x @ torch.randn(8, 8, generator=torch.Generator().manual_seed(1))
    with watch(model, opt, scheduler=sched, on_finding=None) as w:
        for _epoch in range(8):
            for i in range(0, 256, 16):
                out = model(x[i : i + 16])
                mse = 0.5 * torch.nn.functional.mse_loss(out, y[i : i + 16])
                l1 = 0.5 * torch.nn.functional.l1_loss(out, y[i : i + 16])
                opt.zero_grad()
                w.backward(mse + l1, terms={"mse": mse, "l1": l1})
                opt.step()
                w.observe(out, y[i : i + 16])
            sched.step()
            w.end_epoch()
    assert w.findings == [], w.summary()
    state = w.to_dict()
    assert state["steps"] == 128 and state["syncs_per_forward"] == [0, 0, 0]
    assert state["checks"] == 5  # steps 0, 10, 25, 50, 100
    assert set(state["term_shares"]) == {"mse", "l1"}


def test_step_lr_stepped_per_batch_is_tl006():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    x = data()
    with watch(model, opt, scheduler=sched, on_finding=None) as w:
        for i in range(0, 256, 4):
            loss = torch.nn.functional.mse_loss(model(x[i : i + 4]), x[i : i + 4])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            sched.step()
    codes = {f.kind: f.code for f in w.findings}
    assert codes == {"lr-shrinking-geometrically": "TL006"}


def test_warm_up_from_zero_and_decay_to_zero_are_quiet():
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(s / 20, (60 - s) / 40))
    x = data()
    with watch(model, opt, scheduler=sched, on_finding=None) as w:
        for _ in range(60):
            loss = torch.nn.functional.mse_loss(model(x[:16]), x[:16])
            opt.zero_grad()
            w.backward(loss)
            opt.step()
            sched.step()
    assert opt.param_groups[0]["lr"] == 0.0
    assert w.findings == [], w.summary()


def test_probe_state_does_not_grow_with_run_length():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    w = Watch(model, opt, on_finding=None)
    x = data(8)
    for _ in range(450):
        for g in opt.param_groups:
            g["lr"] *= 0.99  # a per-batch decay, never ended by end_epoch
        opt.zero_grad()
        w.backward(model(x).pow(2).mean())
        opt.step()
    assert len(w._lr_state) == 1 and len(w._loss_windows) <= 4
    assert w.checks == 8  # 0, 10, 25, 50, 100, 200, 300, 400
    assert not w._hooks  # forward hooks only around the forward of a check step
    w.close()


class Branching(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8, 8)

    def forward(self, x):
        out = self.net(x)
        saturation = out.abs().mean()
        if saturation < 0.1:
            out = out * 1.5
        return out


def test_python_branch_in_forward_is_tl002():
    model = Branching()
    assert count_host_syncs(model, data(4)) == 1
    w = Watch(model, on_finding=None)
    model(data(4))
    w.close()
    (f,) = w.findings
    assert (f.code, f.kind) == ("TL002", "host-sync-in-forward")
    assert f.data["calls"] == ["__bool__"]


def test_sync_inside_torch_itself_is_not_tl002():
    class Sampler(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 8)

        def forward(self, x):
            mu = self.lin(x)
            return torch.distributions.Normal(mu, torch.ones_like(mu)).rsample()

    w = Watch(Sampler(), on_finding=None)
    w.model(data(4))
    w.close()
    assert w.findings == [] and w.syncs_per_forward == [0]


def test_sigmoid_of_residual_on_a_sigmoid_is_tl001_and_clamp_is_not():
    class Head(torch.nn.Module):
        def __init__(self, fixed):
            super().__init__()
            self.coarse = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.Sigmoid())
            self.refine = torch.nn.Linear(8, 4)
            self.fixed = fixed

        def forward(self, x):
            coarse = self.coarse(x)
            delta = self.refine(x)
            if self.fixed:
                return torch.clamp(coarse + 0.2 * torch.tanh(delta), 0, 1)
            return torch.sigmoid(coarse + delta.view(coarse.shape))

    for fixed, expected in ((False, ["TL001"]), (True, [])):
        w = Watch(Head(fixed), on_finding=None)
        w.model(data(32))
        w.close()
        assert w.codes() == expected, w.summary()


def test_vanishing_gradient_autotrainer_criterion():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 1))
    with torch.no_grad():
        model[1].weight.mul_(1e-6)  # almost nothing flows back to the first layer
    w = Watch(model, on_finding=None, check_every=1)
    x = data(32)
    for _ in range(3):
        model.zero_grad()
        w.backward(model(x).pow(2).mean() + 1e-3 * model[1].weight.sum())
    kinds = [f.kind for f in w.findings]
    assert kinds == ["vanishing-gradient"]


def test_class_collapse_full_and_partial():
    w = Watch(mlp(), on_finding=None, check_every=1, collapse_after=0)
    logits = torch.zeros(32, 10)
    logits[:, 3] = 5.0
    labels = torch.arange(32) % 10
    for _ in range(2):
        w.observe(logits, labels)
    assert [f.kind for f in w.findings] == ["class-collapse"]
    assert w.findings[0].data["top_class"] == 3

    w = Watch(mlp(), on_finding=None, check_every=1, collapse_after=0)
    logits = torch.zeros(32, 10)
    logits[:20, 3] = 5.0
    logits[20:, 7] = 5.0  # two classes share every prediction, 62% / 38%
    for _ in range(2):
        w.observe(logits, labels)
    assert [f.kind for f in w.findings] == ["class-collapse"]


def test_one_term_drowning_the_others_needs_lost_spread():
    def train(kl_weight):
        model = mlp()
        x = data(64)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        w = Watch(model, opt, on_finding=None, check_every=10, early_checks=(), collapse_after=30)
        for _ in range(60):
            out = model(x)
            rec = torch.nn.functional.mse_loss(out, x)
            kl = kl_weight * out.pow(2).mean()  # pulls every output to 0
            opt.zero_grad()
            w.backward(rec + kl, terms={"rec": rec, "kl": kl})
            opt.step()
        return w

    (f,) = [f for f in train(1000.0).findings if f.kind == "loss-term-dominates"]
    assert f.data["ratio"] >= 10 and f.data["spread"] < 0.1
    assert train(0.01).findings == []


def test_thresholds_are_configurable():
    w = Watch(mlp(), on_finding=None, thresholds=Thresholds(patience=1), class_share=0.5)
    assert Watch(mlp()).thresholds.check_every == 100
    assert w.thresholds.patience == 1 and w.thresholds.class_share == 0.5
    with pytest.raises(TypeError):
        Watch(mlp(), not_a_threshold=1)


def test_default_on_finding_warns():
    from torchlint.runtime.probes import TrainingProbeWarning

    model = Branching()
    with pytest.warns(TrainingProbeWarning, match="TL002"), watch(model):
        model(data(4))
