"""`--fix`, `--unsafe-fixes` and `--diff`: what is rewritten, what is left alone, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from torchlint.cli import main
from torchlint.diagnostics import Edit
from torchlint.fix import apply_edits, line_starts

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMAS = Path(__file__).parent / "data"
TRAINING = "training=self.training"

# Three TL008 findings: two fixable, one on a line whose noqa names another tool.
DROPOUT_MODEL = """\
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def forward(self, x):
        x = F.dropout(self.pool(x))  # pooled features
        y = F.dropout(
            x,
            p=0.5,
        )
        z = F.dropout(x, 0.5)  # noqa: E501
        w = F.dropout(x, p=0.1)  # noqa: TL008
        return x + y + z + w
"""

# A TL007 finding with an inline softmax: an unsafe fix.
SOFTMAX_LOSS = """\
import torch.nn as nn
import torch.nn.functional as F


def train(model, loader, optimizer):
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(F.softmax(model(x), dim=1), y)
        loss.backward()
        optimizer.step()
"""


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fix_rewrites_only_the_tl008_findings_and_is_idempotent(project):
    source = FIXTURES / "TL008" / "classifiers.py"
    target = project / "classifiers.py"
    shutil.copy(source, target)
    before = target.read_bytes().decode("utf-8").splitlines(keepends=True)

    first = run("check", "--no-cache", "--fix", "classifiers.py")
    after = target.read_bytes().decode("utf-8").splitlines(keepends=True)
    assert len(after) == len(before)
    changed = [(old, new) for old, new in zip(before, after) if old != new]
    assert changed, first.output
    for old, new in changed:
        # The only change on a line: `, training=self.training` before the call's `)`.
        assert "# expect: TL008" in old
        assert new.replace(", " + TRAINING, "", 1) == old
    flagged = [line for line in before if "# expect: TL008" in line]
    assert len(changed) == len(flagged)
    assert "fixed" in first.output and first.exit_code == 0, first.output

    snapshot = target.read_bytes()
    second = run("check", "--no-cache", "--fix", "classifiers.py")
    assert target.read_bytes() == snapshot
    assert second.exit_code == 0 and "fixed" not in second.output


def test_fix_exits_1_when_findings_remain_and_keeps_noqa_lines(project):
    target = project / "model.py"
    target.write_text(DROPOUT_MODEL, encoding="utf-8")
    result = run("check", "--no-cache", "--fix", "model.py")
    assert result.exit_code == 1, result.output
    assert "Found 3 errors (2 fixed, 1 remaining)." in result.output
    fixed = target.read_text(encoding="utf-8")
    lines = fixed.splitlines()
    assert lines[6] == f"        x = F.dropout(self.pool(x), {TRAINING})  # pooled features"
    assert lines[7:12] == [
        "        y = F.dropout(",
        "            x,",
        "            p=0.5,",
        f"            {TRAINING},",
        "        )",
    ]
    # Lines with a noqa comment are never edited, whatever codes they name.
    assert "        z = F.dropout(x, 0.5)  # noqa: E501" in lines
    assert "        w = F.dropout(x, p=0.1)  # noqa: TL008" in lines
    assert "model.py:13:13: TL008" in result.output


def test_diff_prints_the_change_and_writes_nothing(project):
    target = project / "model.py"
    target.write_text(DROPOUT_MODEL, encoding="utf-8")
    result = run("check", "--no-cache", "--diff", "model.py")
    assert result.exit_code == 1
    assert target.read_text(encoding="utf-8") == DROPOUT_MODEL
    assert "--- model.py" in result.output and "+++ model.py" in result.output
    assert f"+        x = F.dropout(self.pool(x), {TRAINING})  # pooled features" in result.output
    assert "Would fix 2 errors." in result.output

    clean = project / "clean.py"
    clean.write_text("import torch\n", encoding="utf-8")
    nothing = run("check", "--no-cache", "--diff", "clean.py")
    assert nothing.exit_code == 0 and "+++" not in nothing.output


def test_unsafe_fixes_apply_only_when_asked(project):
    target = project / "train.py"
    target.write_text(SOFTMAX_LOSS, encoding="utf-8")
    listed = run("check", "--no-cache", "train.py")
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option" in listed.output

    safe_only = run("check", "--no-cache", "--fix", "train.py")
    assert safe_only.exit_code == 1
    assert target.read_text(encoding="utf-8") == SOFTMAX_LOSS

    assert run("check", "--no-cache", "--diff", "--unsafe-fixes", "train.py").exit_code == 1
    unsafe = run("check", "--no-cache", "--fix", "--unsafe-fixes", "train.py")
    assert unsafe.exit_code == 0, unsafe.output
    assert "loss = criterion(model(x), y)" in target.read_text(encoding="utf-8")


def test_fix_keeps_crlf_line_endings_and_the_byte_order_mark(project):
    target = project / "model.py"
    data = b"\xef\xbb\xbf" + DROPOUT_MODEL.replace("\n", "\r\n").encode("utf-8")
    target.write_bytes(data)
    run("check", "--no-cache", "--fix", "model.py")
    fixed = target.read_bytes()
    assert fixed.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in fixed.replace(b"\r\n", b"")
    assert fixed.count(TRAINING.encode()) == 2
    expected = DROPOUT_MODEL.replace("(self.pool(x))", f"(self.pool(x), {TRAINING})")
    expected = expected.replace("p=0.5,\n", f"p=0.5,\n            {TRAINING},\n")
    assert fixed == b"\xef\xbb\xbf" + expected.replace("\n", "\r\n").encode("utf-8")


def test_fix_through_a_symbolic_link_rewrites_the_target(project):
    real = project / "real.py"
    real.write_text(DROPOUT_MODEL, encoding="utf-8")
    link = project / "link.py"
    link.symlink_to(real)
    run("check", "--no-cache", "--fix", "link.py")
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8").count(TRAINING) == 2


def test_fix_from_stdin_writes_the_fixed_code_to_stdout():
    result = run("check", "--fix", "--stdin-filename", "model.py", "-", stdin=DROPOUT_MODEL)
    assert result.stdout.count(TRAINING) == 2
    assert result.stdout.startswith("import torch.nn as nn\n")
    assert result.exit_code == 1


def test_reports_show_fixes_and_the_cache_keeps_them(project):
    target = project / "model.py"
    target.write_text(DROPOUT_MODEL, encoding="utf-8")
    cold = json.loads(run("check", "--output-format", "json", "model.py").output)
    warm = json.loads(run("check", "--output-format", "json", "model.py").output)
    assert cold == warm
    fixes = [record["fix"] for record in warm]
    assert fixes[0] == {
        "applicability": "safe",
        "edits": [
            {
                "content": ", " + TRAINING,
                "end_location": {"column": 35, "row": 7},
                "location": {"column": 35, "row": 7},
            }
        ],
        "message": "Pass `training=self.training`",
    }
    assert fixes[2] is None  # the noqa: E501 line

    sarif = json.loads(run("check", "--output-format", "sarif", "model.py").output)
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(sarif, schema)
    results = sarif["runs"][0]["results"]
    replacement = results[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == ", " + TRAINING
    assert replacement["deletedRegion"]["startLine"] == 7
    assert "fixes" not in results[2]

    # A warm cache still knows the fixes: --fix applies them.
    assert run("check", "--fix", "model.py").exit_code == 1
    assert target.read_text(encoding="utf-8").count(TRAINING) == 2


def test_rules_listing_says_which_rules_fix():
    listing = run("rules").output
    assert "TL008" in listing and "[fix: safe]" in listing
    rows = {row["code"]: row for row in json.loads(run("rules", "--output-format", "json").output)}
    assert rows["TL008"]["fix"] == "safe"
    assert rows["TL007"]["fix"] == "unsafe"
    assert rows["TL001"]["fix"] is None
    assert "Fix: safe" in run("rule", "TL008").output


def test_apply_edits_positions_and_overlaps():
    text = "a = 1\r\nb = 2\rc = 3\n"
    assert line_starts(text) == [0, 7, 13, 19]
    edits = [Edit(2, 5, 2, 6, "20"), Edit(3, 1, 3, 2, "d")]
    assert apply_edits(text, edits) == "a = 1\r\nb = 20\rd = 3\n"
    with pytest.raises(ValueError, match="overlap"):
        apply_edits(text, [Edit(1, 1, 1, 4, "x"), Edit(1, 2, 1, 3, "y")])
    with pytest.raises(ValueError, match="outside"):
        apply_edits(text, [Edit(9, 1, 9, 1, "x")])


DECORATED = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


# The head of the model.

@torch.jit.ignore
@register(
    name="head",
    kind="classifier",
)
class Head(nn.Module):
    def forward(self, x):
        return F.dropout(x, p=0.5)


x = 1; y = F.dropout(x)  # a line of two statements
"""


def test_fix_lands_on_the_right_line_under_comments_and_decorators(project):
    (project / "head.py").write_text(DECORATED, encoding="utf-8")
    run("check", "--no-cache", "--fix", "head.py")
    expected = DECORATED.replace("F.dropout(x, p=0.5)", "F.dropout(x, p=0.5, " + TRAINING + ")")
    assert (project / "head.py").read_text(encoding="utf-8") == expected
