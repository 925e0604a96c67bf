"""The engine: parsing, decoding, suppressions, crashes, pre-filters."""

from __future__ import annotations

import os

import pytest
from engine_rules import CrashingRule, PrintRule, SigmoidCallRule

from torchlint.engine import RuleSelection, check_bytes, check_source

SELECTION = RuleSelection((SigmoidCallRule, PrintRule), {})


def codes_at(diagnostics):
    return sorted((d.row, d.code) for d in diagnostics)


def test_resolves_import_aliases_and_reports_one_based_positions():
    source = "import torch as T\nfrom torch import sigmoid as sg\ny = T.sigmoid(x)\nz = sg(x)\n"
    found = check_source(source, "m.py", SELECTION)
    assert [(d.row, d.column, d.end_column, d.code) for d in found] == [
        (3, 5, 17, "TL901"),
        (4, 5, 10, "TL901"),
    ]


def test_unimported_name_is_not_torch():
    assert check_source("def sigmoid(x): return x\ny = sigmoid(1)\n", "m.py", SELECTION) == []


def test_noqa_with_code_silences_only_that_code():
    source = (
        "import torch\n"
        "print(torch.sigmoid(x))  # noqa: TL901\n"
        "print(torch.sigmoid(x))  # noqa: TL902\n"
        "print(torch.sigmoid(x))  # noqa\n"
        "print(torch.sigmoid(x))  # noqa: E501, TL901, TL902\n"
        "s = '# noqa'; torch.sigmoid(x)\n"
    )
    assert codes_at(check_source(source, "m.py", SELECTION)) == [
        (2, "TL902"),
        (3, "TL901"),
        (6, "TL901"),
    ]


def test_noqa_on_last_line_of_multiline_statement():
    source = "import torch\ny = torch.sigmoid(\n    x,\n)  # noqa: TL901\n"
    assert check_source(source, "m.py", SELECTION) == []


def test_file_level_noqa():
    body = "import torch\nprint(torch.sigmoid(x))\n"
    assert codes_at(check_source("# torchlint: noqa: TL901\n" + body, "m.py", SELECTION)) == [
        (3, "TL902")
    ]
    assert check_source("# torchlint: noqa\n" + body, "m.py", SELECTION) == []


def test_syntax_error_is_a_located_diagnostic():
    [diagnostic] = check_source("x = 1\ndef f(:\n    pass\n", "bad.py", SELECTION)
    assert diagnostic.code == "TL000"
    assert (diagnostic.row, diagnostic.column) == (2, 7)
    assert "syntax error" in diagnostic.message


def test_syntax_error_found_even_when_prefilter_skips_the_file():
    [diagnostic] = check_source("x = (\n", "bad.py", RuleSelection((SigmoidCallRule,), {}))
    assert diagnostic.code == "TL000"


def test_latin1_without_declaration_reports_the_offending_byte():
    data = "x = 1\ns = 'caf\xe9'\n".encode("latin-1")
    [diagnostic] = check_bytes(data, "latin.py", SELECTION)
    assert diagnostic.code == "TL000"
    assert (diagnostic.row, diagnostic.column) == (2, 9)
    assert "0xe9" in diagnostic.message


def test_pep263_declaration_is_honoured():
    data = "# -*- coding: latin-1 -*-\nimport torch\ns = 'caf\xe9'\ntorch.sigmoid(s)\n".encode(
        "latin-1"
    )
    assert codes_at(check_bytes(data, "latin.py", SELECTION)) == [(4, "TL901")]


def test_utf8_bom_is_accepted():
    data = "\ufeffimport torch\ntorch.sigmoid(x)\n".encode()
    assert codes_at(check_bytes(data, "bom.py", SELECTION)) == [(2, "TL901")]


def test_crashing_rule_is_an_internal_error_and_others_still_run():
    source = "import torch\ndef f(x):\n    print(x)\n    return torch.sigmoid(x)\n"
    selection = RuleSelection((CrashingRule, SigmoidCallRule, PrintRule), {})
    found = check_source(source, "m.py", selection)
    assert codes_at(found) == [(3, "TL902"), (4, "TL901"), (4, "TL999")]
    crash = next(d for d in found if d.code == "TL999")
    assert "TL903" in crash.message and "line 4" in crash.message and "boom" in crash.message


