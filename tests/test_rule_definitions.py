"""A rule cannot exist without its documentation and examples."""

from __future__ import annotations

import pytest

from torchlint.engine import RuleSelection, check_source
from torchlint.registry import all_rules

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_definition_is_complete(rule) -> None:
    assert rule.validate_definition() == []


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_invalid_examples_are_flagged_on_their_line_with_their_message(rule) -> None:
    for example in rule.invalid:
        found = check_source(example.source, "ex.py", RuleSelection((rule,), {}))
        pinned = [
            d
            for d in found
            if d.code == rule.code and d.row == example.line and example.message in d.message
        ]
        assert pinned, (
            f"{rule.code}: expected line {example.line} with {example.message!r}, "
            f"got {[(d.row, d.message) for d in found]}\n{example.source}"
        )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_valid_examples_stay_quiet(rule) -> None:
    for example in rule.valid:
        found = check_source(example, "ex.py", RuleSelection((rule,), {}))
        assert not found, f"{rule.code} flagged a valid example: {found}\n{example}"


def test_rule_index_matches_the_classes() -> None:
    from torchlint.registry import rule_index

    for entry, rule in zip(rule_index(), RULES):
        assert (entry.code, entry.name, entry.default_enabled) == (
            rule.code,
            rule.name,
            rule.default_enabled,
        )
        assert entry.prefilter is rule.prefilter, f"{rule.code}: index and class disagree"
    assert len(rule_index()) == len(RULES)


def test_a_fully_cached_run_imports_neither_libcst_nor_rules(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "train.py").write_text("import torch\nx = torch.zeros(3)\n", encoding="utf-8")
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['torchlint', 'check', '.']\n"
        "try:\n"
        "    runpy.run_module('torchlint', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in sys.modules if m == 'libcst' or m.startswith('torchlint.rules.tl')]\n"
        "print('LOADED', loaded)\n"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, check=True, capture_output=True)
    warm = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    assert "LOADED []" in warm.stdout, warm.stdout


def test_a_file_no_rule_can_flag_is_checked_without_libcst(tmp_path) -> None:
    import subprocess
    import sys

    # Passes every text pre-filter but none of the syntactic ones: a shape
    # check, a size comparison, no squash of a sum, no LR update, no ramp.
    (tmp_path / "block.py").write_text(
        "import torch\n"
        "import torch.nn as nn\n\n"
        "class Block(nn.Module):\n"
        "    def forward(self, x, mask=None):\n"
        "        if x.dim() == 4 and mask is not None:\n"
        "            x = x * mask\n"
        "        h = torch.tanh(self.proj(x))\n"
        "        while len(x) > 2:\n"
        "            x = x[1:]\n"
        "        return h  # the loss; scheduler.step(); StepLR; lr; warmup\n",
        encoding="utf-8",
    )
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['torchlint', 'check', '--no-cache', 'block.py']\n"
        "try:\n"
        "    runpy.run_module('torchlint', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print('EXIT', exc.code)\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'libcst']\n"
        "rules = [m for m in sys.modules if m.startswith('torchlint.rules.tl')]\n"
        "print('LOADED', loaded, len(rules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    # The rule modules are imported for their cheap stages; their judgement
    # (and libcst with it) is not.
    assert "EXIT 0" in run.stdout, run.stdout
    assert f"LOADED [] {len(RULES)}" in run.stdout, run.stdout


@pytest.mark.parametrize(
    ("config", "output_format"),
    [
        ("", "sarif"),
        ('[tool.torchlint.rules.TL005]\nprimary-loss-names = ["recon"]\n', "concise"),
    ],
    ids=["sarif", "rule-options"],
)
def test_rule_options_and_sarif_do_not_import_libcst(tmp_path, config, output_format) -> None:
    import subprocess
    import sys

    (tmp_path / "train.py").write_text("import torch\nx = torch.zeros(3)\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['torchlint', 'check', '--output-format', '{output_format}', '.']\n"
        "try:\n"
        "    runpy.run_module('torchlint', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LIBCST', [m for m in sys.modules if m.split('.')[0] == 'libcst'])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    assert "LIBCST []" in run.stdout, run.stdout
