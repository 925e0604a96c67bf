"""Measure torchlint's speed against its peers on a pinned corpus; write the page.

    python bench/run.py [--corpus DIR] [--peers-venv DIR] [--repeat N]
                        [--sample K] [--subset K] [--quick] [--out-dir DIR]

One command: (re)builds the corpus when it is missing (``make_corpus.sh``),
then, in one run and interleaved so that machine load hits every tool
alike, repeats ``--repeat`` times:

* torchlint cold (``--no-cache``, default jobs), cold with ``--jobs 1``,
  warm (an unchanged tree, cache filled once beforehand);
* the floors: libcst parse-only and CPython ``ast.parse`` of every file;
* ruff ``--select ALL``;
* on a fixed sample (every ``--sample``-th file): torchlint, the libcst
  floor and ruff again, and -- where installed in ``--peers-venv`` --
  TorchFix, ``flake8 --select TOR`` and Fixit;
* one small file, the way pre-commit runs a hook: each tool end to end in a
  fresh process, plus ``python -c pass`` as the interpreter floor.

Once per run: torchlint cold with the cache being written, with pre-filters
off (findings parity), and the libcst floor with full metadata on the sample.

It writes ``docs/benchmarks.md``, ``docs/benchmarks.json`` (every
measurement) and, with matplotlib from the peers venv, ``docs/benchmarks.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from filelist import count_lines, every_kth, python_files
from measure import run_measured

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_CORPUS = Path(
    os.environ.get("TORCHLINT_BENCH_CORPUS", "~/.cache/torchlint-bench/corpus")
).expanduser()
DEFAULT_PEERS_VENV = Path(
    os.environ.get("TORCHLINT_BENCH_PEERS", "~/.cache/torchlint-bench/peers-venv")
).expanduser()
DEFAULT_MAKE_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "make_corpus.sh"

# The pre-commit file: a small module that imports torch, picked the same way every run.
SMALL_FILE_LINES = (60, 120)


@dataclass
class Step:
    """One command of the benchmark, run once per repeat (or once per run)."""

    label: str
    scope: str  # "whole", "sample", "fifth", "one"
    argv: list[str]
    cwd: str
    before: list[str] = field(default_factory=list)  # paths to delete before each run
    keep_output: bool = False
    once: bool = False
    runs: int = 1  # runs per repeat (single-file steps run several times)
    # Exit statuses of a run that worked: linters exit 1 for findings; torchlint
    # runs with --exit-zero, so anything else (a traceback exits 1) is a failure.
    ok_codes: tuple[int, ...] = (0, 1)
    env: dict[str, str] | None = None


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _version_of(argv: list[str], env: dict | None = None) -> str:
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "?"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return "?"


# Where each top-level source folder of the repository lands in the installed
# package (pyproject's package-dir).
PACKAGE_DIRS = {
    "torchlint": "torchlint",
    "rules": "torchlint/rules",
    "runtime": "torchlint/runtime",
}


def export_head(work: Path) -> str | None:
    """Export the committed HEAD's package into ``work``; the folder for PYTHONPATH.

    Others may edit the working tree during a half-hour run; measuring a
    fixed commit keeps every run of the benchmark on the same code.
    """
    target = work / "torchlint-head"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD", *PACKAGE_DIRS],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        _log(f"cannot export HEAD ({archive.stderr.decode()[-200:]}); measuring the install")
        return None
    raw = work / "torchlint-head-src"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir()
    subprocess.run(["tar", "-x", "-C", str(raw)], input=archive.stdout, check=True)
    # torchlint/ first: rules/ and runtime/ go inside it.
    for source, dest in PACKAGE_DIRS.items():
        if (raw / source).is_dir():
            shutil.copytree(raw / source, target / dest, dirs_exist_ok=True)
    shutil.rmtree(raw)
    # pip byte-compiles a package when it installs it, and the peers and
    # libcst were installed that way: do the same, so that start-up is
    # measured as users see it (this matters where PYTHONDONTWRITEBYTECODE is set).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(target)], check=True)
    return str(target)


def ensure_corpus(corpus: Path, script: Path) -> None:
    """Build the corpus with ``make_corpus.sh`` unless it is already there."""
    if (corpus / "src").is_dir() and (corpus / "manifest.tsv").is_file():
        return
    if not script.is_file():
        sys.exit(f"corpus missing at {corpus} and no build script at {script} (--make-corpus)")
    _log(f"building the corpus in {corpus} with {script} (about a minute)")
    corpus.mkdir(parents=True, exist_ok=True)
    subprocess.run(["bash", str(script), str(corpus)], check=True)


def read_manifest(corpus: Path) -> list[dict]:
    """The corpus manifest: package, version, files, lines."""
    rows = []
    with open(corpus / "manifest.tsv", encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    return rows


def _bin(directory: Path, name: str) -> str | None:
    path = directory / "bin" / name
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def torchlint_command(python: str) -> list[str]:
    """The ``torchlint`` entry point next to the interpreter, as a user's shell finds it."""
    # Not a PATH lookup: a version-manager shim would add its own start-up to every run.
    script = Path(python).parent / "torchlint"
    if script.is_file():
        return [str(script)]
    return [python, "-m", "torchlint"]


