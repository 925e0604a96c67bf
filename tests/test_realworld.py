"""The real-code benchmark's scorer, on a tiny synthetic root (never on fetched code)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "realworld.py"

MODEL = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        a, b = self.head(x).chunk(2, dim=1)
        if torch.mean(a) < torch.mean(b):
            a, b = b, a
        return a - b


def describe(x):
    return x.shape
"""

INDEX = """\
import torch
import torch.nn as nn


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 3)

    def forward(self, x):
        y = self.proj(x)
        if torch.mean(y) < torch.mean(x):
            return y
        return -y
"""

CASES_HEADER = "case\tfamily\tverdict\trepo\tcommit\tpath\tline\tindex_id\texpect\tnote\n"
SWEEP = "repo\tcommit\tscope\tkind\nacme/demo\t01234567\t.\ttraining\n"
LABELS_HEADER = "repo\tpath\tline\tcode\tverdict\twhy\n"


@pytest.fixture(scope="module")
def realworld():
    spec = importlib.util.spec_from_file_location("bench_realworld", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_args(root: Path, shared: Path, labels: Path) -> list[str]:
    return ["--root", str(root), "--shared", str(shared), "--labels", str(labels), "--jobs", "1"]


def make_root(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    tree = root / "trees" / "acme+demo@0123456789abcdef"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "model.py").write_text(MODEL, encoding="utf-8")
    # A fetched configuration that would switch the rule off: it must not be read.
    (tree / "pyproject.toml").write_text('[tool.torchlint]\nignore = ["TL002"]\n', encoding="utf-8")
    (root / "index").mkdir()
    (root / "index" / "7.py").write_text(INDEX, encoding="utf-8")
    shared = tmp_path / "shared"
    shared.mkdir()
    rows = [
        ("c1", "TL002", "BUG", "acme/demo", "01234567", "pkg/model.py", "12", "-", "TL002"),
        ("c2", "TL002", "LOOKALIKE", "acme/demo", "01234567", "pkg/model.py", "18", "-", "quiet"),
        ("b01", "TL002", "BUG", "", "", "Gate.forward", "", "7", "TL002"),
        ("b02", "TL001", "BUG", "acme/gone", "fedcba98", "x.py", "3", "-", "TL001"),
        ("c5", "TL002", "LOOKALIKE", "acme/demo", "01234567", "describe", "", "-", "quiet"),
    ]
    text = CASES_HEADER + "".join("\t".join(row) + "\tnote\n" for row in rows)
    # c5 names a function in the line column of a repository row
    text = text.replace("\tdescribe\t\t-\tquiet", "\tpkg/model.py\tdescribe\t-\tquiet")
    (shared / "cases.tsv").write_text(text, encoding="utf-8")
    (shared / "sweep.tsv").write_text(SWEEP, encoding="utf-8")
    return root, shared


def test_unlabelled_sweep_finding_fails_the_run(realworld, tmp_path, capsys):
    root, shared = make_root(tmp_path)
    labels = tmp_path / "labels.tsv"
    labels.write_text(LABELS_HEADER, encoding="utf-8")
    code = realworld.main(
        ["--root", str(root), "--shared", str(shared), "--labels", str(labels), "--jobs", "1"]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "unlabelled: acme/demo\tpkg/model.py\t12\tTL002" in out


def test_scores_cases_and_sweep(realworld, tmp_path):
    root, shared = make_root(tmp_path)
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        LABELS_HEADER + "acme/demo\tpkg/model.py\t12\tTL002\ttrue\tswaps maps per batch\n",
        encoding="utf-8",
    )
    out_md = tmp_path / "page.md"
    out_json = tmp_path / "report.json"
    code = realworld.main(
        [
            "--root",
            str(root),
            "--shared",
            str(shared),
            "--labels",
            str(labels),
            "--out",
            str(out_md),
            "--json",
            str(out_json),
            "--jobs",
            "1",
        ]
    )
    assert code == 0
    report = json.loads(out_json.read_text(encoding="utf-8"))
    cases = {c["case"]: c for c in report["cases"]}

    assert cases["c1"]["hit"] is True  # the fetched pyproject.toml did not switch TL002 off
    assert cases["c2"]["hit"] is False
    assert cases["b01"]["hit"] is True  # found through the function the index row names
    assert cases["b01"]["span_kind"] == "function Gate.forward"
    assert cases["b02"]["missing"].startswith("no tree for acme/gone")
    assert cases["c5"]["span_kind"] == "function describe"
    assert cases["c5"]["hit"] is False

    # Only the swept tree counts in the sweep, not the index file.
    assert [(s["path"], s["line"], s["code"], s["verdict"]) for s in report["sweep"]] == [
        ("pkg/model.py", 12, "TL002", "true")
    ]
    fig = report["figures"]
    assert fig["bugs_found"] == 1 and fig["bugs_known"] == 2  # b01 hit, b02 not fetched
    assert fig["sweep_verdicts"] == {"true": 1, "false": 0, "debatable": 0, "unlabelled": 0}
    assert fig["precision"] == 1.0
    assert report["lines"]["sweep"] == MODEL.count("\n")
    page = out_md.read_text(encoding="utf-8")
    assert "`pkg/model.py:12` | TL002" in page
    assert "**true** | swaps maps per batch" in page
    # The repository's own reading of the misses is on the page, before the rows.
    notes = (Path(realworld.__file__).parent / "realworld_notes.md").read_text(encoding="utf-8")
    assert notes.strip() in page
    assert page.index(notes.strip()) < page.index("## Labelled locations")


def test_false_label_counts_per_100k_lines(realworld, tmp_path):
    root, shared = make_root(tmp_path)
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        LABELS_HEADER + "acme/demo\tpkg/model.py\t12\tTL002\tfalse\tpretend\n", encoding="utf-8"
    )
    out_json = tmp_path / "report.json"
    realworld.main([*run_args(root, shared, labels), "--json", str(out_json)])
    fig = json.loads(out_json.read_text(encoding="utf-8"))["figures"]
    lines = MODEL.count("\n")
    assert fig["false_per_100k_lines"] == round(100_000 / lines, 2)
    assert fig["precision"] == 0.0


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinked_folder_lines_are_reported(realworld, tmp_path):
    root, shared = make_root(tmp_path)
    tree = root / "trees" / "acme+demo@0123456789abcdef"
    (tree / "notebooks").mkdir()
    try:
        os.symlink("../pkg", tree / "notebooks" / "pkg")
    except OSError:
        pytest.skip("symbolic links not permitted here")
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        LABELS_HEADER
        + "acme/demo\tpkg/model.py\t12\tTL002\ttrue\tx\n"
        + "acme/demo\tnotebooks/pkg/model.py\t12\tTL002\tfalse\tthe same file twice\n",
        encoding="utf-8",
    )
    out_json = tmp_path / "report.json"
    realworld.main([*run_args(root, shared, labels), "--json", str(out_json)])
    report = json.loads(out_json.read_text(encoding="utf-8"))
    linted_twice = len({s["path"] for s in report["sweep"]}) == 2
    duplicates = report["lines"]["sweep_duplicates"]
    # Either torchlint walks the link (and the duplicate lines are reported) or it
    # deduplicates by real path (and nothing is counted twice).
    assert duplicates == (MODEL.count("\n") if linted_twice else 0)
