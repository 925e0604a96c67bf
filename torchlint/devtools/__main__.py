"""``python -m torchlint.devtools new-rule TL011 some-name``: the skeleton of a new rule.

Writes ``rules/tl011_some_name.py`` (one module: vocabulary, cheap stage,
libcst judgement, the five-part documentation, examples) and an empty
``tests/fixtures/TL011/`` folder.  Nothing else needs editing: the rule is
discovered, its page and the README's rule table are generated
(``python -m torchlint.docgen``), and the test-suite runs its examples and
fixtures.  Until the skeleton's placeholders are replaced, the rule's
definition test fails and names what is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_CODE = re.compile(r"^TL\d{3}$")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

TEMPLATE = '''"""{code} {name}: {summary}."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Invalid, Rule
from torchlint.syntax import SyntaxIndex, last_name

cst = lazy_module("libcst", globals(), "cst")

# -- vocabulary: the words the cheap stage and the judgement share --------------

# Qualified names of the calls this rule looks at.
CALLS = frozenset({{"torch.example_call"}})

# -- cheap stage: what a file must contain for this rule to flag it ------------

_CALL_LAST_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in CALLS)


def _syntax_calls_one(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A call whose last name is one of CALLS (sound: the judgement needs one)."""
    return any(last_name(call.func) in _CALL_LAST_NAMES for call in index.nodes(ast.Call))


PREFILTER = Prefilter(tokens=text_tokens(_CALL_LAST_NAMES), syntax=_syntax_calls_one)


# -- judgement ------------------------------------------------------------------


class {class_name}(Rule):
    """
    ## What it does
    TODO: one or two sentences, in the user's terms.

    ## Why is this bad?
    TODO: what it does to training, concretely.

    ## Example
    ```python
    TODO
    ```

    ## Use instead
    ```python
    TODO
    ```

    ## Evidence
    TODO: what `torchlint confirm {code}` measured, buggy vs fixed.
    """

    code = "{code}"
    name = "{name}"
    summary = ""
    fix_hint = ""
    prefilter = PREFILTER
    variants = {{"torch.example_call": sorted(CALLS)}}
    valid: list[str] = []
    invalid: list[Invalid] = []

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.context.semantics.qualified_name(node.func)
        if qualified in CALLS:
            self.report(node, f"`{{self.context.snippet(node, 60)}}`: TODO: what it does")
'''


def new_rule(code: str, name: str, root: Path = ROOT) -> list[Path]:
    """Write the skeleton of rule ``code`` named ``name`` under ``root``; the paths written."""
    if not _CODE.match(code):
        raise ValueError(f"a rule code is like TL011, not {code!r}")
    if not _NAME.match(name):
        raise ValueError(f"a rule name is kebab-case like some-name, not {name!r}")
    module = root / "rules" / f"{code.lower()}_{name.replace('-', '_')}.py"
    existing = sorted((root / "rules").glob(f"{code.lower()}_*.py"))
    if existing:
        raise FileExistsError(f"{code} already exists: {existing[0]}")
    fixtures = root / "tests" / "fixtures" / code
    class_name = "".join(part.capitalize() for part in name.split("-"))
    summary = name.replace("-", " ")
    module.write_text(
        TEMPLATE.format(code=code, name=name, summary=summary, class_name=class_name),
        encoding="utf-8",
    )
    fixtures.mkdir(parents=True, exist_ok=True)
    keep = fixtures / ".gitkeep"
    keep.touch()
    return [module, keep]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torchlint.devtools")
    commands = parser.add_subparsers(dest="command", required=True)
    scaffold = commands.add_parser("new-rule", help="write the skeleton of a new rule")
    scaffold.add_argument("code", help="the rule's code, e.g. TL011")
    scaffold.add_argument("name", help="the rule's kebab-case name, e.g. frozen-batchnorm")
    scaffold.add_argument("--root", type=Path, default=ROOT, help="the repository root")
    args = parser.parse_args(argv)
    try:
        written = new_rule(args.code.upper(), args.name, args.root)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(
        "next: fill in the docstring, summary, fix_hint, examples and judgement; add fixtures; "
        "run `python -m torchlint.docgen` and `pytest`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
