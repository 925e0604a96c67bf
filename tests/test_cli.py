"""`torchlint check` end to end: exit codes, formats, excludes, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from torchlint.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# One finding of TL006 on line 10: an epoch scheduler stepped inside the batch loop.
PER_BATCH_SCHEDULER = """\
import torch
from torch.optim.lr_scheduler import StepLR


def train(model, loader, optimizer):
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        for x, y in loader:
            optimizer.step()
            scheduler.step(){noqa}
"""

CLEAN = "import torch\n\n\ndef f(x):\n    return torch.clamp(x, 0.0, 1.0)\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


def test_exit_codes_findings_clean_and_bad_config(project):
    write(project / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    write(project / "clean" / "model.py", CLEAN)
    result = run("check", "--no-cache", ".")
    assert result.exit_code == 1, result.output
    assert re.search(r"^train\.py:10:13: TL006 \[epoch-scheduler-per-batch\] ", result.output, re.M)

    assert run("check", "--no-cache", "clean").exit_code == 0

    write(project / "pyproject.toml", '[tool.torchlint]\nignor = ["TL006"]\n')
    result = run("check", "--no-cache", ".")
    assert result.exit_code == 2
    assert "ignor" in result.output and "did you mean 'ignore'" in result.output


def test_exit_zero_select_and_ignore(project):
    write(project / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    assert run("check", "--no-cache", "--exit-zero", ".").exit_code == 0
    assert run("check", "--no-cache", "--ignore", "TL006", ".").exit_code == 0
    assert run("check", "--no-cache", "--select", "TL001,TL004", ".").exit_code == 0
    assert run("check", "--no-cache", "--select", "TL00", ".").exit_code == 1


def test_noqa_silences_exactly_that_code(project):
    write(project / "a.py", PER_BATCH_SCHEDULER.format(noqa="  # noqa: TL006"))
    write(project / "b.py", PER_BATCH_SCHEDULER.format(noqa="  # noqa: TL004"))
    result = run("check", "--no-cache", ".")
    assert result.exit_code == 1
    assert "b.py:10:13: TL006" in result.output and "a.py" not in result.output


def test_json_output_has_ruff_fields(project):
    write(project / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    result = run("check", "--no-cache", "--output-format", "json", ".")
    [item] = json.loads(result.output)
    assert item["code"] == "TL006"
    assert item["filename"] == str(project / "train.py")
    assert item["location"] == {"row": 10, "column": 13}
    assert item["end_location"]["row"] == 10
    assert item["fix"] is None and item["url"].endswith("TL006.html")
    assert item["name"] == "epoch-scheduler-per-batch"


def test_github_output_is_a_workflow_command(project):
    write(project / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    result = run("check", "--no-cache", "--output-format", "github", ".")
    [line] = result.output.strip().splitlines()
    assert re.fullmatch(
        r"::error file=train\.py,line=10,col=13,endLine=10,endColumn=\d+,"
        r"title=TL006 epoch-scheduler-per-batch::.+",
        line,
    )


def test_statistics(project):
    write(project / "a.py", PER_BATCH_SCHEDULER.format(noqa=""))
    write(project / "b.py", PER_BATCH_SCHEDULER.format(noqa=""))
    result = run("check", "--no-cache", "--statistics", ".")
    assert result.exit_code == 1
    assert re.search(r"2\s+TL006\s+\[epoch-scheduler-per-batch\]", result.output)


def test_per_file_ignores_and_excludes_with_explicit_files(project):
    write(
        project / "pyproject.toml",
        '[tool.torchlint]\nextend-exclude = ["legacy"]\n'
        '[tool.torchlint.per-file-ignores]\n"scripts/*.py" = ["TL006"]\n',
    )
    write(project / "scripts" / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    write(project / "legacy" / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    assert run("check", "--no-cache", ".").exit_code == 0
    # Named explicitly, an excluded file is checked unless --force-exclude.
    assert run("check", "--no-cache", "legacy/train.py").exit_code == 1
    assert run("check", "--no-cache", "--force-exclude", "legacy/train.py").exit_code == 0
    # per-file-ignores also hold for files named explicitly.
    assert run("check", "--no-cache", "scripts/train.py").exit_code == 0


def test_stdin_with_filename(project):
    result = run(
        "check", "-", "--stdin-filename", "train.py", stdin=PER_BATCH_SCHEDULER.format(noqa="")
    )
    assert result.exit_code == 1
    assert "train.py:10:13: TL006" in result.output


def test_fifty_files_with_a_syntax_error_and_a_latin1_file(project):
    for index in range(48):
        body = PER_BATCH_SCHEDULER.format(noqa="") if index % 12 == 0 else CLEAN
        write(project / "pkg" / f"mod_{index:02d}.py", body)
    write(project / "pkg" / "broken.py", "import torch\n\ndef train(:\n    pass\n")
    (project / "pkg" / "latin.py").write_bytes("import torch\nname = 'caf\xe9'\n".encode("latin-1"))
    result = run("check", "--no-cache", "--jobs", "2", "--output-format", "json", "pkg")
    assert result.exit_code == 1
    found = {
        (Path(d["filename"]).name, d["code"], d["location"]["row"])
        for d in json.loads(result.output)
    }
    assert ("broken.py", "TL000", 3) in found
    assert ("latin.py", "TL000", 2) in found
    assert {name for name, code, _ in found if code == "TL006"} == {
        "mod_00.py",
        "mod_12.py",
        "mod_24.py",
        "mod_36.py",
    }


def test_cache_gives_the_same_findings_and_survives_corruption(project):
    for index in range(10):
        write(project / f"m{index}.py", PER_BATCH_SCHEDULER.format(noqa="") if index < 3 else CLEAN)
    cold = run("check", "--output-format", "json", ".").output
    assert (project / ".torchlint_cache").is_dir()
    warm = run("check", "--output-format", "json", ".").output
    assert json.loads(cold) == json.loads(warm) and len(json.loads(cold)) == 3
    for entry in (project / ".torchlint_cache").rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    again = run("check", "--output-format", "json", ".").output
    assert json.loads(again) == json.loads(cold)
    # An edited file is checked again, not answered from the cache.
    write(project / "m0.py", CLEAN)
    assert len(json.loads(run("check", "--output-format", "json", ".").output)) == 2


def test_jobs_and_prefilter_do_not_change_findings():
    base = ["check", "--no-cache", "--output-format", "json", str(EXAMPLES)]
    serial = run(*base, "--jobs", "1").output
    assert json.loads(serial)
    assert run(*base, "--jobs", "2").output == serial
    assert run(*base, "--jobs", "1", "--no-prefilter").output == serial


def test_rule_and_rules_commands():
    result = run("rules")
    assert result.exit_code == 0 and "TL006" in result.output
    page = run("rule", "TL006")
    assert page.exit_code == 0
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert section in page.output
    assert run("rule", "epoch-scheduler-per-batch").output == page.output
    assert run("rule", "TL123").exit_code == 2


def test_installed_console_script_and_version():
    result = subprocess.run(
        [sys.executable, "-m", "torchlint", "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0 and "0.1.0" in result.stdout
