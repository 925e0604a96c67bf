"""Turn the measurements of ``bench/run.py`` into ``docs/benchmarks.md`` and its chart.

Every number on the page comes from the run's data; nothing is typed in.
Wall and CPU are medians over the repeats; peak memory is the largest seen
in any repeat.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import sys
from pathlib import Path

# The targets of the speed issue.
TARGET_PEER_RATIO = 10.0
TARGET_WARM_S = 2.0
TARGET_ONE_FILE_S = 0.25
TARGET_RSS_MIB = 400.0
TARGET_JOBS_SPEEDUP = 1.7
TARGET_LINEAR_SPREAD = 0.8  # slowest lines/s over fastest, across corpus sizes

JOBS_1_KEY = "torchlint cold, --jobs 1 @ fifth"
JOBS_N_KEY = "torchlint cold @ fifth"
TIMES = "\u00d7"  # the multiplication sign of "12x faster"

SLOW_PEERS = ("flake8 --select TOR", "Fixit", "TorchFix")
SCOPE_NAMES = {
    "whole": "whole corpus",
    "fifth": "every 5th file",
    "sample": "sample",
    "one": "one small file",
}


def summarize(data: dict) -> dict[str, dict]:
    """Per step key: median wall and CPU, peak RSS, lines/s."""
    lines = data["corpus"]["lines"]
    files = data["corpus"]["files"]
    summary = {}
    for key, runs in data["measurements"].items():
        scope = key.rsplit(" @ ", 1)[1]
        worked = [r for r in runs if r.get("ok", r["returncode"] in (0, 1))]
        if not worked:
            # A command that never worked has no time worth showing.
            summary[key] = {"scope": scope, "runs": len(runs), "failed_runs": len(runs)}
            continue
        ok = worked
        wall = statistics.median(r["wall_s"] for r in ok)
        summary[key] = {
            "scope": scope,
            "runs": len(runs),
            "failed_runs": len(runs) - len(worked),
            "wall_s": wall,
            "wall_min_s": min(r["wall_s"] for r in ok),
            "wall_max_s": max(r["wall_s"] for r in ok),
            "cpu_s": statistics.median(r["cpu_s"] for r in ok),
            "tree_rss_mib": max(r["tree_rss_mib"] for r in ok),
            "max_rss_mib": max(r["max_rss_mib"] for r in ok),
            "lines": lines[scope],
            "files": files[scope],
            "lines_per_s": lines[scope] / wall if wall > 0 else float("nan"),
            "lines_per_cpu_s": lines[scope] / statistics.median(r["cpu_s"] for r in ok)
            if any(r["cpu_s"] > 0 for r in ok)
            else float("nan"),
            "output_lines": ok[-1].get("output_lines"),
            "load": statistics.median(r.get("load_before", 0.0) for r in ok),
            "internal_errors": max((r.get("internal_errors", 0) for r in ok), default=0),
        }
    return summary


def _get(summary: dict, key: str, field: str = "wall_s") -> float | None:
    entry = summary.get(key)
    return None if entry is None or field not in entry else entry[field]


def estimate_whole(summary: dict, data: dict, tool: str) -> float | None:
    """A tool's whole-corpus wall time predicted from its sample run.

    The tool's start-up (its one-small-file time) is paid once either way;
    the rest scales with lines.
    """
    sample = _get(summary, f"{tool} @ sample")
    if sample is None:
        return None
    startup = _get(summary, f"{tool} @ one") or 0.0
    startup = min(startup, sample)
    lines = data["corpus"]["lines"]
    return startup + (sample - startup) * lines["whole"] / lines["sample"]


def _fmt_s(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    return f"{value:,.1f}"


def _fmt_x(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.2f}{TIMES}" if value < 10 else f"{value:,.0f}{TIMES}"


def _fmt_int(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _verdict(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "**not met**")


def _cpu_ratio(summary: dict, key: str, reference: str) -> str:
    # CPU time moves less than wall time when other work shares the machine.
    return _fmt_x(_ratio(_get(summary, key, "cpu_s"), _get(summary, reference, "cpu_s")))


def targets(summary: dict, data: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows."""
    rows = []
    cold = _get(summary, "torchlint cold @ whole")
    floor = _get(summary, "libcst parse floor @ whole")
    ratio = _ratio(cold, floor)
    rows.append(
        (
            "Cold run (no cache, default jobs) no slower than the libcst parse floor, same cores",
            f"{_fmt_s(cold)} s vs {_fmt_s(floor)} s: {_fmt_x(ratio)} the floor's time "
            f"(CPU: {_cpu_ratio(summary, 'torchlint cold @ whole', 'libcst parse floor @ whole')})",
            _verdict(None if ratio is None else ratio <= 1.0),
        )
    )
    tl_sample = _get(summary, "torchlint cold @ sample")
    for peer in SLOW_PEERS:
        peer_sample = _get(summary, f"{peer} @ sample")
        ratio = _ratio(peer_sample, tl_sample)
        rows.append(
            (
                f"At least {TARGET_PEER_RATIO:.0f}{TIMES} faster than {peer} (same sample files)",
                "not installed"
                if peer_sample is None
                else f"{_fmt_s(peer_sample)} s vs {_fmt_s(tl_sample)} s: {_fmt_x(ratio)} "
                f"(CPU: {_cpu_ratio(summary, f'{peer} @ sample', 'torchlint cold @ sample')})",
                _verdict(None if ratio is None else ratio >= TARGET_PEER_RATIO),
            )
        )
    warm = _get(summary, "torchlint warm @ whole")
    rows.append(
        (
            f"Warm run, nothing changed: ≤ {TARGET_WARM_S:g} s",
            f"{_fmt_s(warm)} s",
            _verdict(None if warm is None else warm <= TARGET_WARM_S),
        )
    )
    one = _get(summary, "torchlint @ one")
    rows.append(
        (
            f"One small file, start-up included: ≤ {TARGET_ONE_FILE_S:g} s",
            f"{_fmt_s(one)} s (`python -c pass`: "
            f"{_fmt_s(_get(summary, 'python -c pass @ one'))} s)",
            _verdict(None if one is None else one <= TARGET_ONE_FILE_S),
        )
    )
    tl_keys = [k for k in summary if k.startswith("torchlint") and k.endswith("@ whole")]
    peak = max((summary[k]["tree_rss_mib"] for k in tl_keys), default=None)
    rows.append(
        (
            f"Peak memory ≤ {TARGET_RSS_MIB:g} MiB (all processes of a run together)",
            f"{_fmt_int(peak)} MiB",
            _verdict(None if peak is None else peak <= TARGET_RSS_MIB),
        )
    )
    # Judged on CPU time: on a shared machine the wall time of runs minutes apart
    # moves with other people's load far more than with corpus size.
    rates = [
        _get(summary, f"torchlint cold @ {scope}", "lines_per_cpu_s")
        for scope in ("sample", "fifth", "whole")
    ]
    rates = [r for r in rates if r is not None]
    walls = [
        _get(summary, f"torchlint cold @ {scope}", "lines_per_s")
        for scope in ("sample", "fifth", "whole")
    ]
    spread = min(rates) / max(rates) if rates else None
    rows.append(
        (
            "Throughput scales linearly with lines (lines per CPU second on the sample, a "
            f"fifth, the whole: slowest ≥ {TARGET_LINEAR_SPREAD:.0%} of fastest)",
            " / ".join(_fmt_int(r) for r in rates)
            + " lines per CPU second (per wall second: "
            + " / ".join(_fmt_int(r) for r in walls)
            + ")",
            _verdict(None if spread is None else spread >= TARGET_LINEAR_SPREAD),
        )
    )
    j1 = _get(summary, JOBS_1_KEY)
    jn = _get(summary, JOBS_N_KEY)
    speedup = _ratio(j1, jn)
    jobs = data["settings"]["jobs"] or data["machine"]["cores"]
    rows.append(
        (
            f"{jobs} jobs give ≥ {TARGET_JOBS_SPEEDUP:g}{TIMES} over 1 (every 5th file)",
            f"{_fmt_s(j1)} s / {_fmt_s(jn)} s = {_fmt_x(speedup)}",
            _verdict(None if speedup is None else speedup >= TARGET_JOBS_SPEEDUP),
        )
    )
    parity = data["parity"]["rows"]
    same = all(row["identical"] for row in parity) if parity else None
    rows.append(
        (
            "Same findings cold, warm, 1 job, without pre-filters, cache written or not",
            f"{len(parity)} runs compared, "
            f"{sum(1 for r in parity if r['identical'])} identical to the cold run",
            _verdict(same),
        )
    )
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _tool_of(label: str) -> str:
    if label.startswith("torchlint"):
        return "torchlint"
    if label.startswith("libcst"):
        return "libcst"
    if label.startswith("ast.parse") or label.startswith("python"):
        return "python"
    if label.startswith("ruff"):
        return "ruff"
    return label


