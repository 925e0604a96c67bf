"""Jupyter notebooks: cells joined into one module, IPython masked, findings per cell."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from torchlint.cache import content_hash
from torchlint.cli import main
from torchlint.diagnostics import Diagnostic
from torchlint.engine import RuleSelection, check_bytes
from torchlint.notebook import Notebook, NotebookError, mask_ipython, split_lines
from torchlint.registry import all_rules

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
LR_DECAY = NOTEBOOKS / "train_lr_decay.ipynb"
SCHEDULER = NOTEBOOKS / "scheduler_across_cells.ipynb"

# The finding of train_lr_decay.ipynb: cell 5 starts with `%%time`, and
# `group["lr"] *= 0.1` is its ninth line, indented by twelve spaces.
LR_DECAY_POSITION = (5, 9, 13)


def notebook_text(*sources, language: str = "python", as_string: bool = False) -> str:
    """A notebook (nbformat 4, Jupyter's layout) with one code cell per source."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": source if as_string else source.splitlines(keepends=True),
        }
        for source in sources
    ]
    notebook = {
        "cells": cells,
        "metadata": {"language_info": {"name": language}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def check_notebook(text: str | bytes, path: str = "nb.ipynb", codes=None) -> list[Diagnostic]:
    rules = tuple(r for r in all_rules() if codes is None or r.code in codes)
    data = text.encode("utf-8") if isinstance(text, str) else text
    return check_bytes(data, path, RuleSelection(rules, {}))


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


PER_BATCH_DECAY = """\
for epoch in range(3):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        for g in optimizer.param_groups:
            g["lr"] *= 0.1
        optimizer.zero_grad()
"""


# -- the check: one TL004, named by cell and line, in three formats --------


def test_lr_decay_notebook_concise_names_cell_and_line(project):
    shutil.copy(LR_DECAY, project / "train.ipynb")
    result = run("check", "--no-cache", "train.ipynb")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("train.ipynb:cell 5:9:13: TL004 [lr-decay-per-batch] ")
    assert lines[1:] == ["Found 1 error."]


def test_lr_decay_notebook_json_has_ruffs_cell_field(project):
    shutil.copy(LR_DECAY, project / "train.ipynb")
    records = json.loads(run("check", "--no-cache", "--output-format", "json", ".").output)
    assert len(records) == 1
    record = records[0]
    assert record["code"] == "TL004"
    assert (record["cell"], record["location"]["row"], record["location"]["column"]) == (
        LR_DECAY_POSITION
    )
    assert record["end_location"] == {"row": 9, "column": 31}
    assert record["noqa_row"] == 9
    assert record["filename"] == str(project / "train.ipynb")


def test_lr_decay_notebook_sarif_region_is_the_line_of_the_json_file(project):
    shutil.copy(LR_DECAY, project / "train.ipynb")
    log = json.loads(run("check", "--no-cache", "--output-format", "sarif", ".").output)
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "TL004"
    assert result["message"]["text"].startswith("cell 5, line 9: ")
    assert result["properties"]["cell"] == 5
    assert (result["properties"]["cellStartLine"], result["properties"]["cellStartColumn"]) == (
        9,
        13,
    )
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "train.ipynb", "uriBaseId": "%SRCROOT%"}
    region = location["region"]
    file_lines = (project / "train.ipynb").read_text(encoding="utf-8").splitlines()
    line = file_lines[region["startLine"] - 1]
    # The region covers exactly the flagged code as the JSON file writes it.
    flagged = line[region["startColumn"] - 1 : region["endColumn"] - 1]
    assert flagged == 'group[\\"lr\\"] *= 0.1'
    assert region["endLine"] == region["startLine"]


def test_lr_decay_notebook_sarif_validates(project):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
    validator = jsonschema.Draft7Validator(json.loads(schema_path.read_text()))
    shutil.copy(LR_DECAY, project / "train.ipynb")
    log = json.loads(run("check", "--no-cache", "--output-format", "sarif", ".").output)
    assert list(validator.iter_errors(log)) == []


def test_github_annotation_on_the_json_line_with_cell_in_title(project):
    shutil.copy(LR_DECAY, project / "train.ipynb")
    out = run("check", "--no-cache", "--output-format", "github", ".").output
    file_lines = (project / "train.ipynb").read_text(encoding="utf-8").splitlines()
    line_number = next(i for i, line in enumerate(file_lines, 1) if '*= 0.1\\n"' in line)
    assert out.startswith(f"::error file=train.ipynb,line={line_number},col=18,")
    assert "title=TL004 lr-decay-per-batch (cell 5%2C line 9%2C column 13)::" in out


def test_full_format_quotes_the_cell_line(project):
    shutil.copy(LR_DECAY, project / "train.ipynb")
    out = run("check", "--no-cache", "--output-format", "full", ".").output
    assert "train.ipynb:cell 5:9:13: TL004" in out
    assert '9 |             group["lr"] *= 0.1\n  |             ^^^^^^^^^^^^^^^^^^\n' in out


# -- joining cells ------------------------------------------------------------------


def test_names_flow_across_cells(run_lint):
    diagnostics = check_notebook(SCHEDULER.read_bytes())
    assert [(d.code, d.cell, d.row, d.column) for d in diagnostics] == [("TL006", 4, 7, 9)]
    # The training cell alone does not know that `scheduler` is a StepLR.
    training_cell = "".join(json.loads(SCHEDULER.read_text())["cells"][3]["source"])
    assert run_lint(training_cell) == []


def test_module_has_the_lines_of_the_cells():
    notebook = Notebook.parse(LR_DECAY.read_text(encoding="utf-8"))
    assert [cell.number for cell in notebook.cells] == [2, 3, 5, 6]
    cell_lines = sum(cell.line_count for cell in notebook.cells)
    assert len(split_lines(notebook.module)) == cell_lines
    assert notebook.module.splitlines()[:3] == ["pass", "pass", "import torch"]


def test_cells_without_final_newline_do_not_run_together():
    text = notebook_text("x = 1", "y = 2", as_string=True)
    assert Notebook.parse(text).module == "x = 1\ny = 2\n"


def test_noqa_inside_a_cell():
    source = PER_BATCH_DECAY
    assert [d.code for d in check_notebook(notebook_text("import torch", source))] == ["TL004"]
    silenced = source.replace('g["lr"] *= 0.1', 'g["lr"] *= 0.1  # noqa: TL004')
    assert check_notebook(notebook_text("import torch", silenced)) == []
    other_code = source.replace('g["lr"] *= 0.1', 'g["lr"] *= 0.1  # noqa: TL001')
    assert len(check_notebook(notebook_text("import torch", other_code))) == 1
    # A file-wide suppression in any cell covers the whole notebook.
    assert check_notebook(notebook_text("# torchlint: noqa: TL004\nimport torch", source)) == []


def test_syntax_error_is_located_in_its_cell():
    (diagnostic,) = check_notebook(notebook_text("import torch\n", "x = 1\ny = (2 +\n", "z = 3\n"))
    assert diagnostic.code == "TL000"
    assert diagnostic.cell == 2
    assert diagnostic.row == 2
    assert diagnostic.file_span is not None


def test_crashing_rule_names_the_cell(monkeypatch):
    from torchlint.rule import Rule

    class Crashes(Rule):
        code = "TL998"
        name = "crashes"
        summary = "raises on every call"
        fix_hint = ""

        def visit_Call(self, node):
            raise RuntimeError("boom")

    text = notebook_text("import torch\n", "x = 1\ny = torch.zeros(3)\n")
    (diagnostic,) = check_bytes(text.encode(), "nb.ipynb", RuleSelection((Crashes,), {}, False))
    assert diagnostic.is_internal_error
    assert (diagnostic.cell, diagnostic.row) == (2, 2)
    assert "crashed at cell 2, line 2: RuntimeError: boom" in diagnostic.message


def test_notebook_of_another_language_is_not_checked():
    assert check_notebook(notebook_text("import torch", PER_BATCH_DECAY, language="R")) == []


def test_notebook_without_code_cells_is_clean():
    text = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert check_notebook(text) == []


# -- IPython syntax -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("%matplotlib inline\n", "pass\n"),
        ("!pip install -q timm\n", "pass\n"),
        ("!!ls\n", "pass\n"),
        ("%load_ext autoreload\n", "pass\n"),
        ("?torch.optim\n", "pass\n"),
        ("model.forward??\n", "pass\n"),
        ("files = !ls data\n", "files = None\n"),
        ("timing = %timeit -o f()\n", "timing = None\n"),
        ("a, b = !cat pair.txt\n", "a, b = None\n"),
        ("x = 3 % 2\n", "x = 3 % 2\n"),
        ("print('!not a shell')\n", "print('!not a shell')\n"),
    ],
)
def test_one_line_magics_and_escapes(line, masked):
    assert mask_ipython(line) == masked


