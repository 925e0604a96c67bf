"""Generate the rule pages in ``docs/rules/`` from the rules' own docstrings.

``python -m torchlint.docgen`` rewrites the pages; a test fails when a page
differs from what its rule's docstring produces, so the docs cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torchlint.registry import all_rules
from torchlint.rule import Rule

DOCS_RULES = Path(__file__).resolve().parent.parent / "docs" / "rules"


def rule_page(rule: type[Rule]) -> str:
    """The Markdown page of one rule."""
    lines = [
        f"# {rule.code}: {rule.name}",
        "",
        f"*{rule.summary}*",
        "",
        f"Default: **{'on' if rule.default_enabled else 'off'}**. "
        f"Print this page with `torchlint rule {rule.code}`; silence one line with "
        f"`# noqa: {rule.code}`.",
        "",
    ]
    if rule.fixable:
        command = "--fix" if rule.fixable == "safe" else "--fix --unsafe-fixes"
        lines += [
            f"Fix: **{rule.fixable}**, applied by `torchlint check {command}` where the rule "
            "can rewrite the finding.",
            "",
        ]
    body = rule.documentation()
    lines.append(body.strip())
    if rule.options:
        lines += ["", "## Options", ""]
        lines.append(f"In `pyproject.toml`, under `[tool.torchlint.rules.{rule.code}]`:")
        lines.append("")
        for key, option in rule.options.items():
            lines.append(f"- `{key}` (default `{option.default!r}`): {option.description}")
    return "\n".join(lines).rstrip() + "\n"


def index_page(rules) -> str:
    """The table of every rule."""
    lines = [
        "# Rules",
        "",
        "| Code | Name | Default | What it flags |",
        "| --- | --- | --- | --- |",
    ]
    for rule in rules:
        state = "on" if rule.default_enabled else "off"
        lines.append(
            f"| [{rule.code}]({rule.code}.md) | `{rule.name}` | {state} | {rule.summary} |"
        )
    lines += [
        "",
        "Engine codes: `TL000` (file-error) for a file that cannot be read, decoded or parsed, "
        "and `TL999` (internal-error) for a rule that crashed on a file (the run exits 2).",
    ]
    return "\n".join(lines) + "\n"


def expected_pages() -> dict[str, str]:
    """File name -> content of every generated page."""
    rules = all_rules()
    pages = {f"{rule.code}.md": rule_page(rule) for rule in rules}
    pages["index.md"] = index_page(rules)
    return pages


def main(argv: list[str] | None = None) -> int:
    target = Path(argv[0]) if argv else DOCS_RULES
    target.mkdir(parents=True, exist_ok=True)
    for name, text in expected_pages().items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