def short_version(tools: dict, tool: str) -> str:
    """``torchlint 0.1.0 (abc1234)``, ``flake8 7.5.0 + TorchFix 0.7.0``: name and number."""
    names = {
        "python": "CPython",
        "libcst": "libcst",
        "torchlint": "torchlint",
        "ruff": "ruff",
        "flake8 --select TOR": "flake8",
        "Fixit": "Fixit",
        "TorchFix": "TorchFix",
    }
    entry = tools.get(tool) or {}
    text = entry.get("version", "")
    match = re.search(r"\d+(\.\d+)+\S*", text)
    number = match.group(0) if match else text
    shown = f"{names.get(tool, tool)} {number}".strip()
    if tool == "flake8 --select TOR":
        plugin = re.search(r"TorchFix: ([\d.]+)", text)
        if plugin:
            shown += f" + TorchFix {plugin.group(1)}"
    if tool == "torchlint" and entry.get("commit"):
        shown += f" (`{entry['commit']}`)"
    return shown


def measurement_rows(summary: dict, data: dict, scope: str, reference: str) -> list[list[str]]:
    """Table rows for one scope, ratios against ``reference``."""
    ref = _get(summary, reference)
    rows = []
    commands = {step["key"]: step["argv"] for step in data["steps"]}
    for step in data["steps"]:
        key = step["key"]
        if step["scope"] != scope or key not in summary:
            continue
        entry = summary[key]
        version = short_version(data["tools"], _tool_of(step["label"]))
        failed = f" ({entry['failed_runs']} failed)" if entry["failed_runs"] else ""
        if entry.get("internal_errors"):
            failed += f" ({entry['internal_errors']} rule crashes, TL999)"
        rows.append(
            [
                f"{step['label']}{failed}",
                version,
                f"`{commands[key]}`",
                _fmt_s(entry["wall_s"]),
                _fmt_s(entry["cpu_s"]),
                _fmt_int(entry["tree_rss_mib"]),
                _fmt_int(entry["max_rss_mib"]),
                _fmt_int(entry["lines_per_s"]),
                _fmt_x(_ratio(entry["wall_s"], ref)),
                str(entry["runs"]),
            ]
        )
    return rows


