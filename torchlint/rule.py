"""The rule API that every module in ``rules/`` implements.

A rule is one class: a code (``TL001``), a kebab-case name, a docstring in
five parts (What it does, Why is this bad?, Example, Use instead, Evidence),
examples that the test-suite runs (``valid`` must stay quiet, each
:class:`Invalid` must be flagged on its line with its message), and
``visit_<Node>`` / ``leave_<Node>`` methods named after libcst node classes.
The engine walks each file once and dispatches every node to every enabled
rule that has a method for its type.

Rules never compute positions, parents or name resolution themselves: they
ask :class:`FileContext` (``self.context``) and the shared semantic model in
:mod:`torchlint.semantics`.

A rule that knows the rewrite offers it with its finding:
``self.report(node, message, fix=Fix(new_node, safe=True, message="..."))``
replaces ``node`` (or ``Fix(..., target=other)``) by ``new_node`` in the
file's libcst tree.  The class says what it offers with ``fixable``
(``"safe"`` or ``"unsafe"``), which ``torchlint rules`` and the reports show;
``torchlint check --fix`` applies the safe fixes (:mod:`torchlint.fix`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from torchlint.prefilter import Prefilter

if TYPE_CHECKING:
    import libcst as cst

    from torchlint.context import FileContext

_CODE_RE = re.compile(r"^TL\d{3}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
FIX_APPLICABILITIES = ("safe", "unsafe")
DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Evidence")


@dataclass(frozen=True)
class RuleOption:
    """A per-rule setting, read from ``[tool.torchlint.rules.TL00N]``."""

    type: type | tuple[type, ...]
    default: Any
    description: str


@dataclass(frozen=True)
class Invalid:
    """An example the rule must flag, pinned where and how (Fixit's ``Invalid``).

    ``line`` counts the lines of ``source`` as written (a leading newline
    makes the first code line 2); the finding on that line must carry the
    rule's code and a message containing ``message``.
    """

    source: str
    line: int
    message: str


@dataclass(frozen=True)
class Fix:
    """A rewrite offered with a finding: put ``replacement`` where ``target`` is.

    ``target`` defaults to the node the finding is reported on.  A fix is
    *safe* when the rewritten code does what the author evidently meant and
    nothing else (``--fix`` applies it); *unsafe* when it may change
    behaviour the author relied on (only ``--unsafe-fixes`` applies it).
    ``message`` says what the fix does (``"Pass training=self.training"``).
    The replacement is printed by libcst, so it keeps the comments and the
    formatting of the parts it reuses.
    """

    replacement: cst.CSTNode
    safe: bool
    message: str
    target: cst.CSTNode | None = None

    @property
    def applicability(self) -> str:
        """``"safe"`` or ``"unsafe"``, as ruff names them."""
        return "safe" if self.safe else "unsafe"


@dataclass
class Report:
    """A finding as a rule reports it, before positions are resolved."""

    node: cst.CSTNode
    message: str
    code: str
    name: str
    fix_hint: str
    fix: Fix | None = None


class Rule:
    """Base class of every rule.

    Subclasses set the class attributes below and define visitor methods.
    ``prefilter`` (:class:`~torchlint.prefilter.Prefilter`) says cheaply what
    a file must contain for the rule to flag it, by its text and by its
    CPython ``ast``; it must be sound: a file it rejects cannot produce a
    finding under the rule's logic, and is not walked for it (nor parsed by
    libcst, when no rule accepts it).  The default accepts every file.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    fix_hint: ClassVar[str] = ""
    default_enabled: ClassVar[bool] = True
    # "safe" or "unsafe" when the rule offers fixes with (some of) its findings.
    fixable: ClassVar[str | None] = None
    prefilter: ClassVar[Prefilter] = Prefilter()
    options: ClassVar[dict[str, RuleOption]] = {}
    # Words of the examples and the vocabulary words that may stand in their place
    # (`{"torch.sigmoid": SQUASH_FUNCTIONS}`): the drift test substitutes each one
    # into every example and fixture and checks the cheap stage keeps the findings.
    variants: ClassVar[dict[str, Iterable[str]]] = {}
    valid: ClassVar[list[str]] = []
    invalid: ClassVar[list[Invalid]] = []

    def __init__(self, context: FileContext, settings: dict[str, Any] | None = None) -> None:
        self.context = context
        self.settings = {key: opt.default for key, opt in self.options.items()}
        if settings:
            self.settings.update(settings)

    def report(
        self, node: cst.CSTNode, message: str | None = None, *, fix: Fix | None = None
    ) -> None:
        """Record a finding on ``node``; ``message`` defaults to the summary.

        ``fix``, when given, is the rewrite ``--fix`` may apply for it.
        """
        self.context.add_report(
            Report(
                node=node,
                message=message or self.summary,
                code=self.code,
                name=self.name,
                fix_hint=self.fix_hint,
                fix=fix,
            )
        )

    @classmethod
    def load(cls) -> type[Rule]:
        """The class itself (a ``RuleEntry`` of the index loads its class the same way)."""
        return cls

    # -- documentation ---------------------------------------------------

    @classmethod
    def documentation(cls) -> str:
        """The rule's docstring, dedented: its documentation page in Markdown."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """The docstring split at its ``## Section`` headings."""
        sections: dict[str, str] = {}
        current: str | None = None
        lines: list[str] = []
        for line in cls.documentation().splitlines():
            if line.startswith("## "):
                if current is not None:
                    sections[current] = "\n".join(lines).strip()
                current = line[3:].strip()
                lines = []
            elif current is not None:
                lines.append(line)
        if current is not None:
            sections[current] = "\n".join(lines).strip()
        return sections

    @classmethod
    def validate_definition(cls) -> list[str]:
        """Problems with the rule's own definition (empty when it is complete)."""
        problems = []
        if not _CODE_RE.match(cls.code):
            problems.append(f"{cls.__name__}: code {cls.code!r} is not like TL001")
        if not _NAME_RE.match(cls.name):
            problems.append(f"{cls.__name__}: name {cls.name!r} is not kebab-case")
        if not cls.summary:
            problems.append(f"{cls.code}: no summary")
        if not cls.fix_hint:
            problems.append(f"{cls.code}: no fix_hint")
        sections = cls.doc_sections()
        for section in DOC_SECTIONS:
            if not sections.get(section):
                problems.append(f"{cls.code}: docstring lacks a '## {section}' section")
        if cls.fixable is not None and cls.fixable not in FIX_APPLICABILITIES:
            problems.append(f"{cls.code}: fixable is one of {FIX_APPLICABILITIES} or None")
        if not cls.valid or not cls.invalid:
            problems.append(f"{cls.code}: needs both valid and invalid examples")
        for example in cls.invalid:
            if not isinstance(example, Invalid):
                problems.append(f"{cls.code}: invalid examples are Invalid(source, line, message)")
        return problems