def test_escape_inside_a_block_keeps_the_block():
    source = "if True:\n    !nvidia-smi\nx = 1\n"
    assert mask_ipython(source) == "if True:\n    pass\nx = 1\n"


def test_percent_and_bang_inside_brackets_and_strings_are_python():
    source = 'total = (a\n    % b)\ntext = """\n!not a command\n%not a magic\n"""\n'
    assert mask_ipython(source) == source


def test_shell_command_continued_with_backslash():
    source = "!pip install \\\n    timm\nimport timm\n"
    assert mask_ipython(source) == "pass\n\nimport timm\n"


def test_python_cell_magic_keeps_its_body():
    assert mask_ipython("%%time\nfor i in range(3):\n    pass\n") == (
        "\nfor i in range(3):\n    pass\n"
    )


def test_other_cell_magics_blank_the_cell():
    source = "%%bash\nfor f in *.py; do echo $f; done\n"
    assert mask_ipython(source) == "\n\n"
    # A bug in a %%writefile cell is not code of this notebook.
    text = notebook_text("import torch\n", "%%writefile train.py\n" + PER_BATCH_DECAY)
    assert check_notebook(text) == []


def test_magics_keep_line_numbers():
    source = "%matplotlib inline\n!pip install timm\n%%capture\n" + PER_BATCH_DECAY
    (diagnostic,) = check_notebook(notebook_text("import torch\n", source))
    assert (diagnostic.cell, diagnostic.row, diagnostic.column) == (2, 10, 13)