def _header(reference: str) -> list[str]:
    return [*MEASUREMENT_HEADER[:8], f"Wall ÷ {reference}", MEASUREMENT_HEADER[9]]


MEASUREMENT_HEADER = [
    "Run",
    "Version",
    "Command",
    "Wall (s)",
    "CPU (s)",
    "Peak RSS, all processes (MiB)",
    "Largest process (MiB)",
    "Lines/s",
    "Wall ÷ torchlint cold",
    "Runs",
]


def chart_bars(summary: dict, data: dict) -> list[dict]:
    """The bars of the headline chart: whole-corpus seconds, from scratch."""
    bars = []

    def add(label: str, seconds: float | None, kind: str) -> None:
        if seconds is not None:
            bars.append({"label": label, "seconds": seconds, "kind": kind})

    add("torchlint", _get(summary, "torchlint cold @ whole"), "torchlint")
    add("ruff (--select ALL)", _get(summary, "ruff --select ALL @ whole"), "measured")
    add("libcst parse only", _get(summary, "libcst parse floor @ whole"), "floor")
    for peer in SLOW_PEERS:
        add(peer, estimate_whole(summary, data, peer), "estimated")
    return sorted(bars, key=lambda bar: bar["seconds"])


def render(data: dict, summary: dict, chart: str | None) -> str:
    """The Markdown page."""
    corpus = data["corpus"]
    settings = data["settings"]
    machine = data["machine"]
    tools = data["tools"]
    lines = corpus["lines"]
    subset = settings["subset"]
    out = []
    out.append("# Benchmarks\n")
    out.append(
        "<!-- Generated by `python bench/run.py`; do not edit by hand. "
        "Raw measurements: benchmarks.json -->\n"
    )
    headline = headline_sentence(summary, data)
    if headline:
        out.append(headline + "\n")
    if chart:
        out.append(f"![linting the corpus from scratch]({chart})\n")
        out.append(
            "*Linting the corpus from scratch (no cache), wall seconds, lower is better. "
            "Bars marked “est.” were measured on the sample and scaled to the whole corpus "
            "(see [The sample](#the-sample)).*\n"
        )
    if not data.get("complete", True):
        done = completed_repeats(data)
        if done >= 1:
            out.append(
                f"> **Stopped after {done} of {settings['repeat']} repeats** (time ran out "
                "on a shared machine): every command was measured; medians are over the "
                "runs that finished (the *Runs* column).\n"
            )
        else:
            out.append(
                "> **Interrupted run:** the benchmark was stopped before its end; only the "
                "commands shown below were measured, and a dash marks what was not.\n"
            )
    if subset > 1:
        out.append(
            f"> **Development run:** only every {subset}th corpus file was used "
            f"({corpus['files']['whole']:,} files); numbers are not the full corpus.\n"
        )

    out.append("## Targets\n")
    out.append(_table(["Target", "Measured", ""], [list(r) for r in targets(summary, data)]))
    out.append("")

    out.append("## Setup\n")
    manifest = corpus["manifest"]
    packages = ", ".join(
        f"{row['package']} {row['version']}" for row in manifest if row["package"] != "TOTAL"
    )
    out.append(
        f"- **Corpus:** {packages} — the `.py` files of each pinned release "
        f"({corpus['files']['whole']:,} files, {lines['whole']:,} lines"
        + (f", every {subset}th file of the corpus" if subset > 1 else "")
        + "), rebuilt byte for byte by `make_corpus.sh` (sha256-pinned downloads from PyPI). "
        "The packages' code is never committed.\n"
        f"- **Sample:** every {settings['sample']}th file of the sorted file list: "
        f"{corpus['files']['sample']:,} files, {lines['sample']:,} lines "
        f"({lines['sample'] / lines['whole']:.1%} of the lines). TorchFix, flake8 and Fixit run "
        "on the sample only; torchlint, the libcst floor and ruff run on it too, so every "
        "ratio against a slow peer compares the same files in the same run.\n"
        f"- **One small file:** `{corpus['one_file']}` ({lines['one']} lines), the first file "
        "of 60 to 120 lines that imports torch.\n"
        f"- **Machine:** {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']:.0f} GiB, {machine['system']}, {tools['python']['version']}, "
        f"libcst {tools['libcst']['version']}. Median 1-minute load average before a "
        f"measurement: {_median_load(data):.2f}.\n"
        f"- **torchlint:** {short_version(tools, 'torchlint')}, "
        f"{tools['torchlint'].get('measured', 'installed working tree')}.\n"
        f"- **Repeats:** {settings['repeat']} (interleaved: each repeat runs every command "
        f"once, in the same order); one-file runs: {settings['single_runs']} per repeat. "
        "Commands marked “once” below ran in the first repeat only. "
        f"Whole benchmark: {data['elapsed_s'] / 60:.1f} min.\n"
        f"- **Generated:** {data['generated']} by `{' '.join(data['argv'])}`.\n"
    )
    skipped = [name for name in (*SLOW_PEERS, "ruff") if not tools.get(name)]
    if skipped:
        out.append(
            "- **Not installed, not measured:** "
            + ", ".join(skipped)
            + " (install them into the `--peers-venv`, see bench/README.md).\n"
        )

    out.append("## Whole corpus\n")
    out.append(
        _table(
            MEASUREMENT_HEADER, measurement_rows(summary, data, "whole", "torchlint cold @ whole")
        )
    )
    out.append("")
    once = [f"{s['label']} ({SCOPE_NAMES[s['scope']]})" for s in data["steps"] if s["once"]]
    if once:
        out.append("Once per run, not repeated: " + "; ".join(once) + ".\n")

    out.append("## The sample\n")
    out.append(
        _table(
            MEASUREMENT_HEADER, measurement_rows(summary, data, "sample", "torchlint cold @ sample")
        )
    )
    out.append("")
    out.append(sample_tracking(summary, data))

    out.append("## Lines scaling and jobs\n")
    out.append(scaling_table(summary, data))
    out.append(
        _table(
            _header("torchlint cold on every 5th file"),
            measurement_rows(summary, data, "fifth", JOBS_N_KEY),
        )
    )
    out.append("")

    out.append("## One small file, as pre-commit runs it\n")
    out.append(
        "Each command in a fresh process, end to end (interpreter start-up, imports, "
        "output), no cache; the median of all runs.\n"
    )
    out.append(
        _table(_header("torchlint"), measurement_rows(summary, data, "one", "torchlint @ one"))
    )
    out.append("")

    out.append("## Findings parity\n")
    out.append(parity_section(data))
    out.append(crash_section(summary))
    out.append(prefilter_section(data))

    out.append(METHOD)
    out.append(SCALING)
    return "\n".join(out).rstrip() + "\n"


