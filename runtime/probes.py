"""Probes for a user's own training loop, each reporting the rule code it matches.

Typical use::

    from torchlint.runtime import watch

    with watch(model, optimizer) as w:
        for epoch in range(epochs):
            for x, y in loader:
                out = model(x)
                rec, kl = F.mse_loss(out, y), beta * kl_term(...)
                optimizer.zero_grad()
                w.backward(rec + kl, terms={"rec": rec, "kl": kl})  # instead of loss.backward()
                optimizer.step()
                w.observe(out, y)
            w.end_epoch()
    print(w.summary())

What is checked, and the default thresholds (all fields of :class:`Thresholds`):

- learning rate collapsed: 0.0, or below ``lr_collapse_ratio`` (1e-12) x its initial
  value -- TL004 (TL006 when the watched scheduler steps more than once per epoch);
- learning rate shrinking geometrically: ``geometric_decays`` (5) decays by the same
  factor within one epoch that together cut it below ``geometric_drop`` (0.01) of the
  epoch's first value -- TL004 / TL006;
- a loss term without ``grad_fn`` (immediately), or giving no gradient for
  ``no_gradient_checks`` (3) checks in a row -- TL003 (TL005 when the term is exactly
  0 because its weight is 0);
- total gradient norm exactly 0 over a whole epoch -- TL005;
- host syncs (``if tensor``, ``.item()``, ...) in the first ``sync_forwards`` (3)
  forwards -- TL002;
- saturated sigmoid/tanh inputs: more than ``saturation_fraction`` (0.5) of a call's
  inputs with ``|x| >= saturation_abs`` (5) -- TL001;
- vanishing gradients (AUTOTRAINER): first-to-last layer gradient-norm ratio below
  ``vanishing_ratio`` (1e-3) and first-layer norm below ``vanishing_first_norm`` (1e-4);
- prediction collapse: prediction variance across the batch below
  ``prediction_variance_ratio`` (0.5) of the target's;
- class collapse: one class takes more than ``class_share`` (0.9) of argmax predictions
  (both collapse checks start after ``collapse_after`` (100) ``observe`` calls: an
  untrained network's outputs are nearly constant, which is not a collapse);
- loss-term balance: one term's gradient norm on the shared parameters at least
  ``balance_ratio`` (10) times every other term's.

Collapse, saturation, vanishing-gradient and balance findings need ``patience`` (3)
consecutive positive checks; the expensive checks run every ``check_every`` (10) steps.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

from torchlint.runtime._torch import import_torch
from torchlint.runtime.syncs import SyncCounter, count_host_syncs

torch = import_torch()

__all__ = [
    "Finding",
    "Thresholds",
    "TrainingProbeWarning",
    "Watch",
    "count_host_syncs",
    "watch",
]

_EPOCH_SCHEDULERS = ("StepLR", "MultiStepLR", "ExponentialLR")
_SQUASH_NAMES = frozenset({"sigmoid", "tanh", "sigmoid_", "tanh_"})


class TrainingProbeWarning(RuntimeWarning):
    """Emitted (by default) for each finding of a :class:`Watch`."""


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the probes use; override any with ``Thresholds(field=value)``."""

    lr_collapse_ratio: float = 1e-12
    geometric_decays: int = 5
    geometric_drop: float = 0.01
    no_gradient_checks: int = 3
    saturation_abs: float = 5.0
    saturation_fraction: float = 0.5
    vanishing_ratio: float = 1e-3
    vanishing_first_norm: float = 1e-4
    prediction_variance_ratio: float = 0.5
    class_share: float = 0.9
    balance_ratio: float = 10.0
    patience: int = 3
    check_every: int = 10
    sync_forwards: int = 3
    min_batch: int = 8
    collapse_after: int = 100


@dataclass
class Finding:
    """One problem a probe saw: the matching rule code (None when no rule matches)."""

    kind: str
    code: str | None
    message: str
    step: int
    epoch: int
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code or '-----'} {self.kind} (epoch {self.epoch}, step {self.step}):" + (
            f" {self.message}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _warn(finding: Finding) -> None:
    warnings.warn(str(finding), TrainingProbeWarning, stacklevel=3)