# -- files that are not notebooks ----------------------------------------------------


def test_invalid_json_is_a_located_finding(project):
    text = LR_DECAY.read_text(encoding="utf-8")
    broken = text.replace('"nbformat": 4,', '"nbformat": 4', 1)
    (project / "broken.ipynb").write_text(broken, encoding="utf-8")
    result = run("check", "--no-cache", ".")
    assert result.exit_code == 1
    # The parser stops at the key after the missing comma.
    expected_row = broken[: broken.index('"nbformat_minor"')].count("\n") + 1
    assert result.output.startswith(
        f"broken.ipynb:{expected_row}:2: TL000 [file-error] notebook is not valid JSON: "
        "Expecting ',' delimiter"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "notebook is not valid JSON: Expecting value"),
        (b"[1, 2]", "not a Jupyter notebook: the JSON is not an object"),
        (b'{"metadata": {}}', "not a Jupyter notebook: no `cells` list"),
        (b'{"worksheets": [], "nbformat": 3}', "nbformat 3 notebook"),
        (b'{"cells": [1]}', "cell 1 is not an object"),
        (b'{"cells": [{"cell_type": "code", "source": 7}]}', "cell 1 has a `source`"),
        (b'{"cells": []}\xff', "notebook is not UTF-8: byte 0xff is invalid"),
    ],
)
def test_files_that_are_not_notebooks(content, message):
    (diagnostic,) = check_notebook(content)
    assert diagnostic.code == "TL000"
    assert diagnostic.message.startswith(message)
    assert diagnostic.cell is None


def test_bad_cell_is_located_at_the_cell():
    text = '{\n "cells": [\n  {"cell_type": "code", "source": "x = 1"},\n  []\n ]\n}\n'
    (diagnostic,) = check_notebook(text)
    assert (diagnostic.row, diagnostic.column) == (4, 3)
    assert diagnostic.message == "cell 2 is not an object"


def test_notebook_error_positions():
    with pytest.raises(NotebookError) as raised:
        Notebook.parse('{"cells": [}')
    assert (raised.value.row, raised.value.column) == (1, 12)


# -- discovery, excludes and the cache --------------------------------------------


def test_folders_yield_notebooks_but_not_checkpoints(project):
    (project / "nbs").mkdir()
    shutil.copy(LR_DECAY, project / "nbs" / "train.ipynb")
    (project / "nbs" / ".ipynb_checkpoints").mkdir()
    shutil.copy(LR_DECAY, project / "nbs" / ".ipynb_checkpoints" / "train-checkpoint.ipynb")
    out = run("check", "--no-cache", "--output-format", "json", ".").output
    assert [Path(r["filename"]).name for r in json.loads(out)] == ["train.ipynb"]


