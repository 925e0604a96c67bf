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

Cost model: every step the probes read the learning rates (Python floats), check
that each named loss term has a ``grad_fn`` and add the loss to a running sum kept
on the device -- no host sync, nothing that grows with the run. Everything else runs
on *check steps* only: steps 0, 10, 25, 50 and then every ``check_every`` (100)
steps. On a check step the forward hooks are attached to every submodule for one
forward, the gradients, parameters and loss window are read once, and each named
term gets one extra backward pass. Every threshold is a field of :class:`Thresholds`;
docs/runtime.md gives each one with the healthy and buggy measurements behind it.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

from torchlint.runtime._torch import import_torch
from torchlint.runtime.syncs import SYNC_METHODS, count_host_syncs

torch = import_torch()

from torch.overrides import TorchFunctionMode  # noqa: E402

__all__ = [
    "Finding",
    "Thresholds",
    "TrainingProbeWarning",
    "Watch",
    "count_host_syncs",
    "watch",
]

_EPOCH_SCHEDULERS = ("StepLR", "MultiStepLR", "ExponentialLR")
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_SQUASH = frozenset({"sigmoid", "sigmoid_"})
_RELU = frozenset({"relu", "relu_"})
_ADD = frozenset(
    {"add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__"}
)
_PASS_THROUGH = frozenset(
    {
        "view",
        "view_as",
        "reshape",
        "reshape_as",
        "unsqueeze",
        "squeeze",
        "flatten",
        "unflatten",
        "__getitem__",
        "permute",
        "transpose",
        "contiguous",
        "clone",
        "expand",
        "expand_as",
        "to",
        "float",
        "detach",
        "narrow",
    }
)


def _primary_words() -> frozenset[str]:
    """Names of primary (supervision) terms: TL005's vocabulary, shared with the static rule."""
    try:
        from torchlint.rules.tl005_ramped_primary_loss import DEFAULT_PRIMARY_LOSS_NAMES
    except ImportError:  # pragma: no cover - the rules ship with the runtime
        DEFAULT_PRIMARY_LOSS_NAMES = ["reconstruction", "recon", "rec", "mse", "ce", "nll"]
    return frozenset(DEFAULT_PRIMARY_LOSS_NAMES) | {"loss_rec", "task", "main", "primary"}


_PRIMARY = _primary_words()


def _is_primary_name(name: str) -> bool:
    from torchlint.semantics.vocabulary import identifier_words

    words = set(identifier_words(name)) | {name.lower()}
    return bool(words & _PRIMARY)