def test_prefilter_does_not_change_findings():
    source = "import torch\nprint(torch.sigmoid(1))\n"
    with_filter = check_source(source, "m.py", SELECTION)
    without = check_source(source, "m.py", RuleSelection(SELECTION.rules, {}, use_prefilter=False))
    assert with_filter == without and with_filter


def test_invalid_utf8_on_the_first_line_is_located():
    [diagnostic] = check_bytes(b"s = 'caf\xe9'\n", "latin.py", SELECTION)
    assert (diagnostic.code, diagnostic.row, diagnostic.column) == ("TL000", 1, 9)


def test_unknown_declared_encoding_is_a_file_error():
    [diagnostic] = check_bytes(b"# coding: klingon\nx = 1\n", "k.py", SELECTION)
    assert diagnostic.code == "TL000" and "klingon" in diagnostic.message


def test_syntax_error_found_by_the_ast_stage_is_located():
    from torchlint.registry import all_rules

    source = "import torch\n\ndef forward(x):\n    if x.sigmoid() > (:\n        pass\n"
    [diagnostic] = check_source(source, "bad.py", RuleSelection(all_rules(), {}))
    assert (diagnostic.code, diagnostic.row) == ("TL000", 4)
    assert "syntax error" in diagnostic.message


def test_a_failing_syntax_stage_lets_the_rule_decide():
    from torchlint.prefilter import Prefilter

    def broken(index, settings):
        raise AttributeError("odd file")

    class Guarded(SigmoidCallRule):
        prefilter = Prefilter(tokens=("sigmoid",), syntax=broken)

    source = "import torch\ny = torch.sigmoid(x)\n"
    assert codes_at(check_source(source, "m.py", RuleSelection((Guarded,), {}))) == [(2, "TL901")]


# -- positions, one top-level statement at a time -------------------------------------

TRICKY_LAYOUTS = [
    "# header comment\n\n\nimport torch\n\n\n# leading comment\n@decorator\n@other(\n    1)\n"
    "def f(x):\n    return torch.sigmoid(x + 1)\n",
    "a = 1; b = torch.sigmoid(a)\nif a:\n    pass\nelif b:\n    c = 2\nelse:\n    d = (\n"
    "        3)\n",
    "x = '''\nmulti\nline'''\ny = x \\\n    + 1\nclass A:\n\tdef g(self):\n\t\treturn 1\n",
    "import torch\r\nfor i in range(3):\r\n    torch.sigmoid(i)\r\n",
    "\n\n\n",
    "def f():\n    pass\n# trailing comment, no newline",
]


def _fixture_sources():
    from pathlib import Path

    root = Path(__file__).parent / "fixtures"
    yield from (path.read_text(encoding="utf-8") for path in sorted(root.glob("*/*.py")))
    yield from TRICKY_LAYOUTS


def test_statement_positions_equal_whole_module_positions():
    import ast

    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from torchlint.context import FileContext
    from torchlint.engine import StatementPositions, _first_line, _positions
    from torchlint.walk import Walker

    for source in _fixture_sources():
        module = cst.parse_module(source)
        starts = [_first_line(statement) for statement in ast.parse(source).body]
        context = FileContext("m.py", source, module)
        Walker({}, {}, context.parents, None).walk(module)
        whole = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        assert _positions(module) == whole
        lazy = StatementPositions(context, starts)
        assert lazy._start_of is not None
        nodes = [node for node in context.parents if node is not module]
        assert nodes or not module.body
        for node in nodes:
            assert lazy.get(node) == whole.get(node), (source, node)


# -- files that are valid Python but cannot be analysed ----------------------------


def _all_rules_selection(use_prefilter: bool = True) -> RuleSelection:
    from torchlint.registry import all_rules

    return RuleSelection(tuple(all_rules()), {}, use_prefilter)