def test_excludes_per_file_ignores_and_gitignore_apply_to_notebooks(project):
    shutil.copy(LR_DECAY, project / "a.ipynb")
    shutil.copy(LR_DECAY, project / "b.ipynb")
    shutil.copy(LR_DECAY, project / "c.ipynb")
    (project / ".git").mkdir()  # .gitignore counts inside a git repository, as git reads it
    (project / ".gitignore").write_text("c.ipynb\n")
    (project / "pyproject.toml").write_text(
        '[tool.torchlint]\nextend-exclude = ["a.ipynb"]\n'
        '[tool.torchlint.per-file-ignores]\n"b.ipynb" = ["TL004"]\n'
    )
    assert run("check", "--no-cache", ".").output == "All checks passed!\n"
    (project / "pyproject.toml").write_text('[tool.torchlint]\nextend-exclude = ["*.ipynb"]\n')
    shutil.copy(LR_DECAY, project / "d.ipynb")
    assert run("check", "--no-cache", ".").output == "All checks passed!\n"


def test_cache_answers_notebooks_with_their_cells(project):
    shutil.copy(LR_DECAY, project / "train.ipynb")
    cold = run("check", "--output-format", "json", ".").output
    assert (project / ".torchlint_cache").is_dir()
    warm = run("check", "--output-format", "json", ".").output
    assert warm == cold
    assert json.loads(warm)[0]["cell"] == 5
    sarif_cold = run("check", "--no-cache", "--output-format", "sarif", ".").output
    sarif_warm = run("check", "--output-format", "sarif", ".").output
    assert sarif_warm == sarif_cold


def test_same_bytes_as_notebook_and_as_python_file_are_cached_apart(project):
    (project / "empty.py").write_text("")
    (project / "empty.ipynb").write_text("")
    assert content_hash(b"", "empty.py") != content_hash(b"", "empty.ipynb")
    for _ in range(2):
        result = run("check", ".")
        assert "empty.ipynb:1:1: TL000" in result.output
        assert "empty.py" not in result.output


def test_stdin_named_as_a_notebook(project):
    result = run("check", "-", "--stdin-filename", "train.ipynb", stdin=LR_DECAY.read_text("utf-8"))
    assert result.output.startswith("train.ipynb:cell 5:9:13: TL004")


# -- positions in the JSON text ----------------------------------------------------


def test_file_position_of_a_string_source_with_escapes():
    source = 'msg = "héllo 😀"\nlr *= 0.1\n'
    for ensure_ascii in (False, True):
        notebook_json = {"cells": [{"cell_type": "code", "source": source}], "nbformat": 4}
        text = json.dumps(notebook_json, ensure_ascii=ensure_ascii)
        notebook = Notebook.parse(text)
        cell = notebook.cells[0]
        row, column = notebook.file_position(cell, 2, 1)
        offset = len(text.splitlines()[0][: column - 1])
        assert text[offset:].startswith("lr *= 0.1")
        assert row == 1
        # The emoji is one code point in the cell, one or two escapes in the file.
        _, emoji = notebook.file_position(cell, 1, 14)
        assert text[emoji - 1 :].startswith("\\ud83d\\ude00" if ensure_ascii else "😀")
        _, closing_quote = notebook.file_position(cell, 1, 15)
        assert text[closing_quote - 1 :].startswith('\\"\\n')


def test_file_position_in_a_list_source():
    notebook = Notebook.parse(LR_DECAY.read_text(encoding="utf-8"))
    cell = notebook.cells[2]
    file_lines = notebook.text.splitlines()
    row, column = notebook.file_position(cell, 3, 5)
    assert file_lines[row - 1][column - 1 :].startswith("for inputs, targets")
    end_row, end_column = notebook.file_position(cell, 10, 30)
    assert file_lines[end_row - 1][end_column - 1] == '"'


# -- rewriting cell sources from an edited module ------------------------------------


def test_unchanged_module_gives_the_same_bytes():
    notebook = Notebook.parse(LR_DECAY.read_text(encoding="utf-8"))
    assert notebook.with_module(notebook.module) == notebook.text