def ruff_command(python: str, peers: Path) -> list[str] | None:
    """ruff from the peers venv, else next to the interpreter, else on PATH."""
    for candidate in (_bin(peers, "ruff"), str(Path(python).parent / "ruff"), shutil.which("ruff")):
        if candidate and os.path.isfile(candidate):
            return [candidate]
    return None


def pick_small_file(files: list[str]) -> str:
    """The first file (by path) of 60-120 lines that imports torch."""
    low, high = SMALL_FILE_LINES
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        if low <= count_lines(data) <= high and b"import torch" in data:
            return path
    return files[0]


def build_steps(args, files: dict[str, list[str]], work: Path, tools: dict) -> list[Step]:
    """Every command of the run, in the order each repeat runs them."""
    corpus = str(args.corpus)
    python = args.python
    tl = tools["torchlint"]["argv"]
    cache = os.path.join(corpus, ".torchlint_cache")
    lists = {scope: str(work / f"{scope}.txt") for scope in files}
    # The whole corpus is named as a folder, as users run a linter; subsets as files.
    whole_args = ["src"] if args.subset == 1 else _relative(files["whole"], corpus)

    def args_for(scope: str) -> list[str]:
        return whole_args if scope == "whole" else _relative(files[scope], corpus)

    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    json_out = ["--output-format", "json", "--exit-zero"]
    steps = [
        Step(
            "torchlint cold",
            "whole",
            [*tl, "check", "--no-cache", *json_out, *jobs, *whole_args],
            corpus,
            keep_output=True,
        ),
        Step(
            "torchlint cold, writing the cache",
            "whole",
            [*tl, "check", *json_out, *jobs, *whole_args],
            corpus,
            before=[cache],
            keep_output=True,
            once=True,
        ),
        Step(
            "torchlint warm",
            "whole",
            [*tl, "check", *json_out, *jobs, *whole_args],
            corpus,
            keep_output=True,
        ),
        Step(
            "libcst parse floor",
            "whole",
            [
                python,
                str(BENCH_DIR / "floor_libcst.py"),
                "--jobs",
                str(args.floor_jobs),
                "--files-from",
                lists["whole"],
            ],
            corpus,
        ),
        Step(
            "ast.parse floor",
            "whole",
            [python, str(BENCH_DIR / "floor_ast.py"), "--files-from", lists["whole"]],
            corpus,
        ),
    ]
    if tools.get("ruff"):
        steps.append(
            Step(
                "ruff --select ALL",
                "whole",
                [*tools["ruff"]["argv"], *_ruff_args(), *whole_args],
                corpus,
            )
        )
    # A fifth of the corpus: a point for lines scaling (with the sample and the whole)
    # and 1 job against the default, repeated like the rest because both are targets;
    # and, once, the findings without pre-filters.  A fifth, not the whole, keeps the
    # full benchmark near forty minutes on two cores.
    fifth = args_for("fifth")
    steps += [
        Step(
            "torchlint cold",
            "fifth",
            [*tl, "check", "--no-cache", *json_out, *jobs, *fifth],
            corpus,
            keep_output=True,
        ),
        Step(
            "torchlint cold, --jobs 1",
            "fifth",
            [*tl, "check", "--no-cache", "--jobs", "1", *json_out, *fifth],
            corpus,
            keep_output=True,
        ),
        Step(
            "torchlint cold, no pre-filter",
            "fifth",
            [*tl, "check", "--no-cache", "--no-prefilter", *json_out, *jobs, *fifth],
            corpus,
            keep_output=True,
            once=True,
        ),
    ]
    # The sample: the same files for torchlint, the floor and every peer.
    steps += [
        Step(
            "torchlint cold",
            "sample",
            [*tl, "check", "--no-cache", *json_out, *jobs, *args_for("sample")],
            corpus,
        ),
        Step(
            "libcst parse floor",
            "sample",
            [
                python,
                str(BENCH_DIR / "floor_libcst.py"),
                "--jobs",
                str(args.floor_jobs),
                "--files-from",
                lists["sample"],
            ],
            corpus,
        ),
        Step(
            "libcst parse + metadata floor",
            "sample",
            [
                python,
                str(BENCH_DIR / "floor_libcst.py"),
                "--jobs",
                str(args.floor_jobs),
                "--metadata",
                "--files-from",
                lists["sample"],
            ],
            corpus,
            once=True,
        ),
    ]
    if tools.get("ruff"):
        steps.append(
            Step(
                "ruff --select ALL",
                "sample",
                [*tools["ruff"]["argv"], *_ruff_args(), *args_for("sample")],
                corpus,
            )
        )
    for name in ("flake8 --select TOR", "Fixit", "TorchFix"):
        if tools.get(name):
            steps.append(Step(name, "sample", [*tools[name]["argv"], *args_for("sample")], corpus))
    # One small file, in a fresh process each time, as a pre-commit hook runs.
    one = _relative(files["one"], corpus)
    runs = args.single_runs
    steps += [
        Step("python -c pass", "one", [python, "-c", "pass"], corpus, runs=runs),
        Step(
            "torchlint", "one", [*tl, "check", "--no-cache", "--exit-zero", *one], corpus, runs=runs
        ),
    ]
    if tools.get("ruff"):
        steps.append(
            Step(
                "ruff --select ALL",
                "one",
                [*tools["ruff"]["argv"], *_ruff_args(), *one],
                corpus,
                runs=runs,
            )
        )
    for name in ("flake8 --select TOR", "Fixit", "TorchFix"):
        if tools.get(name):
            steps.append(Step(name, "one", [*tools[name]["argv"], *one], corpus, runs=runs))
    # The comparisons the page leads with first, so an interrupted run still has them;
    # the metadata floor, slow and only for orientation, last.  The sort is stable:
    # the cache is written before the warm runs.
    order = {"sample": 0, "one": 1, "whole": 2, "fifth": 3}
    steps.sort(key=lambda step: 9 if "metadata" in step.label else order[step.scope])
    for step in steps:
        if step.argv[: len(tl)] == tl:
            step.ok_codes = (0,)
            step.env = tools["torchlint"].get("env")
    return steps


