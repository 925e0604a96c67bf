"""Loading [tool.torchlint]: discovery of the file, validation, overrides."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import torchlint.registry
from torchlint.config import ConfigError, load_settings
from torchlint.rule import Rule, RuleOption
from torchlint.settings import DEFAULT_EXCLUDE


class SigmoidAfterResidual(Rule):
    code = "TL001"
    name = "sigmoid-after-residual"
    summary = "sigmoid after a residual add"
    options = {
        "max_depth": RuleOption(int, 3, "how far to follow calls"),
        "threshold": RuleOption(float, 0.5, "confidence needed"),
    }


class ZeroLearningRate(Rule):
    code = "TL002"
    name = "zero-learning-rate"
    summary = "learning rate becomes 0"


class DetachedLossTerm(Rule):
    code = "TL013"
    name = "detached-loss-term"
    summary = "a loss term without gradient"


@pytest.fixture(autouse=True)
def known_rules(monkeypatch):
    rules = (SigmoidAfterResidual, ZeroLearningRate, DetachedLossTerm)
    monkeypatch.setattr(torchlint.registry, "all_rules", lambda: rules)
    monkeypatch.setattr(torchlint.registry, "rule_index", lambda: rules)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def error_of(paths, config=None, overrides=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(paths, config, overrides or {})
    return str(info.value)


def test_defaults_without_any_config(project):
    settings = load_settings([], None, {})
    assert settings.root == project
    assert settings.config_path is None
    assert settings.select == ["TL"]
    assert settings.exclude == list(DEFAULT_EXCLUDE)
    assert settings.respect_gitignore is True


def test_reads_nearest_pyproject_walking_up_from_first_path(project):
    write(
        project / "pyproject.toml",
        """
        [tool.torchlint]
        select = ["TL001"]
        extend-exclude = ["legacy"]
        respect-gitignore = false
        """,
    )
    (project / "src" / "pkg").mkdir(parents=True)
    settings = load_settings(["src/pkg"], None, {})
    assert settings.config_path == project / "pyproject.toml"
    assert settings.root == project
    assert settings.select == ["TL001"]
    assert settings.extend_exclude == ["legacy"]
    assert settings.respect_gitignore is False


def test_pyproject_without_our_table_is_skipped(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nignore = ["TL002"]\n')
    write(project / "sub" / "pyproject.toml", '[project]\nname = "sub"\n')
    write(project / "sub" / "train.py", "")
    settings = load_settings(["sub/train.py"], None, {})
    assert settings.config_path == project / "pyproject.toml"
    assert settings.ignore == ["TL002"]


def test_torchlint_toml_wins_over_pyproject_in_same_folder(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nignore = ["TL002"]\n')
    write(project / "torchlint.toml", 'ignore = ["TL001"]\n')
    settings = load_settings(["."], None, {})
    assert settings.config_path == project / "torchlint.toml"
    assert settings.ignore == ["TL001"]


def test_explicit_config_file_top_level_table(project):
    write(project / "ci" / "lint.toml", 'select = ["TL00"]\n[rules.TL001]\nmax-depth = 5\n')
    settings = load_settings(["."], "ci/lint.toml", {})
    assert settings.root == project / "ci"
    assert settings.select == ["TL00"]
    assert settings.rule_options == {"TL001": {"max_depth": 5}}


def test_explicit_pyproject_config(project):
    write(project / "other" / "pyproject.toml", '[tool.torchlint]\nselect = ["TL002"]\n')
    settings = load_settings(["."], "other/pyproject.toml", {})
    assert settings.select == ["TL002"]


def test_missing_explicit_config_file(project):
    assert "nope.toml: config file not found" in error_of(["."], "nope.toml")


def test_unknown_key_suggests_the_meant_one(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nexclud = ["x"]\n')
    message = error_of(["."])
    assert message == (
        "pyproject.toml: [tool.torchlint] unknown key 'exclud'; did you mean 'exclude'?"
    )


def test_snake_case_key_suggests_kebab_case(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nextend_select = ["TL001"]\n')
    assert "did you mean 'extend-select'?" in error_of(["."])


def test_unknown_key_far_from_any_has_no_suggestion(project):
    write(project / "pyproject.toml", "[tool.torchlint]\nfrobnicate = 1\n")
    message = error_of(["."])
    assert "unknown key 'frobnicate'" in message
    assert "did you mean" not in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('select = "TL001"', "'select' must be a list of strings, not a string ('TL001')"),
        ("exclude = [1, 2]", "'exclude' must be a list of strings"),
        ('respect-gitignore = "no"', "'respect-gitignore' must be true or false"),
        ("per-file-ignores = []", "'per-file-ignores' must be a table"),
        ("cache-dir = 3", "'cache-dir' must be a path"),
    ],
)
def test_wrong_types_name_key_and_expectation(project, line, expected):
    write(project / "pyproject.toml", f"[tool.torchlint]\n{line}\n")
    message = error_of(["."])
    assert message.startswith("pyproject.toml: [tool.torchlint]")
    assert expected in message


def test_toml_syntax_error_names_file_and_line(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nselect = ["TL001"\nignore = []\n')
    message = error_of(["."])
    assert message.startswith("pyproject.toml: invalid TOML:")
    assert "line 3" in message


def test_unrelated_broken_pyproject_is_not_our_business(project):
    write(project / "pyproject.toml", "[project\nname = \n")
    assert load_settings(["."], None, {}).config_path is None


@pytest.mark.parametrize("selector", ["ALL", "TL", "TL0", "TL00", "TL001", "TL01", "TL013"])
def test_valid_selectors(project, selector):
    write(project / "pyproject.toml", f'[tool.torchlint]\nselect = ["{selector}"]\n')
    assert load_settings(["."], None, {}).select == [selector]


def test_selector_matching_no_rule(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nignore = ["TL009"]\n')
    message = error_of(["."])
    assert "[tool.torchlint] 'ignore': 'TL009' matches no rule code or prefix" in message


def test_lowercase_selector_suggests_code(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nselect = ["tl001"]\n')
    assert "did you mean 'TL001'?" in error_of(["."])


def test_rule_name_as_selector_points_to_code(project):
    write(project / "pyproject.toml", '[tool.torchlint]\nignore = ["zero-learning-rate"]\n')
    assert "is a rule name; use its code 'TL002'" in error_of(["."])


def test_per_file_ignores_are_validated_and_kept(project):
    write(
        project / "pyproject.toml",
        """
        [tool.torchlint.per-file-ignores]
        "tests/**" = ["TL001", "TL01"]
        "__init__.py" = ["ALL"]
        """,
    )
    settings = load_settings(["."], None, {})
    assert settings.per_file_ignores == {"tests/**": ["TL001", "TL01"], "__init__.py": ["ALL"]}


def test_per_file_ignores_bad_code(project):
    write(project / "pyproject.toml", '[tool.torchlint.per-file-ignores]\n"a.py" = ["TX1"]\n')
    message = error_of(["."])
    assert "[tool.torchlint.per-file-ignores] 'a.py': 'TX1' matches no rule" in message


def test_rule_options_validated_against_rule_class(project):
    write(
        project / "pyproject.toml",
        """
        [tool.torchlint.rules.TL001]
        max-depth = 4
        threshold = 1
        """,
    )
    settings = load_settings(["."], None, {})
    assert settings.rule_options == {"TL001": {"max_depth": 4, "threshold": 1.0}}
    assert isinstance(settings.rule_options["TL001"]["threshold"], float)


def test_unknown_rule_code_in_rules(project):
    write(project / "pyproject.toml", "[tool.torchlint.rules.TL011]\nx = 1\n")
    message = error_of(["."])
    assert "[tool.torchlint.rules] unknown rule code 'TL011'" in message
    assert "did you mean" in message


def test_rule_name_as_rules_table_suggests_code(project):
    write(project / "pyproject.toml", "[tool.torchlint.rules.sigmoid-after-residul]\nx = 1\n")
    assert "did you mean 'TL001'?" in error_of(["."])


def test_unknown_rule_option_suggests_and_lists(project):
    write(project / "pyproject.toml", "[tool.torchlint.rules.TL001]\nmax-dept = 2\n")
    message = error_of(["."])
    assert message.startswith("pyproject.toml: [tool.torchlint.rules.TL001]")
    assert "unknown option 'max-dept' of TL001; did you mean 'max-depth'?" in message
    assert "its options are max-depth, threshold" in message


def test_option_of_rule_without_options(project):
    write(project / "pyproject.toml", "[tool.torchlint.rules.TL002]\nstrict = true\n")
    assert "TL002 has no options; remove 'strict'" in error_of(["."])


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", "must be an integer, not a boolean (true)"), ('"3"', "must be an integer")],
)
def test_rule_option_of_wrong_type(project, value, expected):
    write(project / "pyproject.toml", f"[tool.torchlint.rules.TL001]\nmax-depth = {value}\n")
    message = error_of(["."])
    assert "[tool.torchlint.rules.TL001] 'max-depth'" in message
    assert expected in message


def test_cache_dir_is_relative_to_root(project):
    write(project / "pyproject.toml", '[tool.torchlint]\ncache-dir = ".cache/tl"\n')
    (project / "src").mkdir()
    settings = load_settings(["src"], None, {})
    assert settings.cache_dir == project / ".cache" / "tl"


def test_command_line_select_replaces_file_selection(project):
    write(
        project / "pyproject.toml",
        '[tool.torchlint]\nselect = ["TL00"]\nextend-select = ["TL013"]\nignore = ["TL001"]\n',
    )
    settings = load_settings(["."], None, {"select": ["TL001"], "ignore": None})
    assert settings.select == ["TL001"]
    assert settings.extend_select == []
    assert settings.ignore == []
    assert settings.enabled_codes(torchlint.registry.all_rules()) == ["TL001"]


def test_command_line_extends_file_lists(project):
    write(
        project / "pyproject.toml",
        '[tool.torchlint]\nignore = ["TL001"]\nextend-exclude = ["old"]\n',
    )
    settings = load_settings(
        ["."],
        None,
        {
            "select": None,
            "extend_select": ["TL013"],
            "ignore": ["TL002"],
            "extend_exclude": ["gen"],
            "force_exclude": True,
        },
    )
    assert settings.ignore == ["TL001", "TL002"]
    assert settings.extend_select == ["TL013"]
    assert settings.extend_exclude == ["old", "gen"]
    assert settings.force_exclude is True


def test_none_overrides_leave_file_values(project):
    write(project / "pyproject.toml", "[tool.torchlint]\nforce-exclude = true\n")
    settings = load_settings(["."], None, {"force_exclude": None, "select": None})
    assert settings.force_exclude is True
    assert settings.select == ["TL"]


def test_command_line_selector_is_validated(project):
    message = error_of(["."], overrides={"select": ["TL7"]})
    assert message.startswith("command line: '--select': 'TL7' matches no rule code")


def test_unknown_override_key(project):
    assert "unknown command-line setting 'colour'" in error_of(["."], overrides={"colour": 1})


class RampedLoss(Rule):
    code = "TL005"
    name = "ramped-primary-loss"
    summary = "a ramp on the primary loss"
    options = {"primary-loss-names": RuleOption(list, ["recon", "rec"], "names of the main term")}


@pytest.fixture
def with_list_option(monkeypatch):
    rules = (SigmoidAfterResidual, ZeroLearningRate, RampedLoss)
    monkeypatch.setattr(torchlint.registry, "all_rules", lambda: rules)
    monkeypatch.setattr(torchlint.registry, "rule_index", lambda: rules)


@pytest.mark.parametrize(
    ("value", "item"),
    [("[1, 2]", "item 1 is an integer (1)"), ('["recon", true]', "item 2 is a boolean (true)")],
)
def test_list_option_items_have_the_type_of_the_default(project, with_list_option, value, item):
    table = f"[tool.torchlint.rules.TL005]\nprimary-loss-names = {value}\n"
    write(project / "pyproject.toml", table)
    message = error_of(["."])
    assert message.startswith("pyproject.toml: [tool.torchlint.rules.TL005] 'primary-loss-names'")
    assert "must be a list of strings" in message and item in message


def test_deeply_nested_toml_names_the_file(project):
    import subprocess
    import sys

    write(project / "pyproject.toml", "[tool.torchlint]\nselect = " + "[" * 5000 + "]" * 5000)
    # A process of its own: the recursion limit is the interpreter's default
    # there, as when torchlint starts (tests that ran the engine raised it).
    result = subprocess.run(
        [sys.executable, "-m", "torchlint", "check", "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("torchlint: error: pyproject.toml: invalid TOML"), result.stderr
    assert "internal error" not in result.stderr


def test_deeply_nested_option_value_names_the_key(project):
    nested = "[" * 400 + "]" * 400
    write(project / "torchlint.toml", f"[rules.TL001]\nmax-depth = {nested}\n")
    message = error_of(["."])
    assert "'max-depth' must be an integer" in message


@pytest.mark.parametrize("key", ["exclude", "extend-exclude"])
def test_invalid_glob_is_an_error(project, key):
    write(project / "pyproject.toml", f'[tool.torchlint]\n{key} = ["src/[abc"]\n')
    assert f"'{key}': 'src/[abc': invalid pattern" in error_of(["."])
    assert "invalid pattern" in error_of(["."], overrides={key.replace("-", "_"): ["[x"]})


def test_engine_codes_can_be_ignored_per_file(project):
    write(project / "pyproject.toml", '[tool.torchlint.per-file-ignores]\n"gen/*" = ["TL000"]\n')
    assert load_settings(["."], None, {}).per_file_ignores == {"gen/*": ["TL000"]}


# Each table, and whether the loader accepts it: the JSON Schema must agree.
SCHEMA_CASES = [
    ('select = ["TL001"]\nextend-select = ["TL0"]\nignore = ["ALL"]', True),
    ('select = "TL001"', False),
    ("select = [1]", False),
    ('exclude = ["build", "src/**/gen"]\nextend-exclude = []', True),
    ("exclude = [true]", False),
    ("respect-gitignore = false\nforce-exclude = true", True),
    ('respect-gitignore = "no"', False),
    ('cache-dir = ".cache"', True),
    ('cache-dir = ""', False),
    ("cache-dir = 3", False),
    ("frobnicate = 1", False),
    ('[per-file-ignores]\n"tests/**" = ["TL001"]', True),
    ('[per-file-ignores]\n"tests/**" = "TL001"', False),
    ("per-file-ignores = []", False),
    ("[rules.TL001]\nmax-depth = 4\nthreshold = 1", True),
    ("[rules.TL001]\nmax-depth = true", False),
    ('[rules.TL001]\nmax-depth = "3"', False),
    ("[rules.TL001]\nmax-dept = 3", False),
    ('[rules.TL005]\nprimary-loss-names = ["recon"]', True),
    ("[rules.TL005]\nprimary-loss-names = [1, 2]", False),
    ('[rules.TL005]\nprimary-loss-names = "recon"', False),
    ("[rules.TL002]\nstrict = true", False),
    ("rules = 3", False),
]


@pytest.mark.parametrize(("body", "accepted"), SCHEMA_CASES)
def test_json_schema_accepts_what_the_loader_accepts(project, with_list_option, body, accepted):
    import sys

    import jsonschema

    from torchlint.config import json_schema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    write(project / "torchlint.toml", body + "\n")
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    table = tomllib.loads(body + "\n")
    assert jsonschema.Draft202012Validator(schema).is_valid(table) is accepted
    if accepted:
        load_settings(["."], None, {})
    else:
        error_of(["."])
