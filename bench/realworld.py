"""Score torchlint on labelled real public training code.

The code itself is never part of this repository: it is fetched into a folder
laid out as ``ROOT/trees/owner+name@commit/`` (one exported tree per pinned
repository) and ``ROOT/index/ID.py`` (one file per index id), as
``../shared/realworld/README.md`` describes.  This script lints those trees
with the torchlint of the running interpreter, with default settings, and
scores:

* ``cases.tsv``: every labelled location is *hit* or *quiet*;
* ``sweep.tsv``: every finding in the swept repositories, with the verdict
  read from ``bench/realworld_labels.tsv``.  A finding without a label makes
  the run exit 1, so a rule change cannot add findings nobody has read.

Usage (from the repository root)::

    python bench/realworld.py --root /path/to/realworld \\
        --shared ../shared/realworld --out docs/realworld.md --json ROOT/realworld.json

Only the standard library and torchlint itself are used.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _rule_codes() -> tuple[str, ...]:
    """Every rule torchlint ships, read from its rule modules (no hard-coded list)."""
    from torchlint.rules import discover

    return tuple(entry.code for entry in discover())


RULE_CODES = _rule_codes()
FILE_ERROR = "TL000"
NEAR = 3  # lines either side of a labelled line that still count as "there"
VERDICTS = ("true", "false", "debatable")
LABEL_COLUMNS = ("repo", "path", "line", "code", "verdict", "why")


# -- inputs -------------------------------------------------------------------


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a tab-separated file with a header line; ``#`` lines are comments."""
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if not lines:
        return []
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        cells = line.split("\t")
        cells += [""] * (len(header) - len(cells))
        rows.append(dict(zip(header, (cell.strip() for cell in cells))))
    return rows


def tree_dir(root: Path, repo: str, commit: str) -> Path | None:
    """The exported tree of ``repo`` at ``commit`` (a full hash or a prefix)."""
    trees = root / "trees"
    stem = repo.replace("/", "+") + "@"
    matches = sorted(
        p for p in trees.glob(stem + "*") if p.is_dir() and p.name[len(stem) :].startswith(commit)
    )
    if not matches:
        # a tree named by a short commit while the table holds a longer one
        matches = sorted(
            p
            for p in trees.glob(stem + "*")
            if p.is_dir() and commit.startswith(p.name[len(stem) :])
        )
    return matches[0] if matches else None


# -- running torchlint ----------------------------------------------------------


@dataclass
class Finding:
    file: str  # absolute path as torchlint reports it
    line: int
    end_line: int
    code: str
    message: str


def run_torchlint(paths: list[str], jobs: int | None) -> tuple[list[Finding], float]:
    """Lint ``paths`` with default settings; a fetched config cannot interfere.

    The run gets an empty ``--config`` file, so no ``pyproject.toml`` or
    ``torchlint.toml`` inside a fetched tree is read, and it runs from a
    temporary folder.
    """
    with tempfile.TemporaryDirectory(prefix="torchlint-realworld-") as work:
        config = Path(work) / "torchlint.toml"
        config.write_text("# default settings\n", encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "torchlint",
            "check",
            "--output-format",
            "json",
            "--no-cache",
            "--exit-zero",
            "--config",
            str(config),
        ]
        if jobs:
            command += ["--jobs", str(jobs)]
        started = time.perf_counter()
        done = subprocess.run(
            command + paths, cwd=work, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"torchlint failed with exit code {done.returncode}")
    findings = [
        Finding(
            file=item["filename"],
            line=item["location"]["row"],
            end_line=item["end_location"]["row"],
            code=item["code"],
            message=item["message"],
        )
        for item in json.loads(done.stdout or "[]")
    ]
    return findings, seconds


