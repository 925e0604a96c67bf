"""Output formats: concise, full, json, sarif (schema-valid), github; statistics."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

import torchlint
import torchlint.registry
from torchlint.diagnostics import Diagnostic
from torchlint.report import FORMATS, render, statistics
from torchlint.report.github import annotation
from torchlint.rule import Rule

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


class SigmoidAfterResidual(Rule):
    """Flags a sigmoid applied to a residual sum.

    ## What it does
    Finds `torch.sigmoid(x + f(x))`.

    ## Why is this bad?
    The gradient vanishes.

    ## Example
    ```python
    y = torch.sigmoid(x + block(x))
    ```

    ## Use instead
    ```python
    y = x + torch.sigmoid(block(x))
    ```

    ## Evidence
    Gradient norm 1e-9 vs 0.3.
    """

    code = "TL001"
    name = "sigmoid-after-residual"
    summary = "sigmoid after a residual add squashes the skip path"
    fix_hint = "apply the sigmoid inside the branch"


class HiddenRule(Rule):
    code = "TL002"
    name = "hidden-rule"
    summary = "off by default"
    fix_hint = "opt in"
    default_enabled = False


@pytest.fixture(autouse=True)
def known_rules(monkeypatch):
    rules = (SigmoidAfterResidual, HiddenRule)
    monkeypatch.setattr(torchlint.registry, "all_rules", lambda: rules)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(
        "import torch\n\ndef forward(x):\n    return torch.sigmoid(x + block(x))\n"
    )
    return tmp_path


def finding(**changes) -> Diagnostic:
    values = dict(
        path=os.path.join("src", "model.py"),
        row=4,
        column=12,
        end_row=4,
        end_column=39,
        code="TL001",
        name="sigmoid-after-residual",
        message="sigmoid after a residual add squashes the skip path",
        fix_hint="apply the sigmoid inside the branch",
    )
    values.update(changes)
    return Diagnostic(**values)


def file_error() -> Diagnostic:
    return Diagnostic("missing.py", 1, 1, 1, 1, "TL000", "file-error", "no such file or directory")


def rendered(diagnostics, output_format, **kwargs) -> str:
    stream = io.StringIO()
    render(diagnostics, output_format, stream, **kwargs)
    return stream.getvalue()


def test_concise_lines_and_summary(project):
    out = rendered([finding(), file_error()], "concise")
    assert out.splitlines() == [
        f"{os.path.join('src', 'model.py')}:4:12: TL001 [sigmoid-after-residual] "
        "sigmoid after a residual add squashes the skip path",
        "missing.py:1:1: TL000 [file-error] no such file or directory",
        "Found 2 errors.",
    ]


def test_summary_singular_and_all_passed(project):
    assert rendered([finding()], "concise").endswith("Found 1 error.\n")
    assert rendered([], "concise") == "All checks passed!\n"
    assert rendered([], "full") == "All checks passed!\n"


def test_full_shows_source_caret_and_help(project):
    out = rendered([finding()], "full")
    assert out.splitlines()[:6] == [
        f"{os.path.join('src', 'model.py')}:4:12: TL001 [sigmoid-after-residual] "
        "sigmoid after a residual add squashes the skip path",
        "  |",
        "4 |     return torch.sigmoid(x + block(x))",
        "  |            " + "^" * 27,
        "  |",
        "  = help: apply the sigmoid inside the branch",
    ]
    assert out.endswith("\nFound 1 error.\n")


def test_full_multiline_span_underlines_rest_of_first_line(project):
    out = rendered([finding(end_row=5, end_column=2)], "full")
    assert "  |            " + "^" * 27 + "\n" in out


def test_full_keeps_tabs_so_carets_align(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.py").write_text("if x:\n\ty = f(z)\n")
    out = rendered([finding(path="t.py", row=2, column=6, end_row=2, end_column=10)], "full")
    assert "2 | \ty = f(z)\n  | \t    ^^^^\n" in out


def test_full_without_readable_source_skips_snippet(project):
    out = rendered([file_error()], "full")
    assert out.splitlines() == [
        "missing.py:1:1: TL000 [file-error] no such file or directory",
        "",
        "Found 1 error.",
    ]


def test_full_reads_each_file_once_through_show_source(project):
    calls = []

    def show_source(path):
        calls.append(path)
        return "a = 1\nb = torch.sigmoid(a + 1)\n"

    diagnostics = [
        finding(row=2, column=5, end_row=2, end_column=9),
        finding(row=1, column=1, end_row=1, end_column=2),
    ]
    out = rendered(diagnostics, "full", show_source=show_source)
    assert calls == [os.path.join("src", "model.py")]
    assert "2 | b = torch.sigmoid(a + 1)\n  |     ^^^^\n" in out
    assert "1 | a = 1\n  | ^\n" in out


def test_json_fields_like_ruff(project):
    records = json.loads(rendered([finding()], "json"))
    assert records == [
        {
            "cell": None,
            "code": "TL001",
            "end_location": {"column": 39, "row": 4},
            "filename": str(project / "src" / "model.py"),
            "fix": None,
            "location": {"column": 12, "row": 4},
            "message": "sigmoid after a residual add squashes the skip path",
            "name": "sigmoid-after-residual",
            "noqa_row": 4,
            "severity": "error",
            "url": "https://torchlint.readthedocs.io/en/latest/rules/TL001.html",
        }
    ]


def test_json_is_pretty_with_sorted_keys_and_empty_array(project):
    out = rendered([finding()], "json")
    assert out.startswith('[\n  {\n    "cell": null,\n    "code": "TL001",\n    "end_location"')
    assert rendered([], "json") == "[]\n"


@pytest.fixture
def sarif_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_sarif_validates_against_official_schema(project, sarif_validator):
    outside = str(project.parent / "elsewhere dir" / "x.py")
    diagnostics = [finding(), file_error(), finding(path=outside, code="TL777", name="plugin")]
    log = json.loads(rendered(diagnostics, "sarif"))
    errors = sorted(sarif_validator.iter_errors(log), key=str)
    assert errors == []
    empty = json.loads(rendered([], "sarif"))
    assert list(sarif_validator.iter_errors(empty)) == []


def test_sarif_schema_rejects_a_broken_log(sarif_validator):
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}
    assert list(sarif_validator.iter_errors(broken))


def test_sarif_content(project):
    log = json.loads(rendered([finding(), file_error()], "sarif"))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "torchlint"
    assert driver["version"] == torchlint.__version__
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == ["TL001", "TL002", "TL000", "TL0001", "TL0002", "TL0003", "TL999"]
    tl001 = driver["rules"][0]
    assert tl001["name"] == "sigmoid-after-residual"
    assert tl001["shortDescription"]["text"].startswith("sigmoid after a residual")
    assert tl001["fullDescription"]["text"] == "Finds `torch.sigmoid(x + f(x))`."
    assert tl001["help"]["text"] == "apply the sigmoid inside the branch"
    assert "## Why is this bad?" in tl001["help"]["markdown"]
    assert tl001["helpUri"].endswith("/TL001.html")
    assert driver["rules"][1]["defaultConfiguration"]["enabled"] is False

    first, second = run["results"]
    assert first["ruleId"] == "TL001"
    assert driver["rules"][first["ruleIndex"]]["id"] == "TL001"
    assert driver["rules"][second["ruleIndex"]]["id"] == "TL000"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "src/model.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {
        "startLine": 4,
        "startColumn": 12,
        "endLine": 4,
        "endColumn": 39,
    }
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file://")


def test_sarif_uri_is_percent_encoded(project):
    log = json.loads(rendered([finding(path=os.path.join("my dir", "a#b.py"))], "sarif"))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "my%20dir/a%23b.py"


def test_github_annotation_format(project):
    line = rendered([finding()], "github").rstrip("\n")
    assert line == (
        "::error file=src/model.py,line=4,col=12,endLine=4,endColumn=39,"
        "title=TL001 sigmoid-after-residual::"
        "sigmoid after a residual add squashes the skip path"
    )


def test_github_escaping_of_data_and_properties():
    diagnostic = finding(
        path="a,b:c%.py", message="100% wrong\r\nsee: a, b", name="x", code="TL001"
    )
    assert annotation(diagnostic) == (
        "::error file=a%2Cb%3Ac%25.py,line=4,col=12,endLine=4,endColumn=39,"
        "title=TL001 x::100%25 wrong%0D%0Asee: a, b"
    )


def test_github_levels_follow_severity():
    assert annotation(finding(severity="warning")).startswith("::warning ")
    assert annotation(finding(severity="info")).startswith("::notice ")


def test_statistics_sorted_by_count_then_code():
    diagnostics = [finding(), finding(), file_error(), finding(code="TL002", name="other")]
    assert statistics(diagnostics) == (
        "2\tTL001\t[sigmoid-after-residual]\n1\tTL000\t[file-error]\n1\tTL002\t[other]\n"
    )
    assert statistics([]) == ""


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError, match="expected one of concise, full, json, sarif, github"):
        render([], "xml", io.StringIO())
    assert FORMATS == ("concise", "full", "json", "sarif", "github")
