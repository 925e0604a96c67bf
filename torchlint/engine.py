"""Checking files: read, decode, pre-filter, parse once, walk once, report.

``check_source`` is the whole pipeline for one file and never raises for
bad input: unreadable, undecodable and unparsable files become ``TL000``
diagnostics, and a rule that crashes becomes a ``TL999`` diagnostic naming
the rule, the file and the line it reached.

A file goes through three gates, cheapest first: each rule's text
pre-filter, then (for the rules it leaves) one CPython ``ast`` parse, which
is the file's syntax check and feeds each rule's syntactic pre-filter
(:mod:`torchlint.prefilter`), and only then libcst, for the rules that may
still flag it.  Rule modules and libcst are imported when a file first
needs them.
"""

from __future__ import annotations

import io
import sys
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchlint.diagnostics import (
    FILE_ERROR_CODE,
    INTERNAL_ERROR_CODE,
    Diagnostic,
    DiagnosticFix,
    Edit,
)
from torchlint.suppression import parse_suppressions
from torchlint.syntax import SyntaxIndex, parse_tree

if TYPE_CHECKING:
    import libcst as cst

    from torchlint.rule import Report, Rule

# Deeply nested expressions (long chains of `+` in generated code) recurse deeply
# in both libcst and the walker.
_RECURSION_LIMIT = 20_000


@dataclass(frozen=True)
class RuleSelection:
    """The rules a run checks and their per-rule settings.

    ``rules`` holds rule classes, or entries of the rule index
    (:class:`~torchlint.rules.RuleEntry`): both have a ``code``, a
    ``prefilter`` and ``load()``, and an entry imports its rule module only
    when a file first needs the rule.
    """

    rules: tuple[Any, ...]
    options: dict[str, dict[str, Any]]
    use_prefilter: bool = True

    def applicable(self, source: str) -> list[Any]:
        """Rules whose text pre-filter accepts ``source`` (all of them without pre-filters)."""
        if not self.use_prefilter:
            return list(self.rules)
        lowered = source.lower()
        return [rule for rule in self.rules if rule.prefilter.accepts_lowered_text(lowered)]

    def preload(self) -> None:
        """Import every rule (and libcst) now, e.g. before forking workers."""
        for rule in self.rules:
            rule.load()


def decode_source(data: bytes, path: str) -> tuple[str | None, Diagnostic | None]:
    """Decode file bytes by their PEP 263 declaration (UTF-8 otherwise)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "encoding problem" in str(exc) or "unknown encoding" in str(exc):
            return None, file_error(path, 1, 1, f"cannot decode file: {exc}")
        # Invalid UTF-8 in the first two lines: decode below to locate the byte.
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        row, column = _row_col_of_offset(data, exc.start)
        return None, file_error(
            path,
            row,
            column,
            f"cannot decode file as {encoding}: byte 0x{data[exc.start]:02x} is invalid; "
            "save it as UTF-8 or declare its encoding (PEP 263)",
        )
    except LookupError:
        return None, file_error(path, 1, 1, f"unknown encoding {encoding!r} declared")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _row_col_of_offset(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    row = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return row, column


def file_error(path: str, row: int, column: int, message: str) -> Diagnostic:
    """A diagnostic for a file that could not be checked at all."""
    return Diagnostic(
        path=path,
        row=row,
        column=column,
        end_row=row,
        end_column=column,
        code=FILE_ERROR_CODE,
        name="file-error",
        message=message,
    )


def check_bytes(data: bytes, path: str, selection: RuleSelection) -> list[Diagnostic]:
    """Check the content of one file, given as bytes (a ``.ipynb`` path is read as a notebook)."""
    if path.lower().endswith(".ipynb"):
        from torchlint.notebook import check_notebook_bytes

        return check_notebook_bytes(data, path, selection)
    source, error = decode_source(data, path)
    if error is not None:
        return [error]
    return check_source(source, path, selection)


def check_source(source: str, path: str, selection: RuleSelection) -> list[Diagnostic]:
    """Check one file's text with the selected rules; diagnostics sorted by position."""
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    candidates = selection.applicable(source)
    if not candidates:
        # No rule can fire here; a syntax error must still be reported, and
        # CPython's parser is five times cheaper than libcst's.
        return _syntax_check_only(source, path)
    if selection.use_prefilter and any(r.prefilter.syntax is not None for r in candidates):
        try:
            index = SyntaxIndex.parse(source, path)
        except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
            return [_parse_error(exc, path)]
        candidates = [
            rule for rule in candidates if _syntax_stage_keeps(rule, index, selection.options)
        ]
        if not candidates:
            return []
    rules = [rule.load() for rule in candidates]

    import libcst as cst

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        # CPython's parser gives the clearer message and location when it
        # also rejects the file; libcst's is the fallback.
        return _syntax_check_only(source, path) or [
            file_error(path, exc.raw_line, exc.raw_column + 1, f"syntax error: {exc.message}")
        ]
    except RecursionError:
        return [file_error(path, 1, 1, "file is nested too deeply to parse")]
    return _run_rules(module, source, path, rules, selection.options)


