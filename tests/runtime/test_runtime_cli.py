"""``torchlint confirm`` through click's CliRunner, and its import-time cost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from torchlint.runtime.cli import confirm


def test_json_run_exits_0_and_parses():
    result = CliRunner().invoke(
        confirm, ["TL006", "--quick", "--seeds", "2", "--device", "cpu", "--output-format", "json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (rule,) = payload["rules"]
    assert rule["code"] == "TL006"
    assert payload["seeds"] == [0, 1]
    assert {c["id"] for c in rule["claims"]} == {"lr-collapse", "worse-loss"}


def test_text_and_markdown_output():
    runner = CliRunner()
    text = runner.invoke(confirm, ["tl004", "--quick", "--seeds", "1", "--device", "cpu"])
    assert text.exit_code == 0, text.output
    assert "[confirmed] lr-collapse" in text.stdout
    md = runner.invoke(
        confirm,
        ["TL004", "--quick", "--seeds", "1", "--device", "cpu", "--output-format", "markdown"],
    )
    assert md.exit_code == 0
    assert "### TL004 lr-decay-per-batch" in md.stdout


def test_unknown_rule_exits_2():
    result = CliRunner().invoke(confirm, ["TL999", "--device", "cpu"])
    assert result.exit_code == 2
    assert "TL999" in result.stderr


def test_cuda_without_gpu_exits_2():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = CliRunner().invoke(confirm, ["TL004", "--device", "cuda", "--quick"])
    assert result.exit_code == 2
    assert "CUDA" in result.stderr


def test_missing_torch_exits_2_with_install_hint(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    result = CliRunner().invoke(confirm, ["--quick"])
    assert result.exit_code == 2
    assert "pip install 'torchlint[runtime]'" in result.stderr


def test_plots_without_matplotlib_exits_2(monkeypatch, tmp_path):
    from torchlint.runtime import report

    monkeypatch.setattr(report, "plots_available", lambda: False)
    result = CliRunner().invoke(confirm, ["TL004", "--quick", "--plots", str(tmp_path)])
    assert result.exit_code == 2
    assert "pip install 'torchlint[plots]'" in result.stderr


def test_importing_the_command_does_not_import_torch():
    code = (
        "import sys; import torchlint.runtime.cli, torchlint.runtime; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