def _ruff_args() -> list[str]:
    # --isolated: no config file from the corpus; --no-cache: a cold run, like torchlint's.
    return [
        "check",
        "--isolated",
        "--select",
        "ALL",
        "--no-cache",
        "--exit-zero",
        "--output-format",
        "concise",
    ]


def _relative(paths: list[str], root: str) -> list[str]:
    return [os.path.relpath(path, root) for path in paths]


def find_tools(args) -> dict:
    """The commands and versions of torchlint and of each peer that is installed."""
    peers = args.peers_venv
    tools: dict = {}
    snapshot = export_head(args.work) if args.measure == "head" else None
    if snapshot is not None:
        env = dict(os.environ, PYTHONPATH=snapshot)
        tl = [args.python, "-m", "torchlint"]
        commit = _git("rev-parse", "--short", "HEAD")
    else:
        env = None
        tl = torchlint_command(args.python)
        commit = _git("describe", "--always", "--dirty")
    tools["torchlint"] = {
        "argv": tl,
        "env": env,
        "version": _version_of([*tl, "--version"], env),
        "commit": commit,
        "measured": "committed HEAD" if snapshot else "installed working tree",
    }
    ruff = ruff_command(args.python, peers)
    tools["ruff"] = ruff and {"argv": ruff, "version": _version_of([*ruff, "--version"])}
    jobs = str(args.jobs or os.cpu_count() or 1)
    flake8 = _bin(peers, "flake8")
    tools["flake8 --select TOR"] = flake8 and {
        # flake8 runs every installed plugin; --select only filters what is reported.
        "argv": [flake8, "--select", "TOR", "--jobs", jobs],
        "version": _version_of([flake8, "--version"]),
    }
    fixit = _bin(peers, "fixit")
    tools["Fixit"] = fixit and {
        # No config file: Fixit's built-in default rule set (fixit.rules).
        "argv": [fixit, "lint"],
        "version": _version_of([fixit, "--version"]),
    }
    torchfix = _bin(peers, "torchfix")
    tools["TorchFix"] = torchfix and {
        "argv": [torchfix, "--jobs", jobs],
        "version": _version_of([torchfix, "--version"]),
    }
    tools["libcst"] = {
        "version": _version_of(
            [args.python, "-c", "import importlib.metadata as m; print(m.version('libcst'))"]
        ),
    }
    tools["python"] = {"version": _version_of([args.python, "--version"])}
    return tools


