"""Rendering ``torchlint confirm`` results as text, JSON or Markdown, and plots."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from torchlint.runtime.stats import CONFIRMED, INCONCLUSIVE, NOT_REPRODUCED, RATIO, fmt, summarize

VERDICT_ORDER = (CONFIRMED, NOT_REPRODUCED, INCONCLUSIVE)


def _values(values: Sequence[float]) -> str:
    if len(values) == 1:
        return fmt(values[0])
    s = summarize(values)
    return f"{fmt(s['mean'])} ± {fmt(s['std'])} [{fmt(s['min'])}..{fmt(s['max'])}]"


def _effects(claim_result) -> str:
    unit = "x" if claim_result.claim.compare == RATIO else ""
    return " ".join(fmt(e) + ("" if math.isinf(e) else unit) for e in claim_result.effects)


def _effect_label(claim_result) -> str:
    if claim_result.claim.compare == RATIO:
        return "ratio worse/better"
    return "difference (harmful direction)"


def _compact(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, float):
        return fmt(value)
    return str(value)


def details_line(claim_result) -> str:
    """The claim's extra numbers (``details``) on one line; empty when there are none."""
    return "; ".join(f"{k} = {_compact(v)}" for k, v in claim_result.details.items())


def verdict_counts(results) -> dict[str, int]:
    """How many claims got each verdict, over all rules."""
    counts = Counter(c.verdict for r in results for c in r.claims)
    return {v: counts.get(v, 0) for v in VERDICT_ORDER}


def _seeds(seeds: Sequence[int]) -> str:
    if not seeds:
        return "none"
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 1:
        return f"{seeds[0]}-{seeds[-1]} ({len(seeds)})"
    return ", ".join(map(str, seeds))


def render_text(results, meta: dict[str, Any]) -> str:
    """Human-readable report for the terminal."""
    lines = [
        f"torchlint confirm: device {meta['device']}; seeds {_seeds(meta['seeds'])}"
        f"{'; --quick' if meta['quick'] else ''}",
        "",
    ]
    for r in results:
        lines.append(f"{r.code} {r.name}  ({r.wall_time_s:.1f} s)")
        lines.append(f"  task: {r.task}")
        if r.error:
            lines.append(f"  ERROR: {r.error}")
        for c in r.claims:
            cl = c.claim
            origin = "" if cl.source == "rule" else f", claimed by the {cl.source}"
            lines.append(f"  [{c.verdict}] {cl.id} ({cl.kind}{origin}): {cl.text}")
            lines.append(f"      metric: {cl.metric}")
            lines.append(f"      buggy: {_values(c.buggy)}")
            lines.append(f"      fixed: {_values(c.fixed)}")
            lines.append(
                f"      per-seed {_effect_label(c)}: {_effects(c)}  (threshold {fmt(cl.threshold)})"
            )
            lines.append(f"      {c.reason}")
            if c.details:
                lines.append(f"      details: {details_line(c)}")
        for note in r.notes:
            lines.append(f"  note: {note}")
        lines.append("")
    counts = verdict_counts(results)
    total = sum(r.wall_time_s for r in results)
    lines.append(
        f"{len(results)} rule(s), {sum(counts.values())} claims: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + f"; {total:.1f} s"
    )
    return "\n".join(lines) + "\n"


def render_json(results, meta: dict[str, Any]) -> str:
    """The stable JSON schema (``schema_version`` 1): run metadata plus ``rules``."""
    payload = {**meta, "verdicts": verdict_counts(results), "rules": [r.to_dict() for r in results]}
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def evidence_paragraph(r) -> str:
    """A short Markdown "Evidence" paragraph for one rule's docs page."""
    parts = [
        f"Measured by `torchlint confirm` ({r.code}) on {r.device}, seeds {_seeds(r.seeds)}"
        f"{' (--quick)' if r.quick else ''}, {r.wall_time_s:.1f} s. Task: {r.task}."
    ]
    if r.error:
        parts.append(f"The run failed: {r.error}.")
    for c in r.claims:
        cl = c.claim
        scope = "deterministic probe" if len(c.buggy) == 1 else "per-seed"
        parts.append(
            f"**{cl.id}** ({cl.text}; {cl.metric}): buggy {_values(c.buggy)} vs fixed"
            f" {_values(c.fixed)}, {scope} {_effect_label(c)} {_effects(c)}"
            f" (threshold {fmt(cl.threshold)}) — **{c.verdict}**."
        )
    return " ".join(parts)