def test_long_chain_is_too_deeply_nested_not_a_crash():
    import time

    source = "import torch\n\ny = torch.sigmoid(" + " + ".join(["y"] * 7000) + ")\n"
    for selection in (SELECTION, _all_rules_selection(), _all_rules_selection(False)):
        start = time.perf_counter()
        [diagnostic] = check_source(source, "chain.py", selection)
        assert time.perf_counter() - start < 5.0
        assert (diagnostic.code, diagnostic.name) == ("TL0002", "too-deeply-nested")
        assert diagnostic.row == 3
        assert "syntax error" not in diagnostic.message


def test_chain_under_the_limit_is_checked():
    source = "import torch\n\ny = torch.sigmoid(" + " + ".join(["x"] * 300) + ")\n"
    assert codes_at(check_source(source, "chain.py", SELECTION)) == [(3, "TL901")]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\n\n(pars): bool = True\nprint(torch.sigmoid(pars))\n",
        "import torch\ndef f():\n\n\x0c \\\nif x: print(torch.sigmoid(x))\n",
    ],
    ids=["parenthesised-annotated-target", "form-feed-in-indent"],
)
def test_valid_python_that_libcst_rejects_is_not_a_syntax_error(source):
    import ast

    ast.parse(source)  # CPython accepts it
    [diagnostic] = check_source(source, "odd.py", SELECTION)
    assert (diagnostic.code, diagnostic.name) == ("TL0003", "unsupported-syntax")
    assert "syntax error" not in diagnostic.message
    assert "valid Python" in diagnostic.message and "libcst" in diagnostic.message


def check_file(display: str, real: str, selection: RuleSelection) -> list:
    """Check one file on disk the way each worker of ``torchlint check`` does."""
    from torchlint.runner import _check_one

    return _check_one(display, real, selection, None)[-1]


def test_file_over_the_size_cap_is_a_finding_not_read(tmp_path):
    from torchlint.engine import MAX_FILE_BYTES

    big = tmp_path / "generated.py"
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    [diagnostic] = check_file("generated.py", str(big), SELECTION)
    assert (diagnostic.code, diagnostic.name) == ("TL0001", "file-too-large")
    [diagnostic] = check_bytes(b"#" * (MAX_FILE_BYTES + 1), "stdin.py", SELECTION)
    assert diagnostic.code == "TL0001"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_reading_a_fifo_does_not_wait_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "x.py")
    [diagnostic] = check_file("x.py", str(tmp_path / "x.py"), SELECTION)
    assert diagnostic.code == "TL000" and "FIFO" in diagnostic.message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_is_not_read():
    [diagnostic] = check_file("zero.py", "/dev/zero", SELECTION)
    assert diagnostic.code == "TL000" and "character device" in diagnostic.message


def test_noqa_in_mixed_case_counts_without_other_noqa_in_the_file():
    source = "import torch\nprint(torch.sigmoid(x))  # NoQA: TL901\n"
    assert codes_at(check_source(source, "m.py", SELECTION)) == [(2, "TL902")]
    source = "# Torchlint: NoQa\nimport torch\nprint(torch.sigmoid(x))\n"
    assert check_source(source, "m.py", SELECTION) == []


# -- generated programs: no internal error, and valid Python is never a syntax error -------


def _check_generated(source: str, selection: RuleSelection) -> None:
    import ast
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(source)
            valid = True
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            valid = False
    for diagnostic in check_source(source, "generated.py", selection):
        assert diagnostic.code != "TL999", (source, diagnostic)
        if valid:
            assert "syntax error" not in diagnostic.message, (source, diagnostic)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
def test_hypothesmith_programs_cause_no_internal_error():
    """A hundred programs from Python's grammar, every rule on every one (no pre-filter).

    ``bench/fuzz.py`` runs thousands, from the grammar and from libcst's nodes.
    """
    hypothesis = pytest.importorskip("hypothesis")
    hypothesmith = pytest.importorskip("hypothesmith")
    from hypothesis import HealthCheck, given, settings

    selection = _all_rules_selection(use_prefilter=False)
    selection.preload()
    check_source("x = 1\n", "warm.py", selection)  # raises the recursion limit once, before

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(hypothesmith.from_grammar())
    def check(source):
        _check_generated(source, selection)

    del hypothesis
    check()