def _syntax_stage_keeps(rule, index, options: dict[str, dict[str, Any]]) -> bool:
    try:
        return rule.prefilter.accepts_syntax(index, options.get(rule.code))
    except Exception:
        # A pre-filter only saves time: when one fails on an odd file, the rule
        # itself decides (and reports its own crash as TL999 if it has one).
        return True


def _syntax_check_only(source: str, path: str) -> list[Diagnostic]:
    try:
        parse_tree(source, path)
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        return [_parse_error(exc, path)]
    return []


def _parse_error(exc: BaseException, path: str) -> Diagnostic:
    if isinstance(exc, SyntaxError):
        return file_error(path, exc.lineno or 1, exc.offset or 1, f"syntax error: {exc.msg}")
    return file_error(path, 1, 1, f"cannot parse file: {exc}")


def _run_rules(
    module: cst.Module,
    source: str,
    path: str,
    rule_classes: Sequence[type[Rule]],
    options: dict[str, dict[str, Any]],
) -> list[Diagnostic]:
    from torchlint.context import FileContext
    from torchlint.walk import Walker

    context = FileContext(path, source, module)
    instances = [cls(context, options.get(cls.code)) for cls in rule_classes]
    visit: dict[str, list] = {}
    leave: dict[str, list] = {}
    owner: dict[Any, Rule] = {}
    for rule in instances:
        for attr in dir(type(rule)):
            if attr.startswith("visit_"):
                table, node_name = visit, attr[6:]
            elif attr.startswith("leave_"):
                table, node_name = leave, attr[6:]
            else:
                continue
            handler = getattr(rule, attr)
            table.setdefault(node_name, []).append(handler)
            owner[handler.__func__] = rule

    crashes: list[tuple[Rule, Any, BaseException]] = []

    def on_error(handler, node, exc):
        rule = owner[handler.__func__]
        crashes.append((rule, node, exc))
        # Stop feeding the crashed rule this file: its state is unknown now.
        for table in (visit, leave):
            for handlers in table.values():
                for other in list(handlers):
                    if owner.get(other.__func__) is rule:
                        handlers.remove(other)

    try:
        Walker(visit, leave, context.parents, on_error).walk(module)
    except RecursionError:
        return [file_error(path, 1, 1, "file is nested too deeply to check")]
    return _finish(context, crashes)


