"""The shipped pre-commit hook, run for real by pre-commit in a fresh repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="needs git and a git checkout of torchlint",
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _try_repo(repo: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "torchlint", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    # One hook environment for the module: pre-commit builds it once.
    return tmp_path_factory.mktemp("pre-commit-home")


def _new_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "ci@example.com")
    _git(path, "config", "user.name", "ci")
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _git(path, "add", "-A")
    return path


def test_hook_reports_findings_in_many_files(tmp_path, home):
    files = {f"pkg/clean_{i}.py": f"VALUE_{i} = {i}\n" for i in range(12)}
    files["pkg/broken.py"] = "def train(:\n    pass\n"
    files["build/ignored.py"] = "def also_broken(:\n"
    files["nbs/train.ipynb"] = (ROOT / "tests/data/notebooks/train_lr_decay.ipynb").read_text()
    repo = _new_repo(tmp_path / "repo", files)
    result = _try_repo(repo, home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "pkg/broken.py:1:" in output and "TL000" in output
    # Notebooks are handed to the hook too (pre-commit's `jupyter` type).
    assert "nbs/train.ipynb:cell 5:9:13: TL004" in output
    # The default excludes apply to files pre-commit names explicitly.
    assert "build/ignored.py" not in output


def test_hook_passes_on_clean_files_and_with_no_python_files(tmp_path, home):
    clean = _new_repo(tmp_path / "clean", {"a.py": "import torch\nx = torch.zeros(3)\n"})
    result = _try_repo(clean, home)
    assert result.returncode == 0, result.stdout + result.stderr

    empty = _new_repo(tmp_path / "empty", {"README.md": "no python here\n"})
    result = _try_repo(empty, home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no files to check" in result.stdout.lower() or "skipped" in result.stdout.lower()
