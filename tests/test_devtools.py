"""The new-rule scaffold writes a module the index reads and the definition test judges."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from torchlint.devtools.__main__ import new_rule
from torchlint.rules import read_entry


def _load(path):
    spec = importlib.util.spec_from_file_location(f"scaffolded_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_new_rule_writes_a_module_the_index_finds(tmp_path) -> None:
    (tmp_path / "rules").mkdir()
    module, keep = new_rule("TL042", "frozen-batchnorm", tmp_path)
    assert module == tmp_path / "rules" / "tl042_frozen_batchnorm.py"
    assert keep.parent == tmp_path / "tests" / "fixtures" / "TL042"
    entry = read_entry(module)
    assert (entry.code, entry.name, entry.default_enabled) == ("TL042", "frozen-batchnorm", True)
    assert entry.class_name == "FrozenBatchnorm"
    rule = getattr(_load(module), entry.class_name)
    assert rule.prefilter.token_groups() == (("example_call",),)
    # The skeleton is not a rule yet: its definition test names what is missing.
    problems = rule.validate_definition()
    assert any("no summary" in p for p in problems)
    assert any("valid and invalid examples" in p for p in problems)


def test_new_rule_refuses_a_taken_code_and_bad_names(tmp_path) -> None:
    (tmp_path / "rules").mkdir()
    new_rule("TL042", "frozen-batchnorm", tmp_path)
    for code, name in [("TL042", "other-name"), ("TL4", "x"), ("TL043", "Bad_Name")]:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "torchlint.devtools",
                "new-rule",
                code,
                name,
                "--root",
                tmp_path,
            ],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 2 and "error:" in run.stderr, (code, name, run.stderr)