def completed_repeats(data: dict) -> int:
    """How many full repeats an interrupted run finished (every command measured)."""
    runs_per_repeat = {}
    for step in data["steps"]:
        runs_per_repeat[step["key"]] = 1 if step["once"] else None
    done = []
    for key, once in runs_per_repeat.items():
        records = data["measurements"].get(key, [])
        repeats = {r.get("repeat", 0) for r in records}
        done.append(1 if once and records else len(repeats) if not once else 0)
    return min(done) if done else 0


def _median_load(data: dict) -> float:
    loads = [r.get("load_before", 0.0) for runs in data["measurements"].values() for r in runs]
    return statistics.median(loads) if loads else float("nan")


def headline_sentence(summary: dict, data: dict) -> str | None:
    """The one sentence the README quotes."""
    tl_sample = _get(summary, "torchlint cold @ sample")
    ratios = {
        peer: _ratio(_get(summary, f"{peer} @ sample"), tl_sample)
        for peer in SLOW_PEERS
        if _get(summary, f"{peer} @ sample") is not None
    }
    cold = _get(summary, "torchlint cold @ whole")
    if cold is None:
        return None
    lines = data["corpus"]["lines"]["whole"]
    text = (
        f"**torchlint checks {lines:,} lines of PyTorch code from scratch in "
        f"{_fmt_s(cold)} s on {data['machine']['cores']} cores"
    )
    floor_ratio = _ratio(cold, _get(summary, "libcst parse floor @ whole"))
    if floor_ratio is not None:
        text += f" ({_fmt_x(floor_ratio)} the time libcst alone needs to parse it)"
    if ratios:
        low = min(ratios.values())
        names = ", ".join(ratios)
        if low >= 1:
            text += f", at least {_fmt_x(low)} faster than {names} on the same files"
        else:
            text += f", but {_fmt_x(1 / low)} slower than the fastest of {names} on the same files"
    warm = _get(summary, "torchlint warm @ whole")
    if warm is not None:
        text += f"; {_fmt_s(warm)} s when nothing changed"
    return text + ".**"