def test_edit_rewrites_one_cell_and_keeps_everything_else():
    text = LR_DECAY.read_text(encoding="utf-8")
    notebook = Notebook.parse(text)
    edited = notebook.module.replace('group["lr"] *= 0.1', 'group["lr"] = 0.1 * 0.5**epoch')
    new_text = notebook.with_module(edited)
    old, new = json.loads(text), json.loads(new_text)
    assert new["metadata"] == old["metadata"]
    for old_cell, new_cell in zip(old["cells"], new["cells"]):
        assert {k: v for k, v in new_cell.items() if k != "source"} == {
            k: v for k, v in old_cell.items() if k != "source"
        }
    changed = [i for i, (a, b) in enumerate(zip(old["cells"], new["cells"])) if a != b]
    assert changed == [4]
    assert new["cells"][4]["source"][0] == "%%time\n"
    assert new["cells"][4]["source"][8] == '            group["lr"] = 0.1 * 0.5**epoch\n'
    assert new["cells"][4]["source"][-1] == "    print(epoch, loss.item())"
    # Only that one line of the file differs.
    old_lines, new_lines = text.splitlines(), new_text.splitlines()
    assert len(old_lines) == len(new_lines)
    differing = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert len(differing) == 1
    assert new_text.endswith("}\n")


def test_edit_next_to_magics_keeps_the_magics():
    notebook = Notebook.parse(LR_DECAY.read_text(encoding="utf-8"))
    edited = notebook.module.replace("import torch\n", "import torch\nimport math\n")
    new = json.loads(notebook.with_module(edited))
    assert new["cells"][1]["source"][:4] == [
        "%matplotlib inline\n",
        "!pip install -q timm\n",
        "import torch\n",
        "import math\n",
    ]
    lines = notebook.module.splitlines(keepends=True)
    # The line after the magics is edited: the magics stay as they were.
    lines[2] = "import torch  # edited\n"
    new = json.loads(notebook.with_module("".join(lines)))
    assert new["cells"][1]["source"][:2] == ["%matplotlib inline\n", "!pip install -q timm\n"]


def test_insertions_at_cell_boundaries():
    text = notebook_text("import torch\n", "for x in loader:\n    step(x)\n", "print(1)\n")
    notebook = Notebook.parse(text)
    lines = notebook.module.splitlines(keepends=True)
    # An import at the top goes to the first cell.
    new = json.loads(notebook.with_module("import math\n" + notebook.module))
    assert new["cells"][0]["source"] == ["import math\n", "import torch\n"]
    # An indented line after a cell's last line continues that cell's block.
    edited = "".join([*lines[:3], "    scheduler.step()\n", *lines[3:]])
    new = json.loads(notebook.with_module(edited))
    assert new["cells"][1]["source"][-1] == "    scheduler.step()\n"
    # An unindented one starts the next cell.
    edited = "".join([*lines[:3], "scheduler.step()\n", *lines[3:]])
    new = json.loads(notebook.with_module(edited))
    assert new["cells"][2]["source"] == ["scheduler.step()\n", "print(1)\n"]


def test_string_sources_stay_strings_and_final_newlines_are_kept():
    text = notebook_text("x = 1", "y = 2\n", as_string=True)
    notebook = Notebook.parse(text)
    new = json.loads(notebook.with_module("x = 10\ny = 20\n"))
    assert [cell["source"] for cell in new["cells"]] == ["x = 10", "y = 20\n"]


def test_empty_list_source_is_written_in_the_files_layout():
    text = notebook_text("", "x = 1\n")
    notebook = Notebook.parse(text)
    new_text = notebook.with_module("x = 1\nprint(x)\n")
    # Nothing was in the empty cell, so lines after cell 2's lines stay in cell 2.
    assert json.loads(new_text)["cells"][1]["source"] == ["x = 1\n", "print(x)\n"]
    new_text = notebook.with_module("import math\nx = 1\n")
    cells = json.loads(new_text)["cells"]
    assert cells[0]["source"] == ["import math\n"]
    assert '   "source": [\n    "import math\\n"\n   ]' in new_text


def test_one_line_list_source_stays_on_one_line():
    text = '{"cells": [{"cell_type": "code", "source": ["a = 1\\n", "b = 2"]}], "nbformat": 4}'
    notebook = Notebook.parse(text)
    new_text = notebook.with_module("a = 1\nb = 3\n")
    assert new_text == (
        '{"cells": [{"cell_type": "code", "source": ["a = 1\\n", "b = 3"]}], "nbformat": 4}'
    )
