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
    with watch(model, opt, on_finding=None) as w:
        for epoch in range(3):
            w_rec = min(1.0, epoch / 2)  # ramped reconstruction weight
            for i in range(0, 256, 32):
                xb = x[i : i + 32]
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
    assert kinds["lr-collapsed"] == "TL004"
    assert kinds["lr-shrinking-geometrically"] == "TL004"
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
    assert codes["lr-shrinking-geometrically"] == "TL006"
    assert codes["lr-collapsed"] == "TL006"


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


def test_saturated_sigmoid_is_tl001_and_unsaturated_is_not():
    class Head(torch.nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.lin = torch.nn.Linear(8, 8)
            self.scale = scale

        def forward(self, x):
            return torch.sigmoid(self.scale * self.lin(x))

    for scale, expected in ((1000.0, ["TL001"]), (1.0, [])):
        torch.manual_seed(0)
        model = Head(scale)
        w = Watch(model, on_finding=None, check_every=1)
        for _ in range(4):
            model(data(32))
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


def test_prediction_and_class_collapse():
    w = Watch(mlp(), on_finding=None, check_every=1, collapse_after=0)
    target = data(32)
    for _ in range(3):
        w.observe(torch.full((32, 8), 0.5) + 1e-3 * torch.randn(32, 8), target)
    assert [f.kind for f in w.findings] == ["prediction-collapse"]

    w = Watch(mlp(), on_finding=None, check_every=1, collapse_after=0)
    logits = torch.zeros(32, 10)
    logits[:, 3] = 5.0
    labels = torch.arange(32) % 10
    for _ in range(3):
        w.observe(logits, labels)
    assert [f.kind for f in w.findings] == ["class-collapse"]
    assert w.findings[0].data["top_class"] == 3


def test_one_term_drowning_the_others_is_reported_with_shares():
    model = mlp()
    x = data(64)
    w = Watch(model, on_finding=None, check_every=1)
    for _ in range(3):
        out = model(x)
        rec = torch.nn.functional.mse_loss(out, x)
        kl = 1000.0 * out.pow(2).mean()  # a KL-like term with a huge weight
        model.zero_grad()
        w.backward(rec + kl, terms={"rec": rec, "kl": kl})
    (f,) = [f for f in w.findings if f.kind == "loss-term-dominates"]
    assert f.data["shares"]["kl"] > 0.9
    assert w.term_shares["rec"] < 0.1


def test_thresholds_are_configurable():
    w = Watch(mlp(), on_finding=None, thresholds=Thresholds(patience=1), class_share=0.5)
    assert w.thresholds.patience == 1 and w.thresholds.class_share == 0.5
    with pytest.raises(TypeError):
        Watch(mlp(), not_a_threshold=1)


def test_default_on_finding_warns():
    from torchlint.runtime.probes import TrainingProbeWarning

    model = Branching()
    with pytest.warns(TrainingProbeWarning, match="TL002"), watch(model):
        model(data(4))