def sample_tracking(summary: dict, data: dict) -> str:
    """Evidence that the sample stands for the whole corpus."""
    lines = data["corpus"]["lines"]
    files = data["corpus"]["files"]
    rows = [
        [
            "Share of the corpus",
            f"{files['sample'] / files['whole']:.2%} of files, "
            f"{lines['sample'] / lines['whole']:.2%} of lines",
            "",
            "",
        ]
    ]
    for tool in ("torchlint cold", "libcst parse floor", "ruff --select ALL"):
        sample = _get(summary, f"{tool} @ sample")
        whole = _get(summary, f"{tool} @ whole")
        if sample is None or whole is None:
            continue
        startup_key = "torchlint" if tool == "torchlint cold" else tool
        startup = _get(summary, f"{startup_key} @ one") or 0.0
        startup = min(startup, sample)
        predicted = startup + (sample - startup) * lines["whole"] / lines["sample"]
        cpu_sample = _get(summary, f"{tool} @ sample", "cpu_s")
        cpu_whole = _get(summary, f"{tool} @ whole", "cpu_s")
        cpu_predicted = cpu_sample * lines["whole"] / lines["sample"]
        rows.append(
            [
                tool,
                f"{_fmt_s(sample)} s wall, {_fmt_s(cpu_sample)} s CPU",
                f"{_fmt_s(predicted)} s wall ({(predicted / whole - 1):+.0%}), "
                f"{_fmt_s(cpu_predicted)} s CPU ({(cpu_predicted / cpu_whole - 1):+.0%})",
                f"{_fmt_s(whole)} s wall, {_fmt_s(cpu_whole)} s CPU",
            ]
        )
    for peer in SLOW_PEERS:
        estimate = estimate_whole(summary, data, peer)
        if estimate is None:
            continue
        cpu_sample = _get(summary, f"{peer} @ sample", "cpu_s")
        rows.append(
            [
                peer,
                f"{_fmt_s(_get(summary, f'{peer} @ sample'))} s wall, {_fmt_s(cpu_sample)} s CPU",
                f"{_fmt_s(estimate)} s wall, "
                f"{_fmt_s(cpu_sample * lines['whole'] / lines['sample'])} s CPU",
                "not run",
            ]
        )
    text = (
        "The slow peers run on the sample only. A whole-corpus wall time is predicted from "
        f"a sample time as *start-up + (sample - start-up) {TIMES} whole lines / sample "
        "lines*, start-up being the tool's one-small-file time; CPU time as *sample CPU "
        f"{TIMES} whole lines / sample lines*. The same predictions for the tools that also "
        "ran on the whole corpus show how well the sample stands for it (in parentheses: "
        "prediction against measurement). CPU time is the steadier of the two: the wall "
        "time of runs minutes apart moves with the load of the shared machine.\n\n"
    )
    return (
        text
        + _table(["", "Sample", "Predicted for the whole", "Measured on the whole"], rows)
        + "\n"
    )


