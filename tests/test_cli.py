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


# -- hostile input: no hang, no lost report, no crash that takes the run down -------


def cli(*args: str, cwd: Path, stdin: bytes | None = None, env: dict | None = None):
    """The installed command in a process of its own (real streams and encodings)."""
    return subprocess.run(
        [sys.executable, "-m", "torchlint", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_stdin_filename_without_dash_reads_stdin(project):
    write(project / "other.py", PER_BATCH_SCHEDULER.format(noqa=""))
    result = run("check", "--stdin-filename", "train.py", stdin=CLEAN)
    assert result.exit_code == 0, result.output
    assert "other.py" not in result.output
    result = run("check", "--stdin-filename", "t.py", stdin=PER_BATCH_SCHEDULER.format(noqa=""))
    assert result.exit_code == 1 and "t.py:10:13: TL006" in result.output


@pytest.mark.parametrize("option", ["--select", "--extend-select", "--ignore"])
def test_empty_selector_is_a_usage_error(project, option):
    write(project / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    for value in ("", "TL006,", " , "):
        result = run("check", "--no-cache", option, value, ".")
        assert result.exit_code == 2, (option, value, result.output)
        assert "empty rule selector" in result.output


def test_exclude_options_exist(project):
    write(project / "legacy" / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    write(project / "gen" / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    assert run("check", "--no-cache", "--extend-exclude", "legacy", "gen").exit_code == 1
    result = run("check", "--no-cache", "--extend-exclude", "legacy", "--extend-exclude", "gen")
    assert result.exit_code == 0, result.output
    assert run("check", "--no-cache", "--exclude", "legacy,gen").exit_code == 1
    assert run("check", "--no-cache", "--exclude", "legacy", "--exclude", "gen").exit_code == 0


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs byte file names")
@pytest.mark.parametrize("output_format", ["concise", "full", "json", "sarif", "github"])
def test_non_utf8_byte_in_a_file_name_keeps_the_report(project, output_format):
    body = PER_BATCH_SCHEDULER.format(noqa="").encode()
    with open(os.fsencode(str(project)) + b"/caf\xe9.py", "wb") as handle:
        handle.write(body)
    write(project / "plain.py", PER_BATCH_SCHEDULER.format(noqa=""))
    result = cli("check", "--no-cache", "--output-format", output_format, ".", cwd=project)
    output = result.stdout.decode("utf-8")
    assert result.returncode == 1, result.stderr
    assert "plain.py" in output
    if output_format == "sarif":
        uris = [
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(output)["runs"][0]["results"]
        ]
        assert "caf%E9.py" in uris
    elif output_format == "json":
        assert any(d["filename"].endswith("caf\ufffd.py") for d in json.loads(output))
    else:
        assert "caf\ufffd.py" in output
    if output_format == "full":
        assert "scheduler.step()" in output.split("caf\ufffd.py", 1)[1]


@pytest.mark.parametrize("output_format", ["concise", "full", "json", "sarif", "github"])
def test_console_that_cannot_encode_a_name_keeps_the_report(project, output_format):
    write(project / "λ_model.py", PER_BATCH_SCHEDULER.format(noqa=""))
    write(project / "plain.py", PER_BATCH_SCHEDULER.format(noqa=""))
    result = cli(
        "check",
        "--no-cache",
        "--output-format",
        output_format,
        ".",
        cwd=project,
        env={"PYTHONIOENCODING": "cp1252"},
    )
    assert result.returncode == 1, result.stderr
    output = result.stdout.decode("cp1252")
    assert "plain.py" in output and "_model.py" in output
    assert "Traceback" not in result.stderr.decode("cp1252", "replace")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_and_fifo_behind_python_names_do_not_hang(project):
    write(project / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    os.symlink("/dev/zero", project / "zero.py")
    os.mkfifo(project / "pipe.py")
    for args in (["."], ["zero.py", "pipe.py", "train.py"], ["--output-format", "full", "."]):
        result = cli("check", "--no-cache", *args, cwd=project)
        output = result.stdout.decode()
        assert result.returncode == 1, result.stderr
        assert "train.py:10:13: TL006" in output
        assert "zero.py:1:1: TL000" in output and "character device" in output
        assert "pipe.py:1:1: TL000" in output and "FIFO" in output


def test_symlink_loops_end_quickly(project):
    for name in ("a", "b", "c"):
        write(project / name / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    for name in ("a", "b", "c"):
        for other in {"a", "b", "c"} - {name}:
            os.symlink(f"../{other}", project / name / f"to_{other}")
    result = cli("check", "--no-cache", "--output-format", "json", ".", cwd=project)
    assert result.returncode == 1
    assert len(json.loads(result.stdout)) == 3


def test_deep_chain_among_many_files_costs_one_file(project):
    for index in range(12):
        write(project / f"m{index:02d}.py", PER_BATCH_SCHEDULER.format(noqa=""))
    # Text a rule looks for, so that the file goes on to libcst.
    chain = PER_BATCH_SCHEDULER.format(noqa="") + "y = " + " + ".join(["y"] * 7000) + "\n"
    write(project / "chain.py", chain)
    result = cli("check", "--no-cache", "--jobs", "2", "--output-format", "json", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    found = json.loads(result.stdout)
    assert sum(d["code"] == "TL006" for d in found) == 12
    [chain] = [d for d in found if d["filename"].endswith("chain.py")]
    assert chain["code"] == "TL0002"


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork")
def test_a_worker_that_dies_costs_one_named_file(project, monkeypatch):
    import signal

    from torchlint import runner
    from torchlint.registry import rule_index

    original = runner.check_bytes

    def dies_on_marker(data, path, selection):
        if b"KILL_THE_WORKER" in data:
            import faulthandler

            faulthandler.disable()  # pytest's would print the dying worker's stack
            os.kill(os.getpid(), signal.SIGSEGV)
        return original(data, path, selection)

    monkeypatch.setattr(runner, "check_bytes", dies_on_marker)
    files = []
    for index in range(20):
        body = PER_BATCH_SCHEDULER.format(noqa="") if index != 7 else "# KILL_THE_WORKER\n"
        files.append((f"m{index:02d}.py", str(write(project / f"m{index:02d}.py", body))))
    codes = tuple(rule.code for rule in rule_index())
    job = runner.CheckJob(codes, {code: {} for code in codes}, True, None, "test")
    found = runner.check_files(files, job, jobs=2)
    assert sum(d.code == "TL006" for d in found) == 19
    [crash] = [d for d in found if d.code == "TL999"]
    assert crash.path == "m07.py"
    assert "SIGSEGV" in crash.message and "killed its worker process" in crash.message


def test_wrong_option_item_type_exits_2_naming_file_and_key(project):
    write(project / "train.py", PER_BATCH_SCHEDULER.format(noqa=""))
    write(
        project / "pyproject.toml",
        "[tool.torchlint.rules.TL005]\nprimary-loss-names = [1, 2]\n",
    )
    result = run("check", "--no-cache", ".")
    assert result.exit_code == 2
    assert "internal error" not in result.output
    assert "pyproject.toml: [tool.torchlint.rules.TL005] 'primary-loss-names'" in result.output


def test_confirm_progress_is_a_click_progress_bar_per_rule(monkeypatch):
    import io

    from torchlint.runtime.cli import _Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = _Progress(True)
    for code in ("TL001", "TL002"):
        for done in range(5):
            progress(code, done, 4)
    progress.close()
    shown = terminal.getvalue()
    assert "TL001" in shown and "TL002" in shown and shown.count("4/4") == 2
    silent = _Progress(False)
    silent("TL001", 1, 4)
    silent.close()


GUARDED_FORWARD = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        out = self.proj(x)
        if torch.isnan(out).any():
            out = torch.zeros_like(out)
        if out.sum() > 0:
            out = out * 2
        if torch.isinf(out).any():
            raise ValueError("inf")
        assert out.mean() < 10
        return out
"""


@pytest.mark.parametrize("cache", [["--no-cache"], []])
def test_tl002_flag_guards_option_reaches_the_rule_from_the_config(project, cache):
    write(project / "model.py", GUARDED_FORWARD)
    quiet = run("check", *cache, "--select", "TL002", ".")
    assert quiet.exit_code == 0, quiet.output
    write(project / "pyproject.toml", "[tool.torchlint.rules.TL002]\nflag-guards = true\n")
    loud = run("check", *cache, "--select", "TL002", ".")
    assert loud.exit_code == 1, loud.output
    rows = sorted(int(m) for m in re.findall(r"^model\.py:(\d+):\d+: TL002", loud.output, re.M))
    assert rows == [12, 14, 16, 18]