def _findings_key(path: str) -> list[tuple] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            records = json.load(handle)
    except (OSError, ValueError):
        return None
    return sorted(
        (
            r["filename"],
            r["location"]["row"],
            r["location"]["column"],
            r["end_location"]["row"],
            r["end_location"]["column"],
            r["code"],
            r["message"],
        )
        for r in records
    )


def _internal_errors(output_path: str) -> int | None:
    """TL999 findings in a JSON report, or None when it is not one."""
    try:
        with open(output_path, encoding="utf-8") as handle:
            records = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(records, list):
        return None
    return sum(1 for r in records if isinstance(r, dict) and r.get("code") == "TL999")


def _warm_page_cache(paths: list[str]) -> None:
    # Every tool should find the files in memory; the first one must not pay the disk.
    for path in paths:
        with open(path, "rb") as handle:
            handle.read()


def run_steps(args, steps: list[Step], work: Path, on_progress=None) -> dict:
    """Run every step ``--repeat`` times, interleaved; all measurements by step key.

    ``on_progress(ran)`` is called after each step, so that an interrupted run
    still leaves what it measured.
    """
    results: dict[str, list[dict]] = {}
    outputs: dict[str, list[str]] = {}
    for repeat in range(args.repeat):
        for index, step in enumerate(steps):
            if step.once and repeat > 0:
                continue
            key = f"{step.label} @ {step.scope}"
            for run in range(step.runs):
                for path in step.before:
                    shutil.rmtree(path, ignore_errors=True)
                out = str(work / f"out-{index}-{repeat}-{run}.txt")
                load = os.getloadavg()[0]
                measurement = run_measured(
                    step.argv, cwd=step.cwd, stdout_path=out, env=step.env, timeout_s=args.timeout
                )
                record = measurement.as_dict()
                # The command is in the step list; the JSON is committed, keep it small.
                del record["argv"], record["stdout_path"]
                stderr = record["extra"].pop("stderr_tail")
                record["load_before"] = load
                record["repeat"] = repeat
                record["ok"] = measurement.returncode in step.ok_codes
                if "json" in step.argv and measurement.returncode in (0, 2):
                    # Exit 2 with a full report means a rule crashed on some file (TL999):
                    # the run went through every file, so its time counts, and the crashes
                    # are reported on the page.
                    errors = _internal_errors(out)
                    if errors is not None:
                        record["internal_errors"] = errors
                        record["ok"] = True
                if not record["ok"]:
                    record["stderr_tail"] = stderr[-500:]
                with open(out, "rb") as handle:
                    record["output_lines"] = sum(1 for _ in handle)
                if step.keep_output:
                    outputs.setdefault(key, []).append(out)
                else:
                    os.unlink(out)
                results.setdefault(key, []).append(record)
                if not record["ok"]:
                    _log(f"  {key}: exit {measurement.returncode}: {stderr[-300:]}")
            if on_progress is not None:
                on_progress({"measurements": results, "outputs": outputs})
            last = results[key][-1]
            _log(
                f"repeat {repeat + 1}/{args.repeat}  {key}: {last['wall_s']:.2f} s wall, "
                f"{last['cpu_s']:.1f} s CPU, {last['tree_rss_mib']:.0f} MiB"
            )
    return {"measurements": results, "outputs": outputs}


