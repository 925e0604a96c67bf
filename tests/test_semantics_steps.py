"""step_events: a training step flattened in execution order, across branches and calls."""

from __future__ import annotations

import textwrap

import libcst as cst

from torchlint.context import FileContext
from torchlint.semantics.steps import compatible, runs_whenever, step_events
from torchlint.walk import Walker


def _events(source: str, function: str):
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    context = FileContext("example.py", source, module)
    Walker({}, {}, context.parents, lambda *args: None).walk(module)
    model = context.semantics
    owner = model.functions.get(function) or next(
        fn
        for cls in model.classes.values()
        for name, fn in model.methods(cls).items()
        if name == function
    )
    return step_events(context, owner)


def test_events_follow_calls_bindings_and_aliases() -> None:
    events = _events(
        """
        class Runner:
            def fit(self, loader):
                net = self.model
                for x, y in loader:
                    self.optimizer.zero_grad()
                    self.scaler.scale(net(x, y)).backward()
                    self.scaler.unscale_(self.optimizer)
                    self.scaler.step(self.optimizer)
                    validate(net, x)

        def validate(model, x):
            model.eval()
            model(x)
            model.train()
        """,
        "fit",
    )
    assert [(e.kind, e.receiver, e.optimizer) for e in events] == [
        ("zero", "self.optimizer", None),
        ("backward", "self.scaler", None),
        ("unscale", "self.scaler", "self.optimizer"),
        ("step", "self.scaler", "self.optimizer"),
        ("eval", "self.model", None),
        ("train", "self.model", None),
    ]
    assert events[1].scaled
    # The eval was reached through one call, the one in the loop.
    assert len(events[4].chain) == 1


def test_branches_decide_compatibility_and_dominance() -> None:
    events = _events(
        """
        def step(model, opt, loss, amp, scaler):
            opt.zero_grad()
            if amp:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            opt.step()
        """,
        "step",
    )
    zero, scaled, plain, update = events
    assert not compatible(scaled, plain)
    assert compatible(scaled, update) and compatible(plain, update)
    assert runs_whenever(zero, scaled) and not runs_whenever(scaled, update)


def test_mode_calls_and_gradient_writes() -> None:
    events = _events(
        """
        def loop(model, params, loader, phase):
            for batch in loader:
                model.train(False)
                model.train(phase == "train")
                for p in params:
                    p.grad = None
                    p.grad = p.grad * 2
                reset_grad()
        """,
        "loop",
    )
    assert [e.kind for e in events] == ["eval", "mode", "zero", "grad-write", "zero"]


def test_events_follow_a_method_called_by_bare_name() -> None:
    # A function whose first parameter is `self`, called by name: binding its
    # arguments asks which class owns it, which takes the file's context.
    events = _events(
        """
        def evaluate(self, model, x):
            model.eval()
            model(x)

        def fit(model, loader):
            for x, y in loader:
                evaluate(model, model, x)
        """,
        "fit",
    )
    assert [e.kind for e in events] == ["eval"]