def render_markdown(results, meta: dict[str, Any]) -> str:
    """Markdown for the docs: one section per rule with a table and an Evidence paragraph."""
    counts = verdict_counts(results)
    out = [
        "## torchlint confirm results",
        "",
        f"- device: {meta['device']}",
        f"- seeds: {_seeds(meta['seeds'])}{' (--quick)' if meta['quick'] else ''}",
        f"- torchlint {meta['torchlint']}, torch {meta['torch']}, Python {meta['python']}",
        f"- wall time: {meta['wall_time_s']:.1f} s",
        "- verdicts: " + ", ".join(f"{n} {v}" for v, n in counts.items()),
        "",
    ]
    for r in results:
        out += [f"### {r.code} {r.name}", "", f"Task: {r.task}. Wall time {r.wall_time_s:.1f} s."]
        out.append("")
        if r.error:
            out += [f"**Run failed:** `{r.error}`", ""]
        out += [
            "| claim | source | kind | metric | buggy | fixed | per-seed effect | threshold"
            " | verdict |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in r.claims:
            cl = c.claim
            out.append(
                "| "
                + " | ".join(
                    _md_cell(x)
                    for x in (
                        f"{cl.id}: {cl.text}",
                        cl.source,
                        cl.kind,
                        cl.metric,
                        _values(c.buggy),
                        _values(c.fixed),
                        _effects(c),
                        fmt(cl.threshold) + ("x" if cl.compare == RATIO else ""),
                        f"**{c.verdict}**",
                    )
                )
                + " |"
            )
        out.append("")
        detailed = [c for c in r.claims if c.details]
        if detailed:
            out += ["Details:", ""]
            out += [f"- {c.claim.id}: {details_line(c)}" for c in detailed]
            out.append("")
        for note in r.notes:
            out += [f"Note: {note}", ""]
        out += ["**Evidence.** " + evidence_paragraph(r), ""]
    return "\n".join(out)


def render(results, meta: dict[str, Any], output_format: str) -> str:
    """Dispatch to the renderer for ``text``, ``json`` or ``markdown``."""
    if output_format == "json":
        return render_json(results, meta)
    if output_format == "markdown":
        return render_markdown(results, meta)
    return render_text(results, meta)


def plots_available() -> bool:
    """Whether matplotlib (the ``plots`` extra) is importable."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def write_plots(results, directory: str) -> list[str]:
    """Write one PNG per rule (its curves, buggy vs fixed: mean line, min-max band).

    Needs matplotlib (``pip install 'torchlint[plots]'``). Returns the paths written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(directory, exist_ok=True)
    written = []
    colours = {"buggy": "tab:red", "fixed": "tab:blue"}
    for r in results:
        if not r.curves:
            continue
        names = list(r.curves)
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
        for ax, name in zip(axes[0], names):
            for arm, runs in r.curves[name].items():
                length = min(len(run) for run in runs)
                cols = [[run[i] for run in runs] for i in range(length)]
                mean = [sum(c) / len(c) for c in cols]
                ax.plot(range(length), mean, color=colours.get(arm), label=f"{arm} (mean)")
                if len(runs) > 1:
                    ax.fill_between(
                        range(length),
                        [min(c) for c in cols],
                        [max(c) for c in cols],
                        color=colours.get(arm),
                        alpha=0.2,
                        label=f"{arm} (min-max over {len(runs)} seeds)",
                    )
            if all(v > 0 for runs in r.curves[name].values() for run in runs for v in run):
                ax.set_yscale("log")
            ax.set_title(name, fontsize=9)
            ax.legend(fontsize=7)
        fig.suptitle(f"{r.code} {r.name} — {r.device}", fontsize=9)
        fig.tight_layout()
        slug = re.sub(r"[^a-z0-9]+", "-", f"{r.code}-{r.name}".lower()).strip("-")
        path = os.path.join(directory, f"{slug}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
