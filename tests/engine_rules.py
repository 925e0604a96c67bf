"""Small rules used to test the engine independently of the real rules."""

from __future__ import annotations

from torchlint.prefilter import Prefilter
from torchlint.rule import Rule


class SigmoidCallRule(Rule):
    """Flags every call that resolves to ``torch.sigmoid``.

    ## What it does
    Test rule.
    """

    code = "TL901"
    name = "test-sigmoid-call"
    summary = "a call to torch.sigmoid"
    fix_hint = "do not call it"
    prefilter = Prefilter(tokens=("sigmoid",))

    def visit_Call(self, node):
        if self.context.semantics.call_name(node) == "torch.sigmoid":
            self.report(node, "torch.sigmoid called")


class PrintRule(Rule):
    """Flags calls to print (no pre-filter token).

    ## What it does
    Test rule.
    """

    code = "TL902"
    name = "test-print"
    summary = "a print call"
    fix_hint = "use logging"

    def visit_Call(self, node):
        if self.context.semantics.call_name(node) == "print":
            self.report(node)


class CrashingRule(Rule):
    """Raises on every return statement.

    ## What it does
    Test rule.
    """

    code = "TL903"
    name = "test-crash"
    summary = "crashes"
    fix_hint = "none"

    def visit_Return(self, node):
        raise ValueError("boom")


TEST_RULES = (SigmoidCallRule, PrintRule, CrashingRule)