def linted_files(paths: list[str]) -> list[str]:
    """The files a default run walks for ``paths``, as torchlint discovers them."""
    from torchlint.config import load_settings
    from torchlint.discovery import discover

    with tempfile.TemporaryDirectory(prefix="torchlint-realworld-") as work:
        config = Path(work) / "torchlint.toml"
        config.write_text("", encoding="utf-8")
        settings = load_settings(paths, str(config), None)
        found = discover(paths, settings)
    return [real for _display, real in found.files]


def count_lines(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


# -- where a labelled location is ---------------------------------------------


def _function_spans(tree: ast.AST) -> dict[str, list[tuple[int, int]]]:
    """Every function by qualified name (``Class.method``), with its line span."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                spans[name].append((first, child.end_lineno or child.lineno))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def resolve_function(source: str, name: str) -> list[tuple[int, int]]:
    """Spans of the function ``name`` (``f``, ``Class.f``); empty if it is not one."""
    if not name or not all(part.isidentifier() for part in name.split(".")):
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    spans = []
    for qualname, found in _function_spans(tree).items():
        if qualname == name or qualname.endswith("." + name):
            spans += found
    return spans


def statement_span(source: str, line: int) -> tuple[int, int]:
    """The lines of the innermost statement at ``line`` (a compound one: its header)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return (line, line)
    best: tuple[int, int] = (line, line)
    best_size = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        start, end = node.lineno, node.end_lineno or node.lineno
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            end = max(start, body[0].lineno - 1)  # the header only
        if start <= line <= end and (best_size is None or end - start < best_size):
            best, best_size = (start, end), end - start
    return best


@dataclass
class Case:
    case: str
    family: str
    verdict: str
    expect: str
    note: str
    where: str  # repo:path or index:ID
    file: str | None  # absolute path, None when the code is missing
    spans: list[tuple[int, int]] = field(default_factory=list)
    span_kind: str = ""
    hit: bool = False
    codes_there: list[str] = field(default_factory=list)
    missing: str = ""
    parse_error: bool = False


def locate(row: dict[str, str], root: Path) -> Case:
    repo, commit, path = row["repo"], row["commit"], row["path"]
    line, index_id = row["line"], row["index_id"]
    case = Case(
        case=row["case"],
        family=row["family"],
        verdict=row["verdict"],
        expect=row["expect"],
        note=row["note"],
        where="",
        file=None,
    )
    function = ""
    if index_id and index_id != "-":
        file = root / "index" / f"{index_id}.py"
        case.where = f"index:{index_id}"
        function = path  # for index rows this column names the function
    else:
        tree = tree_dir(root, repo, commit)
        if tree is None:
            case.where = f"{repo}:{path}"
            case.missing = f"no tree for {repo}@{commit}"
            return case
        file = tree / path
        case.where = f"{repo}:{path}"
        if line and not line.isdigit():
            function = line
    if not file.is_file():
        case.missing = f"missing file {file}"
        return case
    case.file = str(file)
    source = file.read_text(encoding="utf-8", errors="replace")
    kinds = []
    if line.isdigit():
        number = int(line)
        start, end = statement_span(source, number)
        case.spans.append((min(start, number - NEAR), max(end, number + NEAR)))
        kinds.append(f"line {number}")
    function_spans = resolve_function(source, function)
    if function_spans:
        case.spans += function_spans
        kinds.append(f"function {function}")
    if not case.spans:
        case.spans.append((1, source.count("\n") + 1))
        kinds.append("whole file")
    case.span_kind = ", ".join(kinds)
    return case


def expected_codes(expect: str) -> tuple[str, ...]:
    """The codes that make a hit: the expected one, or any rule for quiet/-/new rows."""
    return (expect,) if expect in RULE_CODES else RULE_CODES


def score_cases(rows: list[dict[str, str]], root: Path, by_file: dict) -> list[Case]:
    cases = []
    for row in rows:
        case = locate(row, root)
        if case.file:
            there = [
                f
                for f in by_file.get(case.file, [])
                if f.code in RULE_CODES and any(start <= f.line <= end for start, end in case.spans)
            ]
            case.codes_there = sorted({f.code for f in there})
            case.parse_error = any(f.code == FILE_ERROR for f in by_file.get(case.file, []))
            wanted = expected_codes(case.expect)
            case.hit = any(f.code in wanted for f in there)
        cases.append(case)
    return cases


# -- the sweep ------------------------------------------------------------------


@dataclass
class SweepFinding:
    repo: str
    path: str
    line: int
    code: str
    message: str
    verdict: str
    why: str


Scope = tuple[str, Path, Path]  # repository, its tree, a folder (or file) swept in it


def sweep_scopes(rows: list[dict[str, str]], root: Path) -> tuple[list[Scope], list[str]]:
    """(repo, tree, scope path) per swept folder, and the repositories not found."""
    scopes, missing = [], []
    for row in rows:
        tree = tree_dir(root, row["repo"], row["commit"])
        if tree is None:
            missing.append(f"{row['repo']}@{row['commit']}")
            continue
        for part in (row.get("scope") or ".").split():
            scopes.append((row["repo"], tree, (tree / part).resolve() if part != "." else tree))
    return scopes, missing


def label_key(repo: str, path: str, line: int | str, code: str) -> tuple[str, str, str, str]:
    return (repo, path, str(line), code)


def read_labels(path: Path) -> dict[tuple[str, str, str, str], dict[str, str]]:
    labels = {}
    if not path.is_file():
        return labels
    for row in read_tsv(path):
        verdict = row.get("verdict", "")
        if verdict not in VERDICTS:
            raise SystemExit(f"{path}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        labels[label_key(row["repo"], row["path"], row["line"], row["code"])] = row
    return labels


def score_sweep(scopes, findings: list[Finding], labels) -> list[SweepFinding]:
    out = []
    seen = set()
    for finding in findings:
        if finding.code == FILE_ERROR:
            continue  # a file that does not parse: listed apart, never a rule finding
        for repo, tree, scope in scopes:
            if not _under(finding.file, str(scope)):
                continue
            rel = os.path.relpath(finding.file, tree).replace(os.sep, "/")
            key = label_key(repo, rel, finding.line, finding.code)
            if (key, finding.message) in seen:
                break
            seen.add((key, finding.message))
            label = labels.get(key)
            out.append(
                SweepFinding(
                    repo=repo,
                    path=rel,
                    line=finding.line,
                    code=finding.code,
                    message=finding.message,
                    verdict=label["verdict"] if label else "unlabelled",
                    why=label["why"] if label else "",
                )
            )
            break
    out.sort(key=lambda s: (s.repo, s.path, s.line, s.code))
    return out


def _under(path: str, folder: str) -> bool:
    folder = folder.rstrip(os.sep)
    return path == folder or path.startswith(folder + os.sep)


# -- figures ----------------------------------------------------------------------


def is_p_bug(case: Case) -> bool:
    """Rows b01-b36 that name the rule a finding should carry (the rule-and-bug pairs)."""
    return case.case.startswith("b") and case.expect in RULE_CODES


def figures(cases: list[Case], sweep: list[SweepFinding], sweep_lines: int) -> dict:
    per_rule = {}
    for code in RULE_CODES:
        bugs = [c for c in cases if is_p_bug(c) and c.expect == code]
        lookalikes = [c for c in cases if c.verdict == "LOOKALIKE" and c.family == code]
        found = [s for s in sweep if s.code == code]
        verdicts = Counter(s.verdict for s in found)
        per_rule[code] = {
            "bugs_found": sum(c.hit for c in bugs),
            "bugs_known": len(bugs),
            "bugs_missed": [c.case for c in bugs if not c.hit],
            "lookalikes_flagged": sum(c.hit for c in lookalikes),
            "lookalikes": len(lookalikes),
            "sweep_findings": len(found),
            **{f"sweep_{v}": verdicts.get(v, 0) for v in (*VERDICTS, "unlabelled")},
        }
    bugs = [c for c in cases if is_p_bug(c)]
    quiet_rows = [c for c in cases if c.expect == "quiet"]
    verdicts = Counter(s.verdict for s in sweep)
    flagged = len(sweep)
    false = verdicts.get("false", 0)
    true = verdicts.get("true", 0)
    decided = true + false
    return {
        "per_rule": per_rule,
        "bugs_found": sum(c.hit for c in bugs),
        "bugs_known": len(bugs),
        "quiet_rows": len(quiet_rows),
        "quiet_rows_flagged": sum(c.hit for c in quiet_rows),
        "sweep_findings": flagged,
        "sweep_verdicts": {v: verdicts.get(v, 0) for v in (*VERDICTS, "unlabelled")},
        "sweep_lines": sweep_lines,
        "false_per_100k_lines": round(false * 100_000 / sweep_lines, 2) if sweep_lines else None,
        "precision": round(true / flagged, 3) if flagged else None,
        "precision_without_debatable": round(true / decided, 3) if decided else None,
    }


# -- the page -----------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _head(message: str, width: int = 90) -> str:
    first = message.split(": ")[0] if ": " in message else message
    return first if len(first) <= width else first[: width - 1] + "…"


def render(report: dict) -> str:
    fig = report["figures"]
    out = []
    add = out.append
    add("# Real-code benchmark")
    add("")
    add(
        "torchlint on labelled real public PyTorch code: known bugs with an upstream fix or"
        " issue, correct look-alikes a naive rule would flag, and 51 whole repositories whose"
        " every finding is read and labelled.  The code is fetched, never committed; the"
        " labels of the locations are `cases.tsv` and `sweep.tsv` of the shared set, the"
        " verdicts on the sweep findings are [`bench/realworld_labels.tsv`]"
        "(../bench/realworld_labels.tsv)."
    )
    add("")
    add("## How to reproduce")
    add("")
    add(
        "Fetch the code as `../shared/realworld/README.md` says (each repository of"
        " `sweep.tsv` and each case row with a repository exported at its pinned commit"
        " into `ROOT/trees/owner+name@commit/`, ultralytics from the wheel"
        " `ultralytics==8.3.200`, each index id saved as `ROOT/index/ID.py`), then from the"
        " repository root:"
    )
    add("")
    add("```bash")
    add(
        "python bench/realworld.py --root ROOT --shared ../shared/realworld \\\n"
        "    --out docs/realworld.md --json ROOT/realworld.json"
    )
    add("```")
    add("")
    add(
        "The run lints with default settings: torchlint gets an empty `--config` file and"
        " runs from a temporary folder, so no configuration inside a fetched tree is read."
        " It exits 1 when a sweep finding has no label in `bench/realworld_labels.tsv`:"
        " read it, then add a line (repo, path, line, code, verdict, why)."
    )
    add("")
    add("How a labelled location is scored:")
    add("")
    add(
        f"- a row is *hit* when a finding lies in its file at its line (±{NEAR} lines, and"
        " the whole statement when it spans several lines) or inside the function the row"
        " names (resolved with `ast`; for index rows the `path` column names the function);"
        " a row with neither a line nor a resolvable function covers its whole file;"
    )
    add(
        "- the finding must carry the row's expected code; for `quiet`, `-` and `new` rows"
        " any rule code counts (a `quiet` row that is hit is a look-alike flagged);"
    )
    add(
        "- the P1-P5 bug rows are the rule-and-bug pairs: rows `b01`-`b36` whose `expect` is"
        " a rule code (33 rows, AMBIG ones with an expected code included); `TL000`"
        " (a file that does not parse) is never a rule finding."
    )
    add("")
    add("## Figures")
    add("")
    add(f"- torchlint {report['torchlint_version']}, run {report['date']}.")
    add(
        f"- Lines linted: {report['lines']['all']:,} in {report['files']['all']:,} files"
        f" (sweep scopes: {report['lines']['sweep']:,} lines in"
        f" {report['files']['sweep']:,} files; {report['lines']['sweep_duplicates']:,} of"
        " those lines are files reached twice through a symbolic link)."
    )
    add(
        f"- P1-P5 bugs flagged with the expected code: **{fig['bugs_found']} /"
        f" {fig['bugs_known']}**."
    )
    add(f"- `quiet` rows flagged: **{fig['quiet_rows_flagged']} / {fig['quiet_rows']}**.")
    v = fig["sweep_verdicts"]
    add(
        f"- Sweep findings: **{fig['sweep_findings']}** — {v['true']} true, {v['false']}"
        f" false, {v['debatable']} debatable, {v['unlabelled']} unlabelled."
    )
    add(
        f"- False findings per 100 k swept lines: **{fig['false_per_100k_lines']}**;"
        f" precision on what is flagged: **{fig['precision']}** (debatable counted as not"
        f" true; {fig['precision_without_debatable']} without the debatable ones)."
    )
    add("")
    add(
        "| Rule | Bugs found / known | Missed | Look-alikes flagged | Sweep findings"
        " | true | false | debatable |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for code, r in fig["per_rule"].items():
        add(
            f"| {code} | {r['bugs_found']} / {r['bugs_known']}"
            f" | {', '.join(r['bugs_missed']) or '—'}"
            f" | {r['lookalikes_flagged']} / {r['lookalikes']} | {r['sweep_findings']}"
            f" | {r['sweep_true']} | {r['sweep_false']} | {r['sweep_debatable']} |"
        )
    add("")
    if report.get("notes"):
        add(report["notes"])
        add("")
    add("## Labelled locations")
    add("")
    add("| Case | Family | Verdict | Expect | Result | Codes there | Where | Scored on |")
    add("|---|---|---|---|---|---|---|---|")
    for c in report["cases"]:
        if c["missing"]:
            result = f"not scored ({c['missing']})"
        elif c["expect"] in RULE_CODES:
            result = "**hit**" if c["hit"] else "missed"
        else:
            result = "**flagged**" if c["hit"] else "quiet"
        if c["parse_error"]:
            result += " (file does not parse: no rule ran)"
        add(
            f"| {c['case']} | {c['family']} | {c['verdict']} | {c['expect']} | {result}"
            f" | {', '.join(c['codes_there']) or '—'} | {_cell(c['where'])}"
            f" | {_cell(c['span_kind'])} |"
        )
    add("")
    add("## Every sweep finding")
    add("")
    if report["missing_trees"]:
        missing = ", ".join(report["missing_trees"])
        add(f"Repositories not found under the root (not linted): {missing}")
        add("")
    if report["file_errors"]:
        add(
            "Files that do not parse (`TL000`; not counted in the lines linted, no rule"
            " ran on them):"
        )
        add("")
        for error in report["file_errors"]:
            add(f"- `{error}`")
        add("")
    add("| Repository | Path:line | Code | Message (head) | Verdict | Why |")
    add("|---|---|---|---|---|---|")
    for s in report["sweep"]:
        add(
            f"| {s['repo']} | `{s['path']}:{s['line']}` | {s['code']}"
            f" | {_cell(_head(s['message']))}"
            f" | **{s['verdict']}** | {_cell(s['why'])} |"
        )
    add("")
    return "\n".join(out)


# -- main -------------------------------------------------------------------------


def build_report(root: Path, shared: Path, labels_path: Path, jobs: int | None) -> dict:
    import torchlint

    case_rows = read_tsv(shared / "cases.tsv")
    sweep_rows = read_tsv(shared / "sweep.tsv")
    scopes, missing_trees = sweep_scopes(sweep_rows, root)

    paths = [str(scope) for _repo, _tree, scope in scopes]
    for row in case_rows:
        if row["repo"] and row["index_id"] in ("", "-"):
            tree = tree_dir(root, row["repo"], row["commit"])
            if tree is not None and (tree / row["path"]).is_file():
                paths.append(str(tree / row["path"]))
    index = root / "index"
    if index.is_dir():
        paths += sorted(str(p) for p in index.glob("*.py"))
    paths = list(dict.fromkeys(paths))

    findings, seconds = run_torchlint(paths, jobs)
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.file].append(finding)

    files = linted_files(paths)
    sweep_files = [f for f in files if any(_under(f, str(s)) for _r, _t, s in scopes)]
    real_seen: set[str] = set()
    duplicate_lines = 0
    for f in sweep_files:
        real = os.path.realpath(f)
        if real in real_seen:
            duplicate_lines += count_lines(f)
        real_seen.add(real)
    unparsed = {f.file for f in findings if f.code == FILE_ERROR}
    sweep_lines = sum(count_lines(f) for f in sweep_files if f not in unparsed)

    cases = score_cases(case_rows, root, by_file)
    sweep = score_sweep(scopes, findings, read_labels(labels_path))
    return {
        "torchlint_version": getattr(torchlint, "__version__", "?"),
        "date": time.strftime("%Y-%m-%d"),
        "root": str(root),
        "seconds": round(seconds, 1),
        "files": {"all": len(files), "sweep": len(sweep_files)},
        "lines": {
            "all": sum(count_lines(f) for f in files if f not in unparsed),
            "sweep": sweep_lines,
            "sweep_duplicates": duplicate_lines,
        },
        "missing_trees": missing_trees,
        "file_errors": sorted(
            f"{os.path.relpath(f.file, root)}:{f.line}: {_head(f.message)}"
            for f in findings
            if f.code == FILE_ERROR
        ),
        "figures": figures(cases, sweep, sweep_lines),
        "cases": [asdict(c) for c in cases],
        "sweep": [asdict(s) for s in sweep],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="folder with trees/ and index/")
    parser.add_argument(
        "--shared",
        type=Path,
        default=REPO.parent / "shared" / "realworld",
        help="folder with cases.tsv and sweep.tsv (default: ../shared/realworld)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=REPO / "bench" / "realworld_labels.tsv",
        help="verdicts on the sweep findings",
    )
    parser.add_argument(
        "--notes",
        type=Path,
        default=REPO / "bench" / "realworld_notes.md",
        help="the hand-written reading of the misses and decisions, put on the page",
    )
    parser.add_argument("--out", type=Path, help="write the Markdown page here")
    parser.add_argument("--json", type=Path, help="write the machine-readable report here")
    parser.add_argument("--jobs", type=int, help="worker processes for torchlint")
    args = parser.parse_args(argv)

    report = build_report(args.root.resolve(), args.shared, args.labels, args.jobs)
    if args.notes and args.notes.is_file():
        report["notes"] = args.notes.read_text(encoding="utf-8").strip()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.out:
        args.out.write_text(render(report), encoding="utf-8")

    fig = report["figures"]
    v = fig["sweep_verdicts"]
    print(
        f"bugs {fig['bugs_found']}/{fig['bugs_known']}, quiet rows flagged"
        f" {fig['quiet_rows_flagged']}/{fig['quiet_rows']}, sweep {fig['sweep_findings']}"
        f" findings ({v['true']} true, {v['false']} false, {v['debatable']} debatable,"
        f" {v['unlabelled']} unlabelled) in {report['lines']['sweep']:,} lines"
    )
    for s in report["sweep"]:
        if s["verdict"] == "unlabelled":
            row = (s["repo"], s["path"], str(s["line"]), s["code"], _head(s["message"]))
            print("unlabelled: " + "\t".join(row))
    if report["missing_trees"]:
        print("missing trees: " + ", ".join(report["missing_trees"]))
    return 1 if v["unlabelled"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