def scaling_table(summary: dict, data: dict) -> str:
    """torchlint's wall time against corpus size, and 1 job against the default."""
    rows = []
    for scope in ("sample", "fifth", "whole"):
        entry = summary.get(f"torchlint cold @ {scope}")
        if entry is None or "wall_s" not in entry:
            continue
        rows.append(
            [
                SCOPE_NAMES[scope],
                _fmt_int(entry["files"]),
                _fmt_int(entry["lines"]),
                _fmt_s(entry["wall_s"]),
                _fmt_int(entry["lines_per_s"]),
                _fmt_s(entry["cpu_s"]),
                _fmt_int(entry["lines_per_cpu_s"]),
            ]
        )
    header = [
        "torchlint cold on",
        "Files",
        "Lines",
        "Wall (s)",
        "Lines/s",
        "CPU (s)",
        "Lines per CPU second",
    ]
    text = _table(header, rows) + "\n"
    j1 = _get(summary, JOBS_1_KEY)
    jn = _get(summary, JOBS_N_KEY)
    jobs = data["settings"]["jobs"] or data["machine"]["cores"]
    if j1 is not None and jn is not None:
        text += (
            f"\nEvery 5th file, 1 job: {_fmt_s(j1)} s; default ({jobs} jobs): {_fmt_s(jn)} s; "
            f"speed-up {_fmt_x(j1 / jn)}. CPU time: "
            f"{_fmt_s(_get(summary, JOBS_1_KEY, 'cpu_s'))} s with 1 job, "
            f"{_fmt_s(_get(summary, JOBS_N_KEY, 'cpu_s'))} s with {jobs} "
            "(the difference is what the pool costs).\n"
        )
    return text