class _Streak:
    """Counts consecutive positive checks per key."""

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}

    def update(self, key: Any, positive: bool) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1 if positive else 0
        return self.counts[key]


class Watch:
    """Probes attached to one model (and optionally its optimizer and scheduler).

    Call :meth:`backward` instead of ``loss.backward()`` (or :meth:`check_terms`
    before and :meth:`after_backward` after your own backward), :meth:`observe`
    with predictions and targets, and :meth:`end_epoch` at each epoch's end.
    Findings collect in :attr:`findings` and go to ``on_finding`` (default: a
    :class:`TrainingProbeWarning`; pass ``None`` to only collect them).
    """

    def __init__(
        self,
        model,
        optimizer=None,
        *,
        scheduler=None,
        thresholds: Thresholds | None = None,
        on_finding: Callable[[Finding], None] | str | None = "warn",
        **overrides: Any,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.thresholds = replace(thresholds or Thresholds(), **overrides)
        self.on_finding = _warn if on_finding == "warn" else on_finding
        self.findings: list[Finding] = []
        self.step = 0
        self.epoch = 0
        self.term_shares: dict[str, float] = {}
        self.syncs_per_forward: list[int] = []
        self._reported: set[Any] = set()
        self._streak = _Streak()
        self._forwards = 0
        self._observations = 0
        self._term_checks = 0
        self._epoch_steps = 0
        self._epoch_max_grad = None
        self._epochs_ended = 0
        self._mode: SyncCounter | None = None
        self._squash_fractions: list[float] = []
        self._initial_lr = []
        self._epoch_lrs: list[list[float]] = []
        self._scheduler_epoch_start = self._scheduler_count()
        if optimizer is not None:
            for g in optimizer.param_groups:
                self._initial_lr.append(float(g.get("initial_lr", g["lr"])))
                self._epoch_lrs.append([])
        self._layers = [
            m for m in model.modules() if any(True for _ in m.parameters(recurse=False))
        ]
        self._hooks = [
            model.register_forward_pre_hook(self._pre_forward),
            model.register_forward_hook(self._post_forward, always_call=True),
        ]

    # -- context manager -------------------------------------------------------
    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Remove the hooks; a run that never called :meth:`end_epoch` counts as one epoch."""
        if self._epochs_ended == 0 and self._epoch_steps:
            self.end_epoch()
        for h in self._hooks:
            h.remove()
        self._hooks = []

    # -- reporting -------------------------------------------------------------
    def _report(self, key: Any, kind: str, code: str | None, message: str, **data: Any) -> None:
        if key in self._reported:
            return
        self._reported.add(key)
        finding = Finding(kind, code, message, self.step, self.epoch, data)
        self.findings.append(finding)
        if self.on_finding is not None:
            self.on_finding(finding)

    def codes(self) -> list[str]:
        """Rule codes reported so far, sorted, without duplicates."""
        return sorted({f.code for f in self.findings if f.code})

    def summary(self) -> str:
        """One line per finding, or a line saying there were none."""
        if not self.findings:
            return f"torchlint probes: no findings in {self.step} steps, {self.epoch} epoch(s)"
        return "\n".join(str(f) for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: findings, steps, epochs, latest term shares."""
        return {
            "steps": self.step,
            "epochs": self.epoch,
            "findings": [f.to_dict() for f in self.findings],
            "term_shares": dict(self.term_shares),
            "syncs_per_forward": list(self.syncs_per_forward),
        }

    # -- forward: host syncs and saturated squashing functions -----------------
    def _pre_forward(self, module, args) -> None:
        counting = self._forwards < self.thresholds.sync_forwards
        sampling = self._forwards % self.thresholds.check_every == 0
        self._forwards += 1
        if self._mode is not None or not (counting or sampling):
            return
        mode = SyncCounter()
        fractions: list[float] = []
        limit = self.thresholds.saturation_abs

        def on_call(func, args, kwargs):
            if getattr(func, "__name__", "") in _SQUASH_NAMES and args:
                x = args[0]
                if isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel():
                    with torch._C.DisableTorchFunction():
                        fractions.append(float((x.detach().abs() >= limit).float().mean()))

        mode.on_call = on_call
        mode.counting_syncs = counting
        self._squash_fractions = fractions
        self._mode = mode
        mode.__enter__()

    def _post_forward(self, module, args, output) -> None:
        mode = self._mode
        if mode is None:
            return
        self._mode = None
        mode.__exit__(None, None, None)
        # The float() calls made by the saturation probe itself are not counted:
        # they ran with torch functions disabled.
        if mode.counting_syncs:
            self.syncs_per_forward.append(mode.count)
            if mode.count:
                names = sorted(set(mode.names))
                self._report(
                    "syncs",
                    "host-sync-in-forward",
                    "TL002",
                    f"forward made {mode.count} host sync(s) ({', '.join(names)}): a Python"
                    " branch or value read on a tensor; it breaks torch.compile graphs, stalls"
                    " CUDA and can couple samples in a batch",
                    syncs=mode.count,
                    calls=names,
                )
        if self._squash_fractions:
            worst = max(self._squash_fractions)
            t = self.thresholds
            if self._streak.update("saturation", worst > t.saturation_fraction) >= t.patience:
                self._report(
                    "saturation",
                    "saturated-activation",
                    "TL001",
                    f"{worst:.0%} of a sigmoid/tanh call's inputs have |x| >= {t.saturation_abs:g}"
                    f" on {t.patience} sampled forwards in a row: gradients through it are"
                    " near 0",
                    fraction=worst,
                )

    # -- loss terms ------------------------------------------------------------
    def check_terms(self, terms: dict[str, Any]) -> None:
        """Check named loss terms (as they enter the loss, weights applied).

        Must run before ``backward`` frees the graph. Every call checks for terms
        without ``grad_fn``; every ``check_every`` calls it also measures each term's
        gradient norm on the parameters shared by the terms (TL003, loss balance).
        """
        t = self.thresholds
        live = {}
        for name, term in terms.items():
            if not isinstance(term, torch.Tensor) or term.grad_fn is None:
                self._report(
                    ("no-grad-fn", name),
                    "loss-term-without-grad",
                    "TL003",
                    f"loss term {name!r} has no grad_fn (requires_grad=False): it adds to the"
                    " logged loss but trains nothing",
                    term=name,
                )
            else:
                live[name] = term
        check = self._term_checks % t.check_every == 0
        self._term_checks += 1
        if not check or not live:
            return
        params = [p for p in self.model.parameters() if p.requires_grad]
        grads = {}
        for name, term in live.items():
            gs = torch.autograd.grad(term.sum(), params, retain_graph=True, allow_unused=True)
            grads[name] = gs
        used = {
            name: [g is not None and bool(g.abs().sum() > 0) for g in gs]
            for name, gs in grads.items()
        }
        for name, term in live.items():
            silent = not any(used[name])
            if self._streak.update(("silent", name), silent) >= t.no_gradient_checks:
                zero_weight = bool((term.detach() == 0).all())
                self._report(
                    ("silent", name),
                    "loss-term-no-gradient",
                    "TL005" if zero_weight else "TL003",
                    f"loss term {name!r} gave no gradient on {t.no_gradient_checks} checks in a"
                    " row"
                    + (
                        " and is exactly 0 (a weight of 0: a warm-up ramp on a primary term?)"
                        if zero_weight
                        else ""
                    ),
                    term=name,
                )
        shared = [i for i in range(len(params)) if sum(used[name][i] for name in used) >= 2]
        if not shared:
            return
        norms = {}
        for name, gs in grads.items():
            sq = [gs[i].pow(2).sum() for i in shared if gs[i] is not None]
            norms[name] = float(torch.stack(sq).sum().sqrt()) if sq else 0.0
        total = sum(norms.values()) or 1.0
        self.term_shares = {name: n / total for name, n in norms.items()}
        ranked = sorted(norms.items(), key=lambda kv: kv[1], reverse=True)
        top, top_norm = ranked[0]
        rest = [n for _, n in ranked[1:] if n > 0]
        drowning = bool(rest) and top_norm >= t.balance_ratio * max(rest)
        if self._streak.update("balance", drowning) >= t.patience:
            shares = ", ".join(f"{k} {v:.1%}" for k, v in self.term_shares.items())
            self._report(
                ("balance", top),
                "loss-term-dominates",
                None,
                f"loss term {top!r} has >= {t.balance_ratio:g}x the gradient norm of every other"
                f" term on the shared parameters (shares: {shares}): the others barely train",
                shares=dict(self.term_shares),
            )

    # -- after backward: gradients and learning rates --------------------------
    def after_backward(self) -> None:
        """Record gradient norms and learning rates for this step (call after backward)."""
        t = self.thresholds
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        total = torch.stack(torch._foreach_norm(grads)).norm() if grads else torch.zeros(())
        # Kept on the device: no host sync per step.
        self._epoch_max_grad = (
            total if self._epoch_max_grad is None else torch.maximum(self._epoch_max_grad, total)
        )
        if self.step % t.check_every == 0:
            self._check_vanishing()
        self._check_lr()
        self.step += 1
        self._epoch_steps += 1

    def _check_vanishing(self) -> None:
        t = self.thresholds
        norms = []
        for layer in self._layers:
            gs = [p.grad for p in layer.parameters(recurse=False) if p.grad is not None]
            if gs:
                norms.append(float(torch.stack(torch._foreach_norm(gs)).norm()))
        if len(norms) < 2:
            return
        first, last = norms[0], norms[-1]
        ratio = first / last if last > 0 else math.inf
        vanishing = ratio < t.vanishing_ratio and first < t.vanishing_first_norm
        if self._streak.update("vanishing", vanishing) >= t.patience:
            self._report(
                "vanishing",
                "vanishing-gradient",
                None,
                f"first layer's gradient norm {first:.3g} is {ratio:.3g}x the last layer's"
                f" ({last:.3g}) on {t.patience} checks in a row",
                first=first,
                last=last,
            )

    def _scheduler_count(self) -> int | None:
        if self.scheduler is None:
            return None
        return int(getattr(self.scheduler, "last_epoch", 0))

    def _lr_code(self) -> str:
        count = self._scheduler_count()
        if (
            count is not None
            and type(self.scheduler).__name__ in _EPOCH_SCHEDULERS
            and count - (self._scheduler_epoch_start or 0) > 1
        ):
            return "TL006"
        return "TL004"

    def _check_lr(self) -> None:
        if self.optimizer is None:
            return
        t = self.thresholds
        for i, g in enumerate(self.optimizer.param_groups[: len(self._initial_lr)]):
            lr = float(g["lr"])
            initial = self._initial_lr[i]
            history = self._epoch_lrs[i]
            history.append(lr)
            if initial > 0 and (lr == 0.0 or lr < t.lr_collapse_ratio * initial):
                code = self._lr_code()
                self._report(
                    ("lr-collapsed", i),
                    "lr-collapsed",
                    code,
                    f"learning rate of param group {i} is {lr:.3g} (initial {initial:.3g}):"
                    + (
                        " an epoch scheduler stepped every batch"
                        if code == "TL006"
                        else " a per-batch multiplicative update (g['lr'] *= ...)? "
                        "(TL006 if an epoch scheduler steps every batch)"
                    ),
                    group=i,
                    lr=lr,
                    initial_lr=initial,
                )
            self._check_geometric(i, history)

    def _check_geometric(self, i: int, history: list[float]) -> None:
        t = self.thresholds
        if len(history) < 2 or history[-1] >= history[-2] or history[-2] <= 0:
            return
        factors = [b / a for a, b in zip(history, history[1:]) if a > 0 and b < a]
        last = factors[-1]
        same = [f for f in factors if abs(f - last) <= 1e-6 * max(abs(last), 1e-300)]
        if len(same) >= t.geometric_decays and history[-1] < t.geometric_drop * history[0]:
            code = self._lr_code()
            self._report(
                ("lr-geometric", i),
                "lr-shrinking-geometrically",
                code,
                f"learning rate of param group {i} was multiplied by {last:.3g} {len(same)}"
                f" times within one epoch ({history[0]:.3g} -> {history[-1]:.3g}): a decay"
                " meant per epoch or per stage runs per batch",
                group=i,
                factor=last,
                decays=len(same),
            )

    # -- predictions -----------------------------------------------------------
    def observe(self, outputs, targets=None) -> None:
        """Check predictions for collapse (every ``check_every`` calls, after ``collapse_after``).

        Float ``targets`` of the same shape: prediction variance vs target variance.
        2-D ``outputs`` with integer or no ``targets``: argmax class shares.
        """
        t = self.thresholds
        check = self._observations % t.check_every == 0
        self._observations += 1
        if (
            not check
            or self._observations <= t.collapse_after
            or not isinstance(outputs, torch.Tensor)
            or outputs.shape[0] < t.min_batch
        ):
            return
        out = outputs.detach()
        if (
            isinstance(targets, torch.Tensor)
            and targets.is_floating_point()
            and targets.shape == out.shape
        ):
            tv = float(targets.detach().float().var(0).mean())
            pv = float(out.float().var(0).mean())
            ratio = pv / tv if tv > 0 else math.inf
            collapsed = ratio < t.prediction_variance_ratio
            if self._streak.update("pred-collapse", collapsed) >= t.patience:
                self._report(
                    "pred-collapse",
                    "prediction-collapse",
                    None,
                    f"prediction variance across the batch is {ratio:.3g}x the target's"
                    f" (< {t.prediction_variance_ratio:g}) on {t.patience} checks in a row:"
                    " predictions are collapsing to the same values",
                    variance_ratio=ratio,
                )
            return
        if out.dim() == 2 and out.shape[1] >= 2:
            pred = out.argmax(1)
            counts = torch.bincount(pred, minlength=out.shape[1])
            top = int(counts.argmax())
            share = float(counts[top]) / pred.numel()
            own = None
            if isinstance(targets, torch.Tensor) and not targets.is_floating_point():
                own = float((targets.detach().reshape(-1) == top).float().mean())
            collapsed = share > t.class_share and (own is None or own <= 0.5)
            if self._streak.update("class-collapse", collapsed) >= t.patience:
                self._report(
                    "class-collapse",
                    "class-collapse",
                    None,
                    f"class {top} takes {share:.0%} of argmax predictions on {t.patience}"
                    " checks in a row",
                    top_class=top,
                    share=share,
                )

    # -- per step / per epoch --------------------------------------------------
    def backward(self, loss, terms: dict[str, Any] | None = None, **backward_kwargs: Any) -> None:
        """``loss.backward()`` with the probes around it (term checks before, gradients after)."""
        if terms:
            self.check_terms(terms)
        loss.backward(**backward_kwargs)
        self.after_backward()

    def end_epoch(self) -> None:
        """Close an epoch: TL005 if the total gradient norm was exactly 0 for all of it."""
        if self._epoch_steps and self._epoch_max_grad is not None:
            max_grad = float(self._epoch_max_grad)
            if max_grad == 0.0:
                self._report(
                    ("zero-grad-epoch", self.epoch),
                    "no-gradient-epoch",
                    "TL005",
                    f"total gradient norm was exactly 0 for all {self._epoch_steps} steps of"
                    f" epoch {self.epoch}: no supervision (a warm-up ramp on the primary loss"
                    " weight?)",
                    steps=self._epoch_steps,
                )
        self.epoch += 1
        self._epochs_ended += 1
        self._epoch_steps = 0
        self._epoch_max_grad = None
        self._scheduler_epoch_start = self._scheduler_count()
        for h in self._epoch_lrs:
            h.clear()


def watch(model, optimizer=None, **kwargs: Any) -> Watch:
    """Attach the probes to ``model`` (and ``optimizer``); use as a context manager.

    Keyword arguments go to :class:`Watch`: ``scheduler``, ``thresholds``,
    ``on_finding``, or any :class:`Thresholds` field (``check_every=1``).
    """
    return Watch(model, optimizer, **kwargs)