def _finish(context, crashes) -> list[Diagnostic]:
    reports: list[Report] = context.reports
    if not reports and not crashes:
        return []
    positions = _positions(context.module)
    suppressions = parse_suppressions(context.source)
    diagnostics = []
    for report in reports:
        start, end = _span(positions, report.node, context)
        statement = context.enclosing_statement(report.node)
        rows = set(range(start[0], end[0] + 1))
        if statement is not None and statement in positions:
            rows.add(_statement_last_line(positions, statement))
        if suppressions.is_suppressed(report.code, tuple(rows)):
            continue
        diagnostics.append(
            Diagnostic(
                path=context.path,
                row=start[0],
                column=start[1],
                end_row=end[0],
                end_column=end[1],
                code=report.code,
                name=report.name,
                message=report.message,
                fix_hint=report.fix_hint,
                fix=_fix_of(report, context, suppressions) if report.fix is not None else None,
            )
        )
    for rule, node, exc in crashes:
        (row, column), _ = _span(positions, node, context)
        diagnostics.append(
            Diagnostic(
                path=context.path,
                row=row,
                column=column,
                end_row=row,
                end_column=column,
                code=INTERNAL_ERROR_CODE,
                name="internal-error",
                message=(
                    f"rule {rule.code} ({rule.name}) crashed at line {row}: "
                    f"{type(exc).__name__}: {exc}; please report this"
                ),
            )
        )
    diagnostics.sort(key=Diagnostic.sort_key)
    return diagnostics


def _fix_of(report: Report, context, suppressions) -> DiagnosticFix | None:
    """The fix a report offers, as text edits of the file; None if it cannot be offered.

    The module is rewritten with libcst (the target node replaced, everything
    else as parsed) and the edit is the span where the new text differs, so it
    keeps the surrounding formatting, comments and indentation exactly.  A fix
    that would edit a line carrying a ``# noqa`` comment is not offered: such
    lines are the author's, whatever codes they name.
    """
    fix = report.fix
    target = fix.target if fix.target is not None else report.node
    module = context.module
    try:
        new_code = module.deep_replace(target, fix.replacement).code
    except Exception:
        # A replacement that does not fit its place (a rule bug): offer no fix,
        # the finding itself stands.
        return None
    old_code = module.code
    if new_code == old_code:
        return None
    edit = _difference(old_code, new_code)
    noqa_rows = suppressions.by_line
    if any(row in noqa_rows for row in range(edit.row, edit.end_row + 1)):
        return None
    return DiagnosticFix(applicability=fix.applicability, message=fix.message, edits=(edit,))


def _difference(old: str, new: str) -> Edit:
    """The one edit that turns ``old`` into ``new``: their differing middle."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    row, column = _position_of(old, prefix)
    end_row, end_column = _position_of(old, len(old) - suffix)
    return Edit(row, column, end_row, end_column, new[prefix : len(new) - suffix])


def _position_of(text: str, offset: int) -> tuple[int, int]:
    """1-based (row, column) of a code-point offset; rows end at ``\n``, ``\r\n`` or ``\r``."""
    from torchlint.fix import line_starts

    starts = line_starts(text)
    import bisect

    index = bisect.bisect_right(starts, offset) - 1
    return index + 1, offset - starts[index] + 1


def _positions(module: cst.Module):
    """Code ranges of every node; only computed for files with findings."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    del cst
    return wrapper.resolve(PositionProvider)


def _span(positions, node, context) -> tuple[tuple[int, int], tuple[int, int]]:
    code_range = positions.get(node)
    if code_range is None:
        # A node the walk skipped (trivia): use its nearest positioned ancestor.
        for ancestor in context.ancestors(node):
            code_range = positions.get(ancestor)
            if code_range is not None:
                break
    if code_range is None:
        return (1, 1), (1, 1)
    start = (code_range.start.line, code_range.start.column + 1)
    end = (code_range.end.line, code_range.end.column + 1)
    return start, end


def _statement_last_line(positions, statement) -> int:
    import libcst as cst

    if isinstance(statement, cst.BaseCompoundStatement):
        # The header ends where the body starts, and a suppression comment
        # after `if cond:` sits on that line.
        body = getattr(statement, "body", None)
        body_range = positions.get(body) if body is not None else None
        if body_range is not None:
            return body_range.start.line
    return positions[statement].end.line