def parity_section(data: dict) -> str:
    """Whether every torchlint run reported the same findings as the cold one."""
    parity = data["parity"]
    if not parity["rows"]:
        return "No torchlint run produced output to compare.\n"
    rows = [
        [
            row["run"]
            .replace(" @ ", " on the ")
            .replace(" on the fifth", " on every 5th file")
            .replace(" on the whole", " on the whole corpus"),
            _fmt_int(row["findings"]),
            "yes" if row["identical"] else "**no**",
        ]
        for row in parity["rows"]
    ]
    codes = ", ".join(f"{code}: {count:,}" for code, count in sorted(parity["codes"].items()))
    vacuous = (
        "\n\n**The cold run found nothing, so this comparison shows little.**"
        if not parity["codes"]
        else ""
    )
    return (
        "Every torchlint run wrote its findings as JSON; the sorted findings (file, start, "
        "end, code, message) of each are compared with those of the first cold run of the "
        "whole corpus in the same files. “No pre-filter” parses every file with libcst and "
        "runs every rule on it, so identical findings there mean the pre-filters drop "
        "nothing.\n\n"
        + _table(["Run", "Findings", "Identical to cold"], rows)
        + f"\n\nFindings by code (cold run): {codes or 'none'}.{vacuous}\n"
    )


def crash_section(summary: dict) -> str:
    """Rules that crashed on corpus files (each crash is a TL999 finding for that file)."""
    crashed = {
        key.replace(" @ ", " on the "): entry["internal_errors"]
        for key, entry in summary.items()
        if entry.get("internal_errors")
    }
    if not crashed:
        return "\nNo rule crashed on any file of the corpus (no TL999 finding).\n"
    listed = "; ".join(f"{run}: {count}" for run, count in crashed.items())
    return (
        "\n**Rules crashed on some corpus files** (TL999 findings, exit status 2; the other "
        f"rules and files went on, so the times stand): {listed}. The JSON of the run names "
        "the files.\n"
    )


def prefilter_section(data: dict) -> str:
    """How much of the corpus the rules' pre-filters spare from libcst."""
    rate = data.get("prefilter")
    if not rate or "parsed_by_libcst" not in rate:
        return ""

    def pair(shares: dict) -> str:
        return f"{shares['files']:.1%} / {shares['lines']:.1%}"

    rows = [
        [code, pair(stages["text"]), pair(stages["syntax"])]
        for code, stages in sorted(rate["rules"].items())
    ]
    parsed = rate["parsed_by_libcst"]
    return (
        "\n### Pre-filters\n\nEach rule first looks for its tokens in a file's text; a file "
        "that some rule's tokens let through is parsed once with CPython's `ast` (its syntax "
        "check), and each such rule looks for the shapes it starts from in that tree "
        "(declared in each rule module). Only files that some rule keeps at both stages are parsed "
        f"with libcst: on this corpus **{parsed['files']:.1%} of the files, "
        f"{parsed['lines']:.1%} of the lines**. Shares below are of all files / all lines "
        "of the corpus.\n\n"
        + _table(["Rule", "Text stage keeps", "Text and syntax stages keep"], rows)
        + "\n"
    )