class TrainingProbeWarning(RuntimeWarning):
    """Emitted (by default) for each finding of a :class:`Watch`."""


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the probes use; override any with ``Thresholds(field=value)``.

    The defaults were chosen on the healthy and buggy training runs of
    ``tests/runtime/training_runs.py``; docs/runtime.md lists the values measured
    there next to each threshold.
    """

    # When the expensive checks run.
    check_every: int = 100
    early_checks: tuple[int, ...] = (10, 25, 50)
    # Learning rate (TL004 / TL006): same-factor decays on nearby steps.
    geometric_decays: int = 3
    geometric_drop: float = 1e-3
    geometric_window: int = 100
    # Loss terms (TL003 / TL005).
    no_gradient_checks: int = 2
    # Forward (TL002): forwards whose host syncs are counted.
    sync_forwards: int = 3
    # Gradients.
    explode_growth: float = 1e3
    explode_before_nan: float = 20.0
    vanishing_ratio: float = 1e-3
    vanishing_first_norm: float = 1e-4
    # Dead ReLU: share of a ReLU call's units that are <= 0 for the whole batch.
    dead_fraction: float = 0.7
    dead_min_batch: int = 16
    # Term balance: gradient ratio on shared parameters, and lost output spread.
    balance_ratio: float = 10.0
    spread_ratio: float = 0.1
    # Class collapse.
    class_diversity_ratio: float = 0.3
    class_share: float = 0.9
    class_accuracy: float = 0.5
    collapse_after: int = 100
    # Stalled loss.
    stall_after: int = 300
    stall_drop: float = 0.01
    stall_move: float = 5e-4
    # Unchanged parameters.
    unchanged_steps: int = 40
    # Shared.
    patience: int = 2
    min_batch: int = 8


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


def _tensors(value: Any) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _batch_var(t) -> Any:
    return t.detach().float().reshape(t.shape[0], -1).var(0).mean()


class _Capture(TorchFunctionMode):
    """One forward under observation: host syncs, double squashes, dead ReLUs."""

    def __init__(self, counting: bool, sampling: bool) -> None:
        super().__init__()
        self.counting = counting
        self.sampling = sampling
        self.syncs: list[str] = []
        self.squashed: dict[int, Any] = {}
        self.residual: dict[int, Any] = {}
        self.double_squash = 0
        self.dead: list[Any] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if self.counting and name in SYNC_METHODS:
            caller = sys._getframe(1).f_code.co_filename
            # Syncs inside torch itself (torch.distributions' argument checks) are not
            # the user's branch.
            if not os.path.abspath(caller).startswith(_TORCH_DIR):
                self.syncs.append(name)
        if not self.sampling:
            return func(*args, **kwargs)
        x = args[0] if args else None
        is_tensor = isinstance(x, torch.Tensor)
        if name in _RELU and is_tensor and x.dim() >= 2 and x.shape[0] >= 2:
            with torch._C.DisableTorchFunction():
                inactive = (x.detach() <= 0).all(0)
                if inactive.dim() > 1:  # channels of a feature map: all positions
                    inactive = inactive.flatten(1).all(1)
                self.dead.append((x.shape[0], inactive.float().mean()))
        if name in _SQUASH and is_tensor and id(x) in self.residual:
            self.double_squash += 1
        out = func(*args, **kwargs)
        if not isinstance(out, torch.Tensor):
            return out
        if name in _SQUASH:
            self.squashed[id(out)] = out
        elif name in _PASS_THROUGH and is_tensor:
            if id(x) in self.squashed:
                self.squashed[id(out)] = out
            if id(x) in self.residual:
                self.residual[id(out)] = out
        elif name in _ADD:
            operands = [a for a in args[:2] if isinstance(a, torch.Tensor)]
            if len(operands) == 2 and any(id(a) in self.squashed for a in operands):
                self.residual[id(out)] = out
        return out


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
        self.checks = 0
        self.term_shares: dict[str, float] = {}
        self.syncs_per_forward: list[int] = []
        self._reported: set[Any] = set()
        self._streak = _Streak()
        self._observations = 0
        self._epoch_steps = 0
        self._epochs_ended = 0
        self._epoch_zero_grad: bool | None = None
        # Learning rate: O(1) state per param group (groups added later included).
        self._lr_state: list[dict[str, Any]] = []
        # Forward capture.
        self._hooks: list[Any] = []
        self._depth = 0
        self._capture: _Capture | None = None
        self._sync_forwards_left = self.thresholds.sync_forwards
        self._sample_pending = True
        self._spread: tuple[int, float] | None = None
        # Check-step state.
        self._named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._layers = self._layer_index()
        self._first_grad: float | None = None
        self._prev_norms: list[float] | None = None
        self._prev_norm_step = 0
        self._unchanged_since: dict[str, int] = {}
        self._losses: list[Any] = []
        self._loss_windows: list[float] = []
        self._first_param_norm: float | None = None
        self._dominance: dict[str, tuple[float, int]] = {}
        self._max_growth = 1.0
        self._window = [0.0, 0]
        in_optimizer = set()
        if optimizer is not None:
            in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
        self._optimized = [id(p) in in_optimizer for _, p in self._named]
        self._arm()

    # -- context manager -------------------------------------------------------
    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Remove the hooks; a run that never called :meth:`end_epoch` counts as one epoch."""
        if self._epochs_ended == 0 and self._epoch_steps:
            self.end_epoch()
        self._disarm()

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

    def kinds(self) -> list[str]:
        """Finding kinds reported so far, in order."""
        return [f.kind for f in self.findings]

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
            "checks": self.checks,
            "findings": [f.to_dict() for f in self.findings],
            "term_shares": dict(self.term_shares),
            "syncs_per_forward": list(self.syncs_per_forward),
        }

    def is_check_step(self, step: int) -> bool:
        """Whether the expensive checks run at ``step``."""
        t = self.thresholds
        return step % t.check_every == 0 or step in t.early_checks

    # -- forward hooks, attached only while a forward is wanted -----------------
    def _layer_index(self) -> list[list[int]]:
        ids = {id(p): i for i, (_, p) in enumerate(self._named)}
        layers = []
        for m in self.model.modules():
            own = [ids[id(p)] for p in m.parameters(recurse=False) if id(p) in ids]
            if own:
                layers.append(own)
        return layers

    def _arm(self) -> None:
        if self._hooks:
            return
        # Every submodule: a Lightning training_step may call self.net(x), not self(x).
        for m in self.model.modules():
            self._hooks.append(m.register_forward_pre_hook(self._pre_forward))
            self._hooks.append(m.register_forward_hook(self._post_forward, always_call=True))

    def _disarm(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []
        self._depth = 0
        if self._capture is not None:
            self._capture.__exit__(None, None, None)
            self._capture = None

    def _pre_forward(self, module, args) -> None:
        self._depth += 1
        if self._depth != 1:
            return
        counting = self._sync_forwards_left > 0
        capture = _Capture(counting, self._sample_pending)
        capture.inputs = _tensors(args)
        self._capture = capture
        capture.__enter__()

    def _post_forward(self, module, args, output) -> None:
        self._depth -= 1
        if self._depth != 0 or self._capture is None:
            return
        capture = self._capture
        self._capture = None
        capture.__exit__(None, None, None)
        if capture.counting:
            self._sync_forwards_left -= 1
            self.syncs_per_forward.append(len(capture.syncs))
            if capture.syncs:
                names = sorted(set(capture.syncs))
                self._report(
                    "syncs",
                    "host-sync-in-forward",
                    "TL002",
                    f"forward made {len(capture.syncs)} host sync(s) ({', '.join(names)}): a"
                    " Python branch or value read on a tensor; it breaks torch.compile graphs,"
                    " stalls CUDA and can couple samples in a batch",
                    syncs=len(capture.syncs),
                    calls=names,
                )
        if capture.sampling:
            self._sample_pending = False
            self._after_sampled_forward(capture, output)
        if self._sync_forwards_left <= 0 and not self._sample_pending:
            self._disarm()

    def _after_sampled_forward(self, capture: _Capture, output) -> None:
        t = self.thresholds
        if capture.double_squash:
            self._report(
                "double-squash",
                "sigmoid-after-residual",
                "TL001",
                "a sigmoid is applied to (sigmoid output + residual): with a zero residual"
                " the head cannot return its input, and the output is squashed twice",
                calls=capture.double_squash,
            )
        with torch.no_grad():
            if capture.dead:
                big = [f for n, f in capture.dead if n >= t.dead_min_batch]
                worst = float(torch.stack(big).max()) if big else 0.0
                if self._streak.update("dead-relu", worst >= t.dead_fraction) >= t.patience:
                    self._report(
                        "dead-relu",
                        "dead-relu",
                        None,
                        f"{worst:.0%} of a ReLU layer's units are inactive for the whole batch"
                        f" on {t.patience} checks in a row (dead ReLU: no gradient flows"
                        " through them)",
                        fraction=worst,
                    )
            outs = [o for o in _tensors(output) if o.is_floating_point() and o.dim() >= 1]
            ins = [i for i in capture.inputs if i.is_floating_point() and i.dim() >= 1]
            ratios = []
            for o in outs:
                if o.shape[0] < t.min_batch:
                    continue
                for i in ins:
                    if i.shape == o.shape:
                        ratios.append(_batch_var(o) / _batch_var(i).clamp_min(1e-12))
                        break
            if ratios:
                self._spread = (self.step, float(torch.stack(ratios).min()))

    # -- loss terms ------------------------------------------------------------
    def check_terms(self, terms: dict[str, Any]) -> None:
        """Check named loss terms (as they enter the loss, weights applied).

        Must run before ``backward`` frees the graph. Every call checks for terms
        without ``grad_fn`` (TL003); on check steps it also measures each term's
        gradient (TL003 silent terms, TL005 zero-weighted primary terms, balance).
        """
        t = self.thresholds
        live = {}
        for name, term in terms.items():
            if isinstance(term, torch.Tensor) and term.grad_fn is not None:
                live[name] = term
                continue
            on_device = isinstance(term, torch.Tensor) and term.device.type != "cpu"
            if on_device and not self.is_check_step(self.step):
                continue  # reading it would be a host sync
            value = float(term.detach().sum()) if isinstance(term, torch.Tensor) else term
            if isinstance(value, (int, float)) and value != 0:
                self._report(
                    ("no-grad-fn", name),
                    "loss-term-without-grad",
                    "TL003",
                    f"loss term {name!r} is a constant {value:.4g} without grad_fn: it adds to"
                    " the logged loss but trains nothing",
                    term=name,
                )
        if not live or not self.is_check_step(self.step):
            return
        params = [p for _, p in self._named]
        grads = {
            name: torch.autograd.grad(term.sum(), params, retain_graph=True, allow_unused=True)
            for name, term in live.items()
        }
        with torch.no_grad():
            rows = []
            for name, gs in grads.items():
                zero = torch.zeros((), device=live[name].device)
                norms = [g.float().norm() if g is not None else zero for g in gs]
                rows.append(torch.stack([live[name].detach().float().sum(), *norms]))
            table = torch.stack(rows).tolist()  # one host sync per check step
        values = {name: row[0] for name, row in zip(grads, table)}
        pnorms = {name: row[1:] for name, row in zip(grads, table)}
        for name in live:
            used = any(n > 0 for n in pnorms[name])
            zero = values[name] == 0
            primary_zero = zero and _is_primary_name(name)
            silent = not used and (primary_zero or not zero)
            if self._streak.update(("silent", name), silent) >= t.no_gradient_checks:
                self._report(
                    ("silent", name),
                    "loss-term-zero-weight" if primary_zero else "loss-term-no-gradient",
                    "TL005" if primary_zero else "TL003",
                    (
                        f"primary loss term {name!r} is exactly 0 and gives no gradient on"
                        f" {t.no_gradient_checks} checks in a row: a warm-up ramp on the"
                        " primary term's weight (ramp only the auxiliary terms)"
                    )
                    if primary_zero
                    else (
                        f"loss term {name!r} gave no gradient on {t.no_gradient_checks}"
                        " checks in a row: it adds to the loss but trains nothing"
                    ),
                    term=name,
                )
        self._check_balance(pnorms)

    def _check_balance(self, pnorms: dict[str, list[float]]) -> None:
        t = self.thresholds
        if len(pnorms) < 2:
            return
        count = len(next(iter(pnorms.values())))
        shared = [i for i in range(count) if sum(row[i] > 0 for row in pnorms.values()) >= 2]
        if not shared:
            return
        norms = {name: math.sqrt(sum(row[i] ** 2 for i in shared)) for name, row in pnorms.items()}
        total = sum(norms.values()) or 1.0
        self.term_shares = {name: n / total for name, n in norms.items()}
        ranked = sorted(norms.items(), key=lambda kv: kv[1], reverse=True)
        top, top_norm = ranked[0]
        rest = [n for _, n in ranked[1:] if n > 0]
        ratio = top_norm / max(rest) if rest else 0.0
        if ratio >= t.balance_ratio and ratio > self._dominance.get(top, (0.0, 0))[0]:
            self._dominance[top] = (ratio, self.step)
        # An untrained network's outputs have little spread: judge it once training is on.
        spread = self._spread[1] if self._spread is not None else None
        lost = spread is not None and spread < t.spread_ratio and self.step >= t.collapse_after
        if not self._dominance or not lost:
            self._streak.update("balance", False)
            return
        top, (ratio, at) = max(self._dominance.items(), key=lambda kv: kv[1][0])
        if self._streak.update("balance", True) >= t.patience:
            shares = ", ".join(f"{k} {v:.1%}" for k, v in self.term_shares.items())
            self._report(
                ("balance", top),
                "loss-term-dominates",
                None,
                f"loss term {top!r} had {ratio:.3g}x the gradient norm of every other term on the"
                f" shared parameters (step {at}; latest shares: {shares}) and the outputs' spread"
                f" across the batch fell to {spread:.3g}x the inputs'/targets' on"
                f" {t.patience} checks in a row: the other terms barely train and the"
                " outputs are collapsing",
                shares=dict(self.term_shares),
                ratio=ratio,
                spread=spread,
            )

    # -- after backward: gradients and learning rates --------------------------
    def after_backward(self, loss=None) -> None:
        """Per step: learning rates; on check steps: gradients, parameters, loss window."""
        if loss is not None:
            self.add_loss(loss)
        self._check_lr()
        if self.is_check_step(self.step):
            self._check_gradients()
        self.step += 1
        self._epoch_steps += 1
        if self.is_check_step(self.step):
            self._sample_pending = True
            self._arm()

    def add_loss(self, loss) -> None:
        """Add a step's loss to the running window (kept on the device: no host sync)."""
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            # At most check_every entries: summed and cleared on the next check step.
            self._losses.append(loss.detach())

    def _check_gradients(self) -> None:
        t = self.thresholds
        self.checks += 1
        params = [p for _, p in self._named]
        if not params:
            return
        with torch.no_grad():
            device = params[0].device
            zero = torch.zeros((), device=device)
            has_grad = [p.grad is not None for p in params]
            with_grad = torch._foreach_norm([p.grad for p in params if p.grad is not None])
            it = iter(with_grad)
            gnorm = [next(it).float() if h else zero for h in has_grad]
            pnorm = [n.float() for n in torch._foreach_norm(params)]
            losses, self._losses = self._losses, []
            loss = torch.stack(losses).float().sum().to(device) if losses else zero
            count = torch.tensor(float(len(losses)), device=device)
            row = torch.stack([*gnorm, *pnorm, loss, count]).tolist()  # one host sync
        n = len(params)
        grads, norms, loss_sum, loss_count = row[:n], row[n : 2 * n], row[2 * n], row[2 * n + 1]
        if loss_count:
            mean = loss_sum / loss_count
            if not math.isfinite(mean):
                self._report(
                    "nonfinite-loss",
                    "nan-or-inf-loss",
                    None,
                    f"the loss was {mean} in the steps before this check: NaN/Inf (a log or"
                    " division of 0, or exploding gradients)",
                )
                self._exploded_before_nan("loss")
            self._window[0] += loss_sum
            self._window[1] += loss_count
            if self.step % t.check_every == 0 and self.step > 0 and math.isfinite(mean):
                self._loss_windows.append(self._window[0] / self._window[1])
                self._window = [0.0, 0]
                del self._loss_windows[1:-3]  # the first window and the latest ones
        if not all(map(math.isfinite, norms)):
            bad = [self._named[i][0] for i, v in enumerate(norms) if not math.isfinite(v)]
            self._report(
                "nonfinite-params",
                "nan-or-inf-parameters",
                None,
                f"parameters contain NaN/Inf ({', '.join(bad[:3])}): training has diverged",
                parameters=bad,
            )
            self._exploded_before_nan("parameters")
            return
        if not any(has_grad):
            return
        total = math.sqrt(sum(g * g for g in grads)) if all(map(math.isfinite, grads)) else math.inf
        if self._streak.update("nonfinite-grad", not math.isfinite(total)) >= t.patience:
            self._report(
                "nonfinite-grad",
                "nan-or-inf-gradient",
                None,
                f"gradients contain NaN/Inf on {t.patience} checks in a row",
            )
        if not math.isfinite(total):
            return
        self._check_explosion(total, grads, norms)
        self._check_zero_and_vanishing(total, grads)
        self._check_unchanged(grads, norms)
        self._check_stall(norms)

    def _exploded_before_nan(self, what: str) -> None:
        t = self.thresholds
        if self._max_growth >= t.explode_before_nan:
            self._report(
                "exploding-gradient",
                "exploding-gradient",
                None,
                f"the total gradient norm grew {self._max_growth:.3g}x over its first value and"
                f" then the {what} turned NaN/Inf: exploding gradients (lower the learning"
                " rate, clip gradients, check the initialisation)",
                growth=self._max_growth,
            )

    def _check_explosion(self, total: float, grads: list[float], norms: list[float]) -> None:
        t = self.thresholds
        if self._first_grad is None:
            if total > 0:
                self._first_grad = total
            return
        growth = total / self._first_grad
        self._max_growth = max(self._max_growth, growth)
        if growth >= t.explode_growth:
            self._report(
                "exploding-gradient",
                "exploding-gradient",
                None,
                f"total gradient norm {total:.3g} is {growth:.3g}x its value at the first check"
                f" ({self._first_grad:.3g}): exploding gradients (lower the learning rate, clip"
                " gradients, check the initialisation)",
                norm=total,
                growth=growth,
            )

    def _check_zero_and_vanishing(self, total: float, grads: list[float]) -> None:
        t = self.thresholds
        if total == 0.0:
            if self._epoch_zero_grad is None:
                self._epoch_zero_grad = True
        else:
            self._epoch_zero_grad = False
        if self._streak.update("zero-grad", total == 0.0) >= t.patience + 1:
            dead = "dead-relu" in self._reported
            self._report(
                "zero-gradient",
                "no-gradient",
                None if dead else "TL005",
                "total gradient norm was exactly 0 on"
                f" {t.patience + 1} checks in a row: nothing trains"
                + (" (the ReLUs are dead)" if dead else " (a loss weight of 0: a warm-up ramp?)"),
            )
        layer_norms = [math.sqrt(sum(grads[i] ** 2 for i in layer)) for layer in self._layers]
        layer_norms = [v for v in layer_norms if v > 0]
        if len(layer_norms) < 2:
            return
        first, last = layer_norms[0], layer_norms[-1]
        ratio = first / last
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

    def _check_unchanged(self, grads: list[float], norms: list[float]) -> None:
        t = self.thresholds
        prev, since = self._prev_norms, self._prev_norm_step
        self._prev_norms, self._prev_norm_step = norms, self.step
        if prev is None:
            return
        for i, (name, _) in enumerate(self._named):
            watched = self._optimized[i] if self.optimizer is not None else True
            if watched and grads[i] > 1e-6 * max(norms[i], 1.0) and norms[i] == prev[i]:
                self._unchanged_since.setdefault(name, since)
            else:
                self._unchanged_since.pop(name, None)
        stuck = [
            name
            for name, start in self._unchanged_since.items()
            if self.step - start >= t.unchanged_steps
        ]
        if stuck and self.optimizer is None and len(stuck) < len(self._named):
            stuck = []  # without an optimizer, only "nothing changes at all" is reported
        if stuck:
            self._report(
                "unchanged-parameters",
                "parameters-not-updated",
                None,
                f"{len(stuck)} parameter(s) receive gradients but have not changed for"
                f" {self.step - min(self._unchanged_since[s] for s in stuck)} steps"
                f" ({', '.join(stuck[:3])}): a learning rate of 0, an optimizer over other"
                " tensors, or"
                " zero_grad() between backward() and step()",
                parameters=stuck,
            )

    def _check_stall(self, norms: list[float]) -> None:
        t = self.thresholds
        size = math.sqrt(sum(v * v for v in norms))
        if self._first_param_norm is None:
            self._first_param_norm = size
        windows = self._loss_windows
        if self.step < t.stall_after or len(windows) < 2 or self.step % t.check_every:
            return
        first = windows[0]
        best = min(windows[1:])
        moved = abs(size - self._first_param_norm) / max(self._first_param_norm, 1e-12)
        flat = best > first - t.stall_drop * abs(first)
        if flat and moved < t.stall_move:
            self._report(
                "stalled-loss",
                "loss-not-decreasing",
                None,
                f"the mean loss has not dropped by {t.stall_drop:.0%} in {self.step} steps"
                f" ({first:.4g} -> best {best:.4g}) and the weights have hardly moved"
                f" (parameter norm changed by {moved:.2g}x): a learning rate too small, or"
                " updates not reaching the weights",
                first=first,
                best=best,
                moved=moved,
            )

    # -- learning rates: O(1) per step and param group --------------------------
    def _scheduler_count(self) -> int | None:
        if self.scheduler is None:
            return None
        return int(getattr(self.scheduler, "last_epoch", 0))

    def _check_lr(self) -> None:
        if self.optimizer is None:
            return
        t = self.thresholds
        for i, g in enumerate(self.optimizer.param_groups):
            lr = float(g["lr"])
            if i >= len(self._lr_state):  # a group added after the watch (unfreezing)
                self._lr_state.append({"prev": lr, "count": 0})
                continue
            s = self._lr_state[i]
            prev = s["prev"]
            s["prev"] = lr
            if not (0 < lr < prev):
                if lr != prev:
                    s["count"] = 0
                continue
            factor = lr / prev
            same = s["count"] and abs(factor - s["factor"]) <= 1e-6 * s["factor"]
            near = self.step - s.get("last", -1) <= t.geometric_window
            if same and near:
                s["count"] += 1
            else:
                s.update(
                    count=1,
                    factor=factor,
                    start_lr=prev,
                    start_step=self.step,
                    # the scheduler step that made this first decay came before it
                    sched=(self._scheduler_count() or 0) - 1,
                )
            s["last"] = self.step
            if (
                s["count"] >= t.geometric_decays
                and lr < t.geometric_drop * s["start_lr"]
                and self.step - s["start_step"] <= t.geometric_window
            ):
                self._report_lr(i, s, lr)

    def _report_lr(self, i: int, s: dict[str, Any], lr: float) -> None:
        count = self._scheduler_count()
        code = "TL004"
        if (
            count is not None
            and type(self.scheduler).__name__ in _EPOCH_SCHEDULERS
            and count - (s["sched"] or 0) >= s["count"]
        ):
            code = "TL006"
        self._report(
            ("lr-geometric", i),
            "lr-shrinking-geometrically",
            code,
            f"learning rate of param group {i} was multiplied by {s['factor']:.3g}"
            f" {s['count']} times in {self.step - s['start_step'] + 1} steps"
            f" ({s['start_lr']:.3g} -> {lr:.3g}): "
            + (
                "an epoch scheduler stepped every batch"
                if code == "TL006"
                else "a decay meant per epoch or per stage runs per batch (g['lr'] *= ...)"
            ),
            group=i,
            factor=s["factor"],
            decays=s["count"],
        )

    # -- predictions -----------------------------------------------------------
    def observe(self, outputs, targets=None) -> None:
        """Predictions (and targets) of a step; looked at on check steps only.

        Float ``targets`` of the outputs' shape: the predictions' spread across the
        batch (for the balance check). 2-D ``outputs`` with integer or no
        ``targets``: class collapse, after ``collapse_after`` calls.
        """
        t = self.thresholds
        n = self._observations
        self._observations += 1
        if not self.is_check_step(n) or not isinstance(outputs, torch.Tensor):
            return
        if outputs.dim() == 0 or outputs.shape[0] < t.min_batch:
            return
        out = outputs.detach()
        if (
            isinstance(targets, torch.Tensor)
            and targets.is_floating_point()
            and targets.shape == out.shape
        ):
            with torch.no_grad():
                ratio = _batch_var(out) / _batch_var(targets).clamp_min(1e-12)
            if self._spread is None or self._spread[0] != self.step:
                self._spread = (self.step, float(ratio))
            return
        if n < t.collapse_after or out.dim() != 2 or out.shape[1] < 2:
            return
        self._check_classes(out, targets)

    def _check_classes(self, out, targets) -> None:
        t = self.thresholds
        classes = out.shape[1]
        with torch.no_grad():
            pred = out.argmax(1)
            counts = torch.bincount(pred, minlength=classes).float()
            labels = None
            if isinstance(targets, torch.Tensor) and not targets.is_floating_point():
                labels = targets.detach().reshape(-1)
                if labels.numel() != pred.numel():
                    labels = None
            rows = [counts]
            if labels is not None:
                rows.append(torch.bincount(labels.clamp(0, classes - 1), minlength=classes).float())
                rows.append((pred == labels).float().mean().reshape(1).expand(classes))
            table = torch.stack(rows).tolist()
        pc = table[0]
        total = sum(pc)
        top = max(range(classes), key=lambda k: pc[k])
        share = pc[top] / total

        def effective(row: list[float]) -> float:
            s = sum(row)
            return math.exp(-sum(c / s * math.log(c / s) for c in row if c > 0))

        k_pred = effective(pc)
        if labels is None:
            collapsed = share > t.class_share
            k_label = None
        else:
            lc, accuracy = table[1], table[2][0]
            k_label = effective(lc)
            own = lc[top] / total
            if k_label >= 3:
                few = k_pred < t.class_diversity_ratio * k_label
            else:
                few = share > t.class_share and own <= 0.6
            collapsed = few and accuracy < t.class_accuracy
        if self._streak.update("class-collapse", collapsed) >= t.patience:
            self._report(
                "class-collapse",
                "class-collapse",
                None,
                f"predictions fall on {k_pred:.2g} effective class(es)"
                + (f" while the labels span {k_label:.2g}" if k_label is not None else "")
                + f" (class {top} takes {share:.0%}) on {t.patience} checks in a row:"
                " class collapse (over-confident logits: scale, margin or temperature?)",
                top_class=top,
                share=share,
                effective_classes=k_pred,
                label_classes=k_label,
            )

    # -- per step / per epoch --------------------------------------------------
    def backward(self, loss, terms: dict[str, Any] | None = None, **backward_kwargs: Any) -> None:
        """``loss.backward()`` with the probes around it (term checks before, gradients after)."""
        if terms:
            self.check_terms(terms)
        loss.backward(**backward_kwargs)
        self.after_backward(loss)

    def end_epoch(self) -> None:
        """Close an epoch: TL005 if the total gradient norm was exactly 0 on all its checks."""
        if self._epoch_steps and self._epoch_zero_grad:
            self._report(
                ("zero-grad-epoch", self.epoch),
                "no-gradient-epoch",
                "TL005",
                f"total gradient norm was exactly 0 on every check of epoch {self.epoch}"
                f" ({self._epoch_steps} steps): no supervision (a warm-up ramp on the primary"
                " loss weight?)",
                steps=self._epoch_steps,
            )
        self.epoch += 1
        self._epochs_ended += 1
        self._epoch_steps = 0
        self._epoch_zero_grad = None


def watch(model, optimizer=None, **kwargs: Any) -> Watch:
    """Attach the probes to ``model`` (and ``optimizer``); use as a context manager.

    Keyword arguments go to :class:`Watch`: ``scheduler``, ``thresholds``,
    ``on_finding``, or any :class:`Thresholds` field (``check_every=1``).
    """
    return Watch(model, optimizer, **kwargs)
