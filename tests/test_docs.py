"""The docs hold: generated rule pages, and every configuration and command as written."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from torchlint.cli import main
from torchlint.docgen import DOCS_RULES, README, expected_pages, readme_with_table


def test_rule_pages_match_docstrings() -> None:
    stale = []
    for name, text in expected_pages().items():
        path = DOCS_RULES / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    assert not stale, f"regenerate with `python -m torchlint.docgen`: {stale}"


def test_readme_rule_table_is_generated() -> None:
    text = README.read_text(encoding="utf-8")
    assert text == readme_with_table(text), "regenerate with `python -m torchlint.docgen`"


# -- every configuration and command in docs/ works as written ---------------------

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

# A project the documented commands run in: one finding, one clean module.
TRAIN = """\
import torch
from torch.optim.lr_scheduler import StepLR


def train(model, loader, optimizer):
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        for x, y in loader:
            optimizer.step()
            scheduler.step()
"""


def blocks(*languages: str) -> list[tuple[str, str]]:
    """(where, body) of each fenced block in these languages, in every doc page."""
    found = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(1) in languages:
                line = text.count("\n", 0, match.start()) + 1
                found.append((f"{page.relative_to(ROOT)}:{line}", match.group(2)))
    return found


def shell_lines(body: str) -> list[str]:
    return [line for line in body.replace("\\\n", " ").splitlines() if line.strip()]


def torchlint_command(line: str) -> tuple[list[str], str | None] | None:
    """The arguments after `torchlint` in a shell line, and what is piped into it."""
    words = shlex.split(line, comments=True)
    if "torchlint" not in words:
        return None
    stages: list[list[str]] = [[]]
    for word in words:
        if word == "|":
            stages.append([])
        else:
            stages[-1].append(word)
    for number, stage in enumerate(stages):
        # `torchlint ...`, `xargs [options] torchlint ...`, `python -m torchlint ...`
        at = next(
            (
                index
                for index, word in enumerate(stage)
                if word == "torchlint"
                and (index == 0 or stage[0] == "xargs" or stage[index - 1] == "-m")
            ),
            None,
        )
        if at is not None:
            arguments = stage[at + 1 :]
            if ">" in arguments:
                arguments = arguments[: arguments.index(">")]
            feeder = " ".join(stages[number - 1]) if number else None
            return arguments, feeder
    return None


def documented_commands() -> list[tuple[str, list[str], str | None]]:
    commands = []
    for where, body in blocks("bash", "sh", "console"):
        for line in shell_lines(body):
            found = torchlint_command(line)
            if found is not None:
                commands.append((where, *found))
    for where, body in blocks("yaml", "yml"):
        for line in body.splitlines():
            run = re.match(r"\s*-?\s*run:\s*(.+)", line)
            if run:
                found = torchlint_command(run.group(1))
                if found is not None:
                    commands.append((where, *found))
            hook_args = re.match(r"\s*args:\s*\[(.*)\]", line)
            if hook_args:
                # The hook runs `torchlint check --force-exclude` plus its args.
                extra = [arg.strip() for arg in hook_args.group(1).split(",")]
                commands.append((where, ["check", "--force-exclude", *extra], None))
    return commands


@pytest.fixture
def sample_project(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(TRAIN, encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text("import torch\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_docs_have_commands_and_configurations():
    assert len(documented_commands()) >= 10
    assert len(blocks("toml")) >= 4


@pytest.mark.parametrize(
    ("where", "arguments", "feeder"),
    documented_commands(),
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_documented_command_runs(sample_project, where, arguments, feeder):
    runner = CliRunner()
    # Every option the page uses must exist: click stops with exit 2 otherwise.
    parsed = runner.invoke(main, [*arguments, "--help"])
    assert parsed.exit_code == 0, f"{where}: torchlint {' '.join(arguments)}\n{parsed.output}"
    if arguments[0] not in ("check", "rule", "rules"):
        return  # `confirm` trains models: its options were checked above
    stdin = None
    if feeder is not None and feeder.startswith("cat "):
        stdin = (sample_project / feeder.split()[1]).read_text(encoding="utf-8")
    elif feeder is not None:
        # xargs appends the file names that git lists.
        arguments = [*arguments, "train.py", "src/model.py"]
    if arguments[0] == "check":
        arguments = [*arguments, "--no-cache"]
    result = runner.invoke(main, arguments, input=stdin)
    assert result.exit_code in (0, 1), f"{where}: torchlint {' '.join(arguments)}\n{result.output}"


@pytest.mark.parametrize(("where", "body"), blocks("toml"), ids=lambda value: value)
def test_documented_configuration_loads(sample_project, where, body):
    from torchlint.config import load_settings

    if "[tool.torchlint" in body:
        (sample_project / "pyproject.toml").write_text(body, encoding="utf-8")
    elif "[tool." in body:
        # Another tool's table (ruff's): it must at least be valid TOML.
        (sample_project / "pyproject.toml").write_text(body, encoding="utf-8")
        assert load_settings(["."], None, {}).config_path is None
        return
    else:
        (sample_project / "torchlint.toml").write_text(body, encoding="utf-8")
    settings = load_settings(["."], None, {})
    assert settings.config_path is not None, where
    result = CliRunner().invoke(main, ["check", "--no-cache", "."])
    assert result.exit_code in (0, 1), f"{where}\n{result.output}"


def test_rule_names_in_docs_are_the_rules_names():
    from torchlint.diagnostics import ENGINE_CODE_NAMES
    from torchlint.registry import all_rules

    names = {rule.code: rule.name for rule in all_rules()} | ENGINE_CODE_NAMES
    wrong = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"\b(TL\d{3,4})\b[ \t]*\[([a-z0-9-]+)\]", text):
            code, name = match.groups()
            if code in names and names[code] != name:
                wrong.append(f"{page.name}: {code} [{name}] is [{names[code]}]")
    assert not wrong, wrong


def test_documented_options_exist():
    import click

    context = click.Context(main)
    commands = [main.get_command(context, name) for name in main.list_commands(context)]
    known = {
        option
        for command in commands
        for param in command.params
        for option in getattr(param, "opts", ())
    }
    missing = []
    for page in DOCS:
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith("| `--"):
                for option in re.findall(r"`(--[a-z-]+)", line.split("|")[1]):
                    if option not in known:
                        missing.append(f"{page.name}: {option}")
    assert not missing, missing


def test_pre_commit_rev_and_hook_exist():
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    hook_ids = set(re.findall(r"^- id:\s*(\S+)", hooks, re.M))
    tags = set()
    if (ROOT / ".git").exists():
        tags = set(
            subprocess.run(
                ["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True, check=False
            ).stdout.split()
        )
    for where, body in blocks("yaml"):
        for rev in re.findall(r"^\s*rev:\s*(\S+)", body, re.M):
            assert rev == "main" or rev in tags, f"{where}: rev {rev} is no tag of this repository"
        if "repo: https://github.com/torchlint/torchlint" in body:
            for hook in re.findall(r"^\s*-\s*id:\s*(\S+)", body, re.M):
                assert hook in hook_ids, f"{where}: no hook {hook}"


def test_python_examples_parse():
    import ast

    for where, body in blocks("python"):
        try:
            ast.parse(body)
        except SyntaxError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{where}: {exc}")
