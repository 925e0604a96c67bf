"""The wheel installs rules/ and runtime/ inside the torchlint namespace only."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [path] = out.glob("torchlint-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_no_top_level_rules_or_runtime_package(wheel):
    top_level = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert "rules" not in top_level
    assert "runtime" not in top_level
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"torchlint"}


def test_rules_and_runtime_live_under_torchlint(wheel):
    names = wheel.namelist()
    assert "torchlint/rules/__init__.py" in names
    assert "torchlint/runtime/__init__.py" in names
    assert "torchlint/cli.py" in names


def test_torch_is_only_an_extra(wheel):
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    requires = [
        line
        for line in wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    torch_lines = [line for line in requires if line.split(";")[0].split()[-1].startswith("torch")]
    assert torch_lines, requires
    assert all("extra == " in line and "runtime" in line for line in torch_lines), torch_lines
    assert any(line.startswith("Requires-Dist: libcst") for line in requires)