def findings_parity(outputs: dict[str, list[str]], files: dict[str, list[str]]) -> dict:
    """Do all torchlint runs report exactly the findings of the cold whole-corpus run?

    A run over part of the corpus is compared with the cold run's findings in
    those files.
    """
    reference_key = "torchlint cold @ whole"
    reference = _findings_key(outputs[reference_key][0]) if reference_key in outputs else None
    rows = []
    for key, paths in outputs.items():
        scope = key.rsplit(" @ ", 1)[1]
        expected = None
        if reference is not None:
            wanted = {os.path.abspath(path) for path in files[scope]}
            expected = [f for f in reference if f[0] in wanted]
        for run, path in enumerate(paths):
            found = _findings_key(path)
            rows.append(
                {
                    "run": key if len(paths) == 1 else f"{key} #{run + 1}",
                    "scope": scope,
                    "findings": None if found is None else len(found),
                    "identical": found is not None and found == expected,
                }
            )
    codes: dict[str, int] = {}
    for finding in reference or []:
        codes[finding[5]] = codes.get(finding[5], 0) + 1
    return {"reference": reference_key, "rows": rows, "codes": codes}


def prefilter_rate(python: str, file_list: str, env: dict | None) -> dict | None:
    """Share of files each rule's pre-filter keeps (see ``prefilter_rate.py``); not timed."""
    done = subprocess.run(
        [python, str(BENCH_DIR / "prefilter_rate.py"), "--files-from", file_list],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    try:
        return json.loads(done.stdout)
    except ValueError:
        _log(f"pre-filter rate not measured: {done.stderr[-300:]}")
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help=f"corpus folder, built if missing [default: {DEFAULT_CORPUS}]",
    )
    parser.add_argument(
        "--make-corpus", type=Path, default=DEFAULT_MAKE_CORPUS, help="the corpus build script"
    )
    parser.add_argument(
        "--peers-venv",
        type=Path,
        default=DEFAULT_PEERS_VENV,
        help="venv with torchfix, fixit, flake8, matplotlib (and ruff)",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="the interpreter torchlint is installed in"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repeats; medians are reported")
    parser.add_argument(
        "--sample", type=int, default=25, help="slow peers run on every K-th file [default: 25]"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=1,
        help="benchmark only every K-th corpus file (for development)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="jobs for torchlint and the peers [default: each tool's default]",
    )
    parser.add_argument(
        "--single-runs",
        type=int,
        default=5,
        help="fresh-process runs per repeat of the one-file measurement",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="--subset 50 --repeat 1 --single-runs 3, page into --work-dir",
    )
    parser.add_argument(
        "--measure",
        choices=("head", "worktree"),
        default="head",
        help="torchlint as committed at HEAD (exported to the work dir, immune to edits "
        "during the run) or the installed working tree [default: head]",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip TorchFix, flake8, Fixit")
    parser.add_argument(
        "--out-dir", type=Path, default=None, help="where the page goes [default: docs/]"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="scratch folder for outputs [default: a temporary folder]",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="per command, seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.subset, args.repeat, args.single_runs = 50, 1, 3
    args.corpus = args.corpus.expanduser().absolute()
    args.floor_jobs = args.jobs or os.cpu_count() or 1
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="torchlint-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    args.work = work
    out_dir = args.out_dir or (work if args.quick else REPO_ROOT / "docs")

    ensure_corpus(args.corpus, args.make_corpus)
    corpus_files = python_files(str(args.corpus / "src"))
    whole = every_kth(corpus_files, args.subset)
    files = {
        "whole": whole,
        "fifth": every_kth(whole, 5),
        "sample": every_kth(whole, args.sample),
        "one": [pick_small_file(corpus_files)],
    }
    for scope, paths in files.items():
        (work / f"{scope}.txt").write_text("".join(p + "\n" for p in paths), encoding="utf-8")
    lines = {}
    for scope, paths in files.items():
        total = 0
        for path in paths:
            with open(path, "rb") as handle:
                total += count_lines(handle.read())
        lines[scope] = total

    tools = find_tools(args)
    if args.no_peers:
        for name in ("flake8 --select TOR", "Fixit", "TorchFix"):
            tools[name] = None
    steps = build_steps(args, files, work, tools)
    _log(
        f"corpus {args.corpus}: {len(whole)} files, {lines['whole']} lines; "
        f"sample {len(files['sample'])} files; {len(steps)} commands x {args.repeat}"
    )
    prefilter = prefilter_rate(args.python, str(work / "whole.txt"), tools["torchlint"].get("env"))
    _warm_page_cache(whole)
    started = time.time()

    def assemble(ran: dict, complete: bool) -> dict:
        return {
            "complete": complete,
            "generated": time.strftime("%Y-%m-%d %H:%M %Z"),
            "elapsed_s": time.time() - started,
            "argv": ["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])],
            "machine": {
                "cpu": _cpu_model(),
                "cores": os.cpu_count(),
                "memory_gib": _memory_gib(),
                "system": f"{platform.system()} {platform.release()}",
            },
            "settings": {
                "repeat": args.repeat,
                "sample": args.sample,
                "subset": args.subset,
                "jobs": args.jobs,
                "floor_jobs": args.floor_jobs,
                "single_runs": args.single_runs,
            },
            "corpus": {
                "manifest": read_manifest(args.corpus),
                "files": {scope: len(paths) for scope, paths in files.items()},
                "lines": lines,
                "one_file": os.path.relpath(files["one"][0], args.corpus),
            },
            # Never the environment itself: the page and its JSON are committed.
            "tools": {name: _public(tool) for name, tool in tools.items()},
            "steps": [
                {
                    "key": f"{s.label} @ {s.scope}",
                    "label": s.label,
                    "scope": s.scope,
                    "argv": _display_argv(s.argv, args),
                    "once": s.once,
                }
                for s in steps
            ],
            "measurements": ran["measurements"],
            "parity": findings_parity(ran["outputs"], files),
            "prefilter": prefilter,
        }

    def save_partial(ran: dict) -> None:
        # `python bench/report.py WORK/partial.json` renders an interrupted run.
        partial = work / "partial.json"
        partial.write_text(json.dumps(assemble(ran, False), indent=1), encoding="utf-8")

    ran = run_steps(args, steps, work, save_partial)
    elapsed = time.time() - started
    data = assemble(ran, True)
    out_dir.mkdir(parents=True, exist_ok=True)
    from report import write_report

    write_report(data, out_dir, args.peers_venv)
    from report import headline_sentence

    _log(f"done in {elapsed / 60:.1f} min; page: {out_dir / 'benchmarks.md'}")
    headline = headline_sentence(data["summary"], data)
    if headline:
        _log(f"headline for the README: {headline}")
    return 0


def _public(tool: dict | None) -> dict | None:
    """A tool's entry without its environment or machine paths."""
    if tool is None:
        return None
    shown = {key: value for key, value in tool.items() if key not in ("env", "argv")}
    shown["command"] = [os.path.basename(part) for part in tool.get("argv", [])]
    return shown


def _display_argv(argv: list[str], args) -> str:
    """The command as the page shows it: no machine paths, file lists shortened."""
    shown = []
    files = 0
    for part in argv:
        if part.startswith("src/") or (part.endswith(".py") and not part.startswith("/")):
            files += 1
            if files > 1:
                continue
        part = part.replace(str(BENCH_DIR), "bench")
        if os.path.isabs(part):
            part = os.path.basename(part)
        shown.append(part)
    if files > 1:
        shown.append(f"... ({files} files)")
    return " ".join(shown)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 0.0


def median(values: list[float]) -> float:
    """The median, or NaN for nothing."""
    return statistics.median(values) if values else float("nan")


if __name__ == "__main__":
    sys.exit(main())
