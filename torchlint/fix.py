"""Applying the fixes that rules offer: ``torchlint check --fix``, ``--diff``.

A rule offers a fix with its finding (:class:`torchlint.rule.Fix`); the
engine turns it into text edits computed by a libcst rewrite of the file, so
comments and formatting are kept (:class:`torchlint.diagnostics.Edit`).
Edits are plain data: they survive the cache and the worker processes, and
they are what the JSON and SARIF reports show.

Fixing one file: check it, apply every applicable fix whose edits do not
overlap another's in one pass over the text, check the result again, and
repeat while fixes are left (the fixes skipped for overlapping come back in
the next pass), at most :data:`MAX_PASSES` times.  A pass whose result no
longer parses is undone.  The file is written back with its own encoding,
byte-order mark and line endings, and only when its text changed.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shutil
import tempfile
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from torchlint.diagnostics import FILE_ERROR_CODE, Diagnostic, Edit
from torchlint.engine import RuleSelection, check_source, decode_source, file_error

MAX_PASSES = 10
_NEWLINE = re.compile(r"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


def line_starts(text: str) -> list[int]:
    """Offsets where each line of ``text`` starts (lines end at ``\\n``, ``\\r\\n`` or ``\\r``)."""
    return [0, *(match.end() for match in _NEWLINE.finditer(text))]


def _offset(starts: list[int], text: str, row: int, column: int) -> int:
    if not 1 <= row <= len(starts):
        raise ValueError(f"edit row {row} is outside the file")
    offset = starts[row - 1] + column - 1
    if not 0 <= offset <= len(text):
        raise ValueError(f"edit column {column} is outside row {row}")
    return offset


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with non-overlapping ``edits`` applied (positions refer to ``text``).

    Raises ``ValueError`` for edits outside the text or overlapping each other.
    """
    starts = line_starts(text)
    spans = sorted(
        (
            _offset(starts, text, edit.row, edit.column),
            _offset(starts, text, edit.end_row, edit.end_column),
            edit.content,
        )
        for edit in edits
    )
    pieces = []
    cursor = 0
    for start, end, content in spans:
        if start < cursor or end < start:
            raise ValueError("edits overlap")
        pieces.append(text[cursor:start])
        pieces.append(content)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _span(diagnostic: Diagnostic) -> tuple[tuple[int, int], tuple[int, int]]:
    edits = diagnostic.fix.edits  # type: ignore[union-attr]
    start = min((edit.row, edit.column) for edit in edits)
    end = max((edit.end_row, edit.end_column) for edit in edits)
    return start, end


