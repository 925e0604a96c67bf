"""Per-file state shared by the rules checking one file."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.rule import Report

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.semantics.model import SemanticModel


class FileContext:
    """What rules may ask about the file being checked.

    ``parents`` is filled by the walk: a node is in it once the walk has
    reached it, so a rule that needs facts about code later in the file
    collects candidates in its visitors and decides in ``leave_Module``.
    """

    def __init__(self, path: str, source: str, module: cst.Module) -> None:
        self.path = path
        self.source = source
        self.module = module
        self.parents: dict[cst.CSTNode, cst.CSTNode | None] = {}
        self.reports: list[Report] = []

    def add_report(self, report: Report) -> None:
        self.reports.append(report)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The node directly containing ``node`` (None for the module)."""
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode):
        """Yield the nodes containing ``node``, innermost first."""
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def enclosing_statement(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The innermost statement (simple line or compound) holding ``node``."""
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return ancestor
        return None

    def snippet(self, node: cst.CSTNode, limit: int, *, collapse_whitespace: bool = False) -> str:
        """The source of ``node`` for a message, cut to ``limit`` characters with "..."."""
        text = self.module.code_for_node(node)
        text = " ".join(text.split()) if collapse_whitespace else text.strip()
        return text if len(text) <= limit else text[: limit - 3] + "..."

    @cached_property
    def semantics(self) -> SemanticModel:
        """The shared semantic model of this file, built on first use."""
        from torchlint.semantics.model import SemanticModel

        return SemanticModel(self)
