"""Draw the headline bar chart: linting the corpus from scratch.

    <peers-venv>/bin/python bench/chart.py docs/benchmarks.json docs/benchmarks.png

Runs under the peers' interpreter, so matplotlib is never a dependency of
torchlint.  Reads the ``chart`` bars that ``bench/report.py`` computed.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display on a CI machine

import matplotlib.pyplot as plt

COLORS = {"torchlint": "#d6452b", "measured": "#8a8a8a", "floor": "#c9c9c9", "estimated": "#8a8a8a"}


def _seconds(value: float) -> str:
    if value < 10:
        return f"{value:.1f}s"
    return f"{value:,.0f}s"


def main(json_path: str, png_path: str) -> int:
    """Read the bars from ``json_path`` and write ``png_path``."""
    with open(json_path, encoding="utf-8") as handle:
        data = json.load(handle)
    bars = data["chart"]
    if not bars:
        return 1
    # Fastest on top, as in ruff's README chart.
    bars = list(reversed(bars))
    labels = [bar["label"] + (" (est.)" if bar["kind"] == "estimated" else "") for bar in bars]
    values = [bar["seconds"] for bar in bars]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(bars) + 0.9), dpi=150)
    rects = ax.barh(
        range(len(bars)),
        values,
        color=[COLORS[bar["kind"]] for bar in bars],
        hatch=None,
        height=0.6,
    )
    for rect, bar in zip(rects, bars):
        if bar["kind"] == "estimated":
            rect.set_hatch("///")
            rect.set_edgecolor("white")
    ax.set_yticks(range(len(bars)))
    ax.set_yticklabels(labels, fontsize=10)
    for label, bar in zip(ax.get_yticklabels(), bars):
        if bar["kind"] == "torchlint":
            label.set_fontweight("bold")
    top = max(values)
    for index, value in enumerate(values):
        ax.text(value + top * 0.01, index, _seconds(value), va="center", fontsize=9)
    ax.set_xlim(0, top * 1.12)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}s"))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=8, colors="#555555")
    lines = data["corpus"]["lines"]["whole"]
    files = data["corpus"]["files"]["whole"]
    ax.set_title(
        f"Linting the corpus from scratch ({files:,} files, {lines:,} lines, "
        f"{data['machine']['cores']} cores)",
        fontsize=10,
        loc="left",
    )
    fig.tight_layout()
    fig.savefig(png_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