def non_overlapping(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The fixable ``diagnostics`` whose edits can go in one pass, first come first kept.

    Two fixes conflict when their spans overlap or touch (an insertion at the
    end of another edit would depend on the order); the later one waits for
    the next pass, when it is computed again on the new text.
    """
    chosen: list[Diagnostic] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for diagnostic in sorted(diagnostics, key=Diagnostic.sort_key):
        start, end = _span(diagnostic)
        if any(start <= other_end and other_start <= end for other_start, other_end in taken):
            continue
        chosen.append(diagnostic)
        taken.append((start, end))
    return chosen


@dataclass
class FixResult:
    """What fixing one file did: its text before and after, and what is left."""

    path: str
    original: str
    fixed: str
    fixed_count: int
    remaining: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        """A unified diff of the change (empty when nothing changed)."""
        if not self.changed:
            return ""
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.fixed.splitlines(keepends=True),
                fromfile=self.path,
                tofile=self.path,
            )
        )


def fix_source(
    source: str,
    path: str,
    selection: RuleSelection,
    *,
    unsafe: bool = False,
    keep: Callable[[Diagnostic], bool] = lambda diagnostic: True,
) -> FixResult:
    """Apply the applicable fixes to ``source`` until none is left; nothing is written.

    ``unsafe`` applies unsafe fixes too; ``keep`` says which findings count at
    all (the per-file ignores): a fix is applied only for a finding kept.
    """
    text = source
    fixed_count = 0
    diagnostics = [d for d in check_source(text, path, selection) if keep(d)]
    for _ in range(MAX_PASSES):
        chosen = non_overlapping(d for d in diagnostics if d.fix_applies(unsafe))
        if not chosen:
            break
        try:
            candidate = apply_edits(text, (edit for d in chosen for edit in d.fix.edits))  # type: ignore[union-attr]
        except ValueError:
            break
        checked = [d for d in check_source(candidate, path, selection) if keep(d)]
        if any(d.code == FILE_ERROR_CODE for d in checked):
            # The rewrite broke the file (it should never): keep the last good text.
            break
        text, diagnostics = candidate, checked
        fixed_count += len(chosen)
    return FixResult(path, source, text, fixed_count, diagnostics)


def fix_file(
    display: str,
    real: str,
    selection: RuleSelection,
    *,
    unsafe: bool = False,
    write: bool = True,
    keep: Callable[[Diagnostic], bool] = lambda diagnostic: True,
) -> FixResult:
    """Fix the file at ``real`` (reported as ``display``); write it back when ``write``.

    A file that cannot be read or decoded is left alone and its problem is
    the one remaining finding.  The written file keeps its encoding, its
    byte-order mark and its line endings; a file whose text did not change
    is not written at all.
    """
    try:
        with open(real, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        error = file_error(display, 1, 1, f"cannot read file: {exc.strerror or exc}")
        return FixResult(display, "", "", 0, [error])
    source, error = decode_source(data, display)
    if error is not None:
        return FixResult(display, "", "", 0, [error])
    result = fix_source(source, display, selection, unsafe=unsafe, keep=keep)
    if write and result.changed:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        if encoding == "utf-8-sig":
            encoding = "utf-8"
        try:
            encoded = result.fixed.encode(encoding)
            if data.startswith(_BOM) and not encoded.startswith(_BOM):
                encoded = _BOM + encoded
            _replace_contents(real, encoded)
        except (OSError, UnicodeEncodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            error = file_error(display, 1, 1, f"cannot write the fixed file: {reason}")
            return FixResult(display, source, source, 0, [error, *result.remaining])
    return result


def _replace_contents(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``'s target, then rename it over.

    The old content stays whole until the rename, so an interrupted write loses
    nothing; a symbolic link keeps pointing where it did, and the mode is kept.
    """
    target = os.path.realpath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".torchlint-fix-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class FixOutcome:
    """What ``--fix``/``--diff`` did to a run: per-file results and the findings left."""

    results: list[FixResult]
    remaining: list[Diagnostic]
    fixed_count: int
    # The fixed bytes of code read from stdin (``--fix`` on ``-``), else None.
    fixed_stdin: bytes | None = None

    def report_diff(self, stream) -> int:
        """Write each changed file's diff to ``stream``; the exit code of ``--diff``.

        1 when a fix would be made, 2 when a rule crashed, else 0; the count
        goes to stderr (``Would fix 2 errors.``), so the diff can be piped.
        """
        import sys

        for result in self.results:
            stream.write(result.diff())
        stream.flush()
        count = self.fixed_count
        if count:
            sys.stderr.write(f"Would fix {count} error{'' if count == 1 else 's'}.\n")
        else:
            sys.stderr.write("No errors would be fixed.\n")
        if any(d.is_internal_error for d in self.remaining):
            return 2
        return 1 if any(result.changed for result in self.results) else 0


def apply_fixes(
    diagnostics: list[Diagnostic],
    files: list[tuple[str, str | None]],
    selection: RuleSelection,
    *,
    unsafe: bool = False,
    write: bool = True,
    keep: Callable[[Diagnostic], bool] = lambda diagnostic: True,
    stdin_data: bytes | None = None,
) -> FixOutcome:
    """Fix every file of a run that has an applicable fix among ``diagnostics``.

    ``files`` are the run's ``(display, real)`` pairs (real is None for
    stdin, whose bytes are ``stdin_data``).  Files without an applicable fix
    are not read again; the findings of fixed files are those left after
    fixing.  With ``write`` False nothing is written (``--diff``).
    """
    real_of = dict(files)
    fixable = {d.path for d in diagnostics if d.fix_applies(unsafe) and d.path in real_of}
    results: dict[str, FixResult] = {}
    fixed_stdin = None
    for display, real in files:
        if real is None:
            result, fixed_stdin = _fix_stdin(display, stdin_data, selection, unsafe, keep)
            if result is not None:
                results[display] = result
            continue
        if display in fixable:
            results[display] = fix_file(
                display, real, selection, unsafe=unsafe, write=write, keep=keep
            )
    remaining: list[Diagnostic] = []
    emitted: set[str] = set()
    for diagnostic in diagnostics:
        result = results.get(diagnostic.path)
        if result is None:
            remaining.append(diagnostic)
        elif diagnostic.path not in emitted:
            emitted.add(diagnostic.path)
            remaining.extend(result.remaining)
    ordered = [results[display] for display, _ in files if display in results]
    return FixOutcome(
        ordered, remaining, sum(r.fixed_count for r in ordered), fixed_stdin if write else None
    )


def _fix_stdin(display, data, selection, unsafe, keep) -> tuple[FixResult | None, bytes | None]:
    if data is None:
        return None, None
    source, error = decode_source(data, display)
    if error is not None:
        # Undecodable input goes back out unchanged.
        return None, data
    result = fix_source(source, display, selection, unsafe=unsafe, keep=keep)
    if not result.changed:
        return result, data
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    encoding = "utf-8" if encoding == "utf-8-sig" else encoding
    prefix = _BOM if data.startswith(_BOM) else b""
    return result, prefix + result.fixed.encode(encoding, errors="surrogateescape")
