"""Runs each rule's reference pair on the same seeds and turns numbers into verdicts."""

from __future__ import annotations

import importlib
import math
import os
import platform
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from torchlint.runtime._torch import import_torch
from torchlint.runtime.stats import Claim, decide, fmt, summarize


def _discover_rule_codes() -> tuple[str, ...]:
    """Every ``reference_tlNNN.py`` next to this module, as rule codes in order."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = (re.fullmatch(r"reference_(tl\d{3})\.py", name) for name in os.listdir(here))
    return tuple(sorted(m.group(1).upper() for m in found if m))


#: Rule codes with a reference pair (a ``reference_tlNNN.py`` module), in report order.
RULE_CODES = _discover_rule_codes()
DEFAULT_SEEDS = 5
QUICK_SEEDS = 3
SCHEMA_VERSION = 1


class HarnessError(RuntimeError):
    """The run itself could not go ahead (bad device, unknown rule code)."""


def _json_number(value: Any) -> Any:
    # JSON has no inf/nan; strings keep the output parseable by any JSON reader.
    if isinstance(value, float) and not math.isfinite(value):
        return fmt(value)
    if isinstance(value, dict):
        return {k: _json_number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_number(v) for v in value]
    return value


@dataclass
class ClaimResult:
    """One claim with its measurements (per seed) and verdict."""

    claim: Claim
    buggy: list[float]
    fixed: list[float]
    verdict: str
    reason: str
    effects: list[float]
    separated: bool
    p_separation: float | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Stable, JSON-ready form (non-finite numbers become ``"inf"``/``"nan"``)."""
        c = self.claim
        return _json_number(
            {
                "id": c.id,
                "claim": c.text,
                "source": c.source,
                "kind": c.kind,
                "metric": c.metric,
                "direction": c.direction,
                "compare": c.compare,
                "threshold": c.threshold,
                "buggy": {"values": list(self.buggy), **summarize(self.buggy)},
                "fixed": {"values": list(self.fixed), **summarize(self.fixed)},
                "per_seed_effect": list(self.effects),
                "separated": self.separated,
                "p_separation": self.p_separation,
                "verdict": self.verdict,
                "reason": self.reason,
                "details": self.details,
            }
        )


