"""The engine: parsing, decoding, suppressions, crashes, pre-filters."""

from __future__ import annotations

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