METHOD = """
## How it is measured

- Every command runs as a subprocess of `bench/run.py`, its output to a file.
- **Wall:** from start to exit of the process. **CPU:** user + system seconds of the
  process and all its children (`wait4`), so a process pool counts in full.
- **Peak RSS, all processes:** the largest sum of the resident set sizes of the
  command and all its descendants, sampled from `/proc` every 200 ms; pages that
  forked workers share are counted once per process, so this is an upper bound.
  **Largest process:** `ru_maxrss` from `wait4`, the biggest single process (exact).
  The memory target is checked against the first, larger, number.
- Wall and CPU are medians over the repeats; memory is the maximum over them.
- **Lines/s:** lines of the files given ÷ median wall.
- **Floors:** `bench/floor_libcst.py` reads, decodes and `libcst.parse_module`s every
  file in a pool of as many processes as cores (small chunks, so no worker idles at the
  end); `--metadata` also resolves the scope, qualified-name, parent and position
  providers, which Fixit- and TorchFix-style linters pay for on every file.
  `bench/floor_ast.py` is `ast.parse` of every file in one process.
- **torchlint** runs with `--output-format json --exit-zero`, by default as
  `python -m torchlint` from an export of the committed HEAD (`git archive`), so
  edits to the working tree during the run cannot change what is measured;
  “cold” is `--no-cache`; “warm” runs on a cache filled by the “writing cache” run
  before it, nothing changed; the whole corpus is given as the folder `src`, the
  sample and the single file as file names.
- **ruff** `check --isolated --select ALL --no-cache`, concise output.
  **flake8** `--select TOR` with the TorchFix plugin installed (flake8 runs every
  installed plugin; `--select` filters what it reports). **Fixit** `fixit lint` with
  no config file, i.e. its built-in default rules. **TorchFix** its own CLI with its
  default rule selection; it skips, unparsed, every file without the text `torch`.
  Each gets as many jobs as there are cores where it has the
  option (flake8, TorchFix; Fixit uses all cores by itself).
- The peers live in their own virtual environment, never a dependency of torchlint.
- Speed is never asserted in a unit test: this page is the measurement.
"""

SCALING = """
## Beyond one machine

Files are independent, so linting scales out by file list. In CI, give each job a
slice of the files; in pre-commit and on pull requests, lint only the files that
changed ([CI recipes](ci.md), [pre-commit](pre-commit.md)):

```bash
# CI job SHARD_INDEX of SHARDS
git ls-files '*.py' | awk "NR % $SHARDS == $SHARD_INDEX" | xargs torchlint check --force-exclude

# only what a branch changed
git diff --name-only --diff-filter=d origin/main...HEAD -- '*.py' \\
  | xargs --no-run-if-empty torchlint check --force-exclude
```

`--force-exclude` applies the configured excludes to files named explicitly, as a
folder run would. Keeping `.torchlint_cache/` between CI runs makes every unchanged
file cost a `stat` (the warm run above).

## Reproduce

```bash
python -m venv ~/.cache/torchlint-bench/peers-venv
~/.cache/torchlint-bench/peers-venv/bin/pip install torchfix fixit flake8 matplotlib
python bench/run.py            # builds the corpus on first use; duration: see Setup above
```

See [bench/README.md](../bench/README.md) for the options.
"""


def write_report(data: dict, out_dir: Path, peers_venv: Path | None) -> None:
    """Write benchmarks.json, benchmarks.png (if matplotlib is there) and benchmarks.md."""
    summary = summarize(data)
    data["summary"] = summary
    data["chart"] = chart_bars(summary, data)
    json_path = out_dir / "benchmarks.json"
    json_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    chart = draw_chart(json_path, out_dir / "benchmarks.png", peers_venv)
    (out_dir / "benchmarks.md").write_text(render(data, summary, chart), encoding="utf-8")


def draw_chart(json_path: Path, png_path: Path, peers_venv: Path | None) -> str | None:
    """Draw the chart with the peers venv's matplotlib; the image's name, or None."""
    candidates = []
    if peers_venv is not None:
        candidates.append(str(Path(peers_venv) / "bin" / "python"))
    for python in candidates:
        if not Path(python).is_file():
            continue
        done = subprocess.run(
            [python, str(Path(__file__).with_name("chart.py")), str(json_path), str(png_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return png_path.name
        print(done.stderr[-2000:])
    return None


def main(argv: list[str] | None = None) -> int:
    """Re-render the page from a saved ``benchmarks.json`` (no measuring)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("json_path", type=Path)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--peers-venv", type=Path, default=None)
    args = parser.parse_args(argv)
    data = json.loads(args.json_path.read_text(encoding="utf-8"))
    out_dir = args.out_dir or args.json_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(data, out_dir, args.peers_venv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