@dataclass
class RuleResult:
    """A rule's reference run: its claims, where and how long it ran, or the error."""

    code: str
    name: str
    task: str
    buggy_code: str
    fixed_code: str
    device: str
    seeds: list[int]
    quick: bool
    wall_time_s: float
    claims: list[ClaimResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    curves: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Stable, JSON-ready form; plot curves are left out (they go to ``--plots``)."""
        return {
            "code": self.code,
            "name": self.name,
            "task": self.task,
            "buggy_code": self.buggy_code,
            "fixed_code": self.fixed_code,
            "device": self.device,
            "seeds": list(self.seeds),
            "quick": self.quick,
            "wall_time_s": round(self.wall_time_s, 3),
            "claims": [c.to_dict() for c in self.claims],
            "notes": list(self.notes),
            "error": self.error,
        }


class RunContext:
    """What a reference gets: torch, device, seeds, run size, and places to put numbers."""

    def __init__(self, torch, device, seeds: Sequence[int], quick: bool, tick: Callable[[], None]):
        self.torch = torch
        self.device = device
        self.seeds = list(seeds)
        self.quick = quick
        self._tick = tick
        self.measured: dict[str, tuple[list[float], list[float], dict[str, Any]]] = {}
        self.curves: dict[str, dict[str, list[list[float]]]] = {}
        self.notes: list[str] = []
        self.total_units = 1

    def plan(self, units: int) -> None:
        """Announce how many progress units the reference will tick."""
        self.total_units = max(1, units)

    def tick(self) -> None:
        """One unit of work done (drives the progress bar)."""
        self._tick()

    def steps(self, full: int, quick: int) -> int:
        """Pick the full or the ``--quick`` size of a loop."""
        return quick if self.quick else full

    def record(
        self, claim_id: str, buggy: Sequence[float], fixed: Sequence[float], **details: Any
    ) -> None:
        """Store one claim's per-seed values (same seed at the same index)."""
        self.measured[claim_id] = (
            [float(v) for v in buggy],
            [float(v) for v in fixed],
            details,
        )

    def curve(self, name: str, arm: str, values: Sequence[float]) -> None:
        """Append one seed's curve (e.g. validation loss per step) for ``--plots``."""
        self.curves.setdefault(name, {}).setdefault(arm, []).append([float(v) for v in values])

    def note(self, text: str) -> None:
        """A sentence for the report that is not a claim (e.g. a third variant's numbers)."""
        self.notes.append(text)


def reference_module(code: str):
    """Import the reference pair module for ``code`` (``TL001`` ... ``TL006``)."""
    if code not in RULE_CODES:
        raise HarnessError(f"no reference pair for {code!r}; known: {', '.join(RULE_CODES)}")
    return importlib.import_module(f"torchlint.runtime.reference_{code.lower()}")


def select_device(torch, requested: str = "auto"):
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if requested not in ("auto", "cpu", "cuda"):
        raise HarnessError(f"unknown device {requested!r}; expected auto, cpu or cuda")
    if requested == "cuda" and not torch.cuda.is_available():
        raise HarnessError("--device cuda was asked for, but torch sees no CUDA device")
    if requested == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def describe_device(torch, device) -> str:
    """A one-line description of where the run happened, for reports."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)}), torch {torch.__version__}"
    cores = os.cpu_count() or 1
    return (
        f"cpu ({platform.machine()}, {cores} cores, {torch.get_num_threads()} torch thread(s)),"
        f" torch {torch.__version__}"
    )


def run_rule(
    code: str,
    torch,
    device,
    seeds: Sequence[int],
    quick: bool,
    progress: Callable[[str, int, int], None] | None = None,
) -> RuleResult:
    """Run one rule's reference pair and decide every claim; errors land in ``error``."""
    return run_reference(reference_module(code), torch, device, seeds, quick, progress)


def run_reference(
    module,
    torch,
    device,
    seeds: Sequence[int],
    quick: bool,
    progress: Callable[[str, int, int], None] | None = None,
) -> RuleResult:
    """Run a reference pair module (``CODE``, ``NAME``, ``TASK``, ``BUGGY_CODE``,
    ``FIXED_CODE``, ``CLAIMS``, ``run(ctx)``) and decide every claim."""
    code = module.CODE
    desc = describe_device(torch, device)
    done = [0]
    ctx: RunContext

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(code, done[0], ctx.total_units)

    ctx = RunContext(torch, device, seeds, quick, tick)
    result = RuleResult(
        code=code,
        name=module.NAME,
        task=module.TASK,
        buggy_code=module.BUGGY_CODE,
        fixed_code=module.FIXED_CODE,
        device=desc,
        seeds=list(seeds),
        quick=quick,
        wall_time_s=0.0,
    )
    start = time.perf_counter()
    try:
        module.run(ctx)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.wall_time_s = time.perf_counter() - start
    result.notes = ctx.notes
    result.curves = ctx.curves
    for claim in module.CLAIMS:
        if claim.id not in ctx.measured:
            if result.error is None:
                result.error = f"reference did not measure claim {claim.id!r}"
            continue
        buggy, fixed, details = ctx.measured[claim.id]
        v = decide(claim, buggy, fixed)
        result.claims.append(
            ClaimResult(
                claim=claim,
                buggy=buggy,
                fixed=fixed,
                verdict=v.verdict,
                reason=v.reason,
                effects=list(v.effects),
                separated=v.separated,
                p_separation=v.p_separation,
                details=details,
            )
        )
    return result


def confirm_rules(
    codes: Sequence[str] | None = None,
    device: str = "auto",
    seeds: int | None = None,
    quick: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[RuleResult]:
    """Run the reference pairs of ``codes`` (all rules when empty) and return their results.

    ``seeds`` defaults to 5 (3 with ``quick``); seeds are ``0 .. seeds-1`` and both
    arms of a pair share each seed. ``progress(code, done, total)`` is called as
    work completes. Raises :class:`HarnessError` for an unknown code or device.
    """
    wanted = [c.upper() for c in codes] if codes else list(RULE_CODES)
    for code in wanted:
        reference_module(code)
    n_seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)
    if n_seeds < 1:
        raise HarnessError("--seeds must be at least 1")
    torch = import_torch()
    dev = select_device(torch, device)
    if dev.type == "cpu":
        # The reference models are tiny: one thread avoids pool overhead, and
        # the machine may be shared with other work.
        torch.set_num_threads(1)
    return [run_rule(code, torch, dev, range(n_seeds), quick, progress) for code in wanted]


def run_metadata(results: Sequence[RuleResult]) -> dict[str, Any]:
    """Top-level fields of the JSON report."""
    from torchlint.runtime import __version__

    torch = import_torch()
    return {
        "schema_version": SCHEMA_VERSION,
        "torchlint": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": results[0].device if results else None,
        "seeds": results[0].seeds if results else [],
        "quick": results[0].quick if results else False,
        "wall_time_s": round(sum(r.wall_time_s for r in results), 3),
    }
