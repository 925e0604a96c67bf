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

import ast
import contextlib
import dataclasses
import gc
import io
import os
import stat
import sys
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchlint.diagnostics import (
    ENGINE_CODE_NAMES,
    FILE_ERROR_CODE,
    FILE_TOO_LARGE_CODE,
    INTERNAL_ERROR_CODE,
    TOO_DEEPLY_NESTED_CODE,
    UNSUPPORTED_SYNTAX_CODE,
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

# A file larger than this is reported (TL0001), not read: checking takes about
# 600 bytes of memory per byte of source, most of it libcst's tree (a 1 MB
# file peaks at 640 MiB, 5 MB at 3 GiB), in each worker process.
MAX_FILE_BYTES = 8 * 1024 * 1024

# Expressions nested deeper than this (a chain `y + y + ... + y` is as deep as
# it has terms) are reported (TL0002), not given to libcst: its parser takes
# time quadratic in the depth (half a second at 1,000, six at 5,000) and
# overflows its stack at about 7,000, killing the process.
MAX_EXPRESSION_DEPTH = 1_000


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
    return engine_diagnostic(FILE_ERROR_CODE, path, row, column, message)


def engine_diagnostic(code: str, path: str, row: int, column: int, message: str) -> Diagnostic:
    """A diagnostic of one of the engine's own codes (a file that was not analysed)."""
    return Diagnostic(
        path=path,
        row=row,
        column=column,
        end_row=row,
        end_column=column,
        code=code,
        name=ENGINE_CODE_NAMES[code],
        message=message,
    )


# -- reading --------------------------------------------------------------------


class NotAnalysable(Exception):
    """A file that is not read; ``code`` and the message say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def diagnostic(self, path: str) -> Diagnostic:
        """The finding that reports this file."""
        return engine_diagnostic(self.code, path, 1, 1, str(self))


def describe_non_regular(mode: int) -> str:
    """Why a path with this ``st_mode`` is not read: ``not a regular file (a FIFO)``."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    kind = next((word for test, word in kinds if test(mode)), "not a file")
    return f"not a regular file ({kind}): not read"


def too_large(size: int) -> NotAnalysable:
    """The error for a file of ``size`` bytes, over :data:`MAX_FILE_BYTES`."""
    return NotAnalysable(
        FILE_TOO_LARGE_CODE,
        f"file is {size / 2**20:.1f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB that "
        "torchlint reads; it was not checked",
    )


def read_source_file(path: str) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file and its ``stat``, read once and at most :data:`MAX_FILE_BYTES`.

    Opening does not wait for a writer (a FIFO) and nothing that is not a
    regular file is read (``/dev/zero`` behind a ``.py`` link): both raise
    :class:`NotAnalysable`, as does a file over the size cap.  Raises
    ``OSError`` when the file cannot be opened or read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotAnalysable(FILE_ERROR_CODE, describe_non_regular(info.st_mode))
        if info.st_size > MAX_FILE_BYTES:
            raise too_large(info.st_size)
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            # One byte more than the cap tells a file that grew since fstat.
            data = handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise too_large(len(data))
    return data, info


def read_stream(stream) -> bytes:
    """Read a binary stream (standard input) up to the size cap; raises :class:`NotAnalysable`."""
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise too_large(len(data))
    return data


# -- checking ---------------------------------------------------------------------


def check_bytes(data: bytes, path: str, selection: RuleSelection) -> list[Diagnostic]:
    """Check the content of one file, given as bytes (a ``.ipynb`` path is read as a notebook)."""
    if len(data) > MAX_FILE_BYTES:
        return [too_large(len(data)).diagnostic(path)]
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
    index = None
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
    tree = index.tree if index is not None else None
    # The rules only need libcst's tree: the ast index can go before it is built.
    del index
    return _check_with_libcst(source, path, tree, rules, selection.options)


def _check_with_libcst(
    source: str,
    path: str,
    tree: ast.Module | None,
    rules: Sequence[type[Rule]],
    options: dict[str, dict[str, Any]],
) -> list[Diagnostic]:
    """Parse with libcst (after CPython's parser vouched for the file) and run ``rules``."""
    if tree is None:
        try:
            tree = parse_tree(source, path)
        except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
            return [_parse_error(exc, path)]
    nesting = _nesting_problem(tree, path)
    if nesting is not None:
        return [nesting]
    starts = [_first_line(statement) for statement in tree.body]
    del tree
    with _cyclic_gc_paused():
        return _parse_and_run(source, path, rules, options, starts)


@contextlib.contextmanager
def _cyclic_gc_paused():
    """No cyclic garbage collection while one file's trees are built and walked.

    libcst's tree holds millions of objects for a large file, and each full
    collection walks all of them while none is garbage (the tree has no
    cycles): a quarter of the CPU time of a 1 MB file, more as files grow.
    Whatever cycles the rules leave are collected once it is back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_and_run(
    source: str,
    path: str,
    rules: Sequence[type[Rule]],
    options: dict[str, dict[str, Any]],
    starts: list[int],
) -> list[Diagnostic]:
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except RecursionError:
        return [_too_deep(path, 1, 1, "for libcst's parser")]
    except Exception as exc:
        # CPython accepted the file, so it is valid Python that libcst cannot
        # read (a form feed in an indented line, `(a): int = 1`): say so, and
        # never call it a syntax error.
        row, column = getattr(exc, "raw_line", 1), getattr(exc, "raw_column", 0) + 1
        detail = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return [
            engine_diagnostic(
                UNSUPPORTED_SYNTAX_CODE,
                path,
                row,
                column,
                "valid Python that libcst, the parser torchlint's rules need, cannot read "
                f"({detail.strip()}); the file was not checked",
            )
        ]
    return _run_rules(module, source, path, rules, options, starts)


def _first_line(statement: ast.stmt) -> int:
    """Where a top-level statement starts, as libcst's positions count it.

    For a decorated definition both parsers give the line of ``def`` or
    ``class``, not the first decorator's.
    """
    return statement.lineno


def _nesting_problem(tree: ast.Module, path: str) -> Diagnostic | None:
    """A TL0002 for the first expression nested over :data:`MAX_EXPRESSION_DEPTH`, if any."""
    expression, node_type = ast.expr, ast.AST
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    pop, push = stack.pop, stack.append
    fields_of = _nesting_fields
    while stack:
        node, depth = pop()
        kind = type(node)
        if isinstance(node, expression):
            depth += 1
            if depth > MAX_EXPRESSION_DEPTH:
                return _too_deep(
                    path,
                    getattr(node, "lineno", 1),
                    getattr(node, "col_offset", 0) + 1,
                    f"(over {MAX_EXPRESSION_DEPTH} levels, as in a chain `y + y + ... + y` "
                    f"of over {MAX_EXPRESSION_DEPTH} terms)",
                )
        fields = fields_of.get(kind)
        if fields is None:
            fields = fields_of[kind] = tuple(
                name for name in kind._fields if name not in ("ctx", "op", "ops")
            )
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type):
                        push((item, depth))
            elif isinstance(value, node_type):
                push((value, depth))
    return None


_nesting_fields: dict[type, tuple[str, ...]] = {}


def _too_deep(path: str, row: int, column: int, detail: str) -> Diagnostic:
    return engine_diagnostic(
        TOO_DEEPLY_NESTED_CODE,
        path,
        row,
        column,
        f"expression nested too deeply to check {detail}; the file was not checked",
    )


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
    if isinstance(exc, (RecursionError, MemoryError)):
        return _too_deep(path, 1, 1, "for CPython's parser")
    return file_error(path, 1, 1, f"cannot parse file: {exc}")


def _run_rules(
    module: cst.Module,
    source: str,
    path: str,
    rule_classes: Sequence[type[Rule]],
    options: dict[str, dict[str, Any]],
    statement_starts: list[int] | None = None,
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
        return [_too_deep(path, 1, 1, "for the rules' walk")]
    return _finish(context, crashes, statement_starts)


def _finish(context, crashes, statement_starts: list[int] | None = None) -> list[Diagnostic]:
    reports: list[Report] = context.reports
    if not reports and not crashes:
        return []
    positions = StatementPositions(context, statement_starts)
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
                fix=(
                    _fix_of(report, context, suppressions, positions)
                    if report.fix is not None
                    else None
                ),
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


def _fix_of(report: Report, context, suppressions, positions) -> DiagnosticFix | None:
    """The fix a report offers, as text edits of the file; None if it cannot be offered.

    The top-level statement that holds the target is rewritten with libcst
    (the target node replaced, everything else as parsed) and the edit is the
    span where its new text differs, so it keeps the surrounding formatting,
    comments and indentation exactly.  Only that statement is printed again:
    printing the whole module for each fix made a large file's fixes cost the
    square of its size.  A fix that would edit a line carrying a ``# noqa``
    comment is not offered: such lines are the author's, whatever codes they
    name.
    """
    fix = report.fix
    target = fix.target if fix.target is not None else report.node
    module = context.module
    top = positions.top_statement(target)
    top_range = positions.get(top) if top is not None else None
    try:
        if top_range is None:
            old_code, new_code, first_row = (
                module.code,
                module.deep_replace(target, fix.replacement).code,
                1,
            )
        else:
            old_code = module.code_for_node(top)
            new_code = module.code_for_node(top.deep_replace(target, fix.replacement))
            first_row = top_range.start.line - _lines_before_start(module, top, old_code)
    except Exception:
        # A replacement that does not fit its place (a rule bug): offer no fix,
        # the finding itself stands.
        return None
    if new_code == old_code:
        return None
    edit = _difference(old_code, new_code)
    shift = first_row - 1
    edit = dataclasses.replace(edit, row=edit.row + shift, end_row=edit.end_row + shift)
    noqa_rows = suppressions.by_line
    if any(row in noqa_rows for row in range(edit.row, edit.end_row + 1)):
        return None
    return DiagnosticFix(applicability=fix.applicability, message=fix.message, edits=(edit,))


def _lines_before_start(module, statement, code: str) -> int:
    """Lines of ``code`` (the statement's) above the line its position starts on.

    Blank and comment lines before it, and for a decorated definition its
    decorators: positions start at ``def``/``class``.
    """
    if getattr(statement, "decorators", None):
        bare = module.code_for_node(statement.with_changes(leading_lines=(), decorators=()))
        return code.count("\n") - bare.count("\n")
    return len(statement.leading_lines)


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


def _positions(module: cst.Module) -> dict:
    """Code ranges of every node of ``module``, as ``PositionProvider`` gives them.

    The provider is run directly: resolving it through a ``MetadataWrapper``
    also walks the whole tree once more with no visitor at all (libcst 1.x
    visits the empty batch of batchable providers), which costs as much as
    the positions themselves.
    """
    from libcst.metadata import PositionProvider

    provider = PositionProvider()
    provider._gen_impl(module)
    return provider._computed


class StatementPositions:
    """Code ranges of nodes, computed only for the top-level statements that need them.

    libcst's positions come from generating the code of the whole module
    again, which costs more than parsing it; a file with one finding needs the
    positions of one statement.  A top-level statement's code is generated
    alone, and its lines are shifted to where CPython's parser saw the
    statement begin (``statement_starts``, one line per ``module.body``
    entry, from the ``ast`` tree).  Columns need no shift: top-level
    statements start at column 0.  Without starts, or when they do not line
    up with the module, the whole module's positions are computed once.
    """

    def __init__(self, context, statement_starts: list[int] | None) -> None:
        self._context = context
        self._module = context.module
        self._ranges: dict = {}
        self._done: set = set()
        self._start_of = _starts_by_statement(self._module, statement_starts)

    def get(self, node, default=None):
        """The ``CodeRange`` of ``node`` (``default`` for one without a position)."""
        found = self._ranges.get(node)
        if found is None:
            self._compute_for(node)
            found = self._ranges.get(node)
        return default if found is None else found

    def __contains__(self, node) -> bool:
        return self.get(node) is not None

    def __getitem__(self, node):
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def _compute_for(self, node) -> None:
        top = self.top_statement(node)
        if top is not None and self._start_of is not None:
            if top not in self._done:
                self._done.add(top)
                self._ranges.update(self._statement_ranges(top, self._start_of[top]))
            return
        if self._module not in self._done:
            self._done.add(self._module)
            self._ranges.update(_positions(self._module))

    def top_statement(self, node):
        """The statement of the module's body that holds ``node`` (None for the module)."""
        module = self._module
        if node is module:
            return None
        previous = node
        for ancestor in self._context.ancestors(node):
            if ancestor is module:
                return previous
            previous = ancestor
        return None

    def _statement_ranges(self, statement, first_line: int) -> dict:
        from libcst.metadata import CodePosition, CodeRange

        alone = self._module.with_changes(body=[statement], header=[], footer=[])
        ranges = _positions(alone)
        shift = first_line - ranges[statement].start.line
        if shift == 0:
            return dict(ranges)
        return {
            node: CodeRange(
                CodePosition(code_range.start.line + shift, code_range.start.column),
                CodePosition(code_range.end.line + shift, code_range.end.column),
            )
            for node, code_range in ranges.items()
        }


def _starts_by_statement(module: cst.Module, starts: list[int] | None) -> dict | None:
    """Each top-level libcst statement's first line, from the ``ast`` statements' lines.

    A line of simple statements (``a = 1; b = 2``) is one libcst statement
    and several ``ast`` ones.  None when the two trees do not line up.
    """
    if starts is None:
        return None
    import libcst as cst

    start_of = {}
    index = 0
    for statement in module.body:
        if index >= len(starts):
            return None
        start_of[statement] = starts[index]
        index += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
    return start_of if index == len(starts) else None


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


def unreadable(path: str, exc: OSError) -> Diagnostic:
    """The TL000 for a file that could not be opened or read."""
    return file_error(path, 1, 1, f"cannot read file: {(exc.strerror or str(exc)).lower()}")
