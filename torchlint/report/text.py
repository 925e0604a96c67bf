"""The human formats: ``concise`` (one line each) and ``full`` (with the source)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TextIO

from torchlint.report import fixable_line, summary_line

if TYPE_CHECKING:
    from torchlint.diagnostics import Diagnostic


def headline(diagnostic: Diagnostic, unsafe_fixes: bool = False) -> str:
    """``path:row:col: TL001 [name] message`` (``path:cell N:row:col: ...`` in a notebook).

    ``[*]`` goes before the message when ``--fix`` would fix the finding.
    """
    d = diagnostic
    mark = "[*] " if d.fix_applies(unsafe_fixes) else ""
    return f"{d.path}:{d.position}: {d.code} [{d.name}] {mark}{d.message}"


def _summary(
    diagnostics: list[Diagnostic], stream: TextIO, fixed: int | None, unsafe_fixes: bool
) -> None:
    stream.write(summary_line(len(diagnostics), fixed) + "\n")
    fixable = fixable_line(diagnostics, unsafe_fixes)
    if fixable:
        stream.write(fixable + "\n")


def render_concise(
    diagnostics: list[Diagnostic],
    stream: TextIO,
    *,
    fixed: int | None = None,
    unsafe_fixes: bool = False,
) -> None:
    """One line per diagnostic, then the summary line (and how many are fixable)."""
    for diagnostic in diagnostics:
        stream.write(headline(diagnostic, unsafe_fixes) + "\n")
    _summary(diagnostics, stream, fixed, unsafe_fixes)


def render_full(
    diagnostics: list[Diagnostic],
    stream: TextIO,
    show_source: Callable[[str], str | None] | None = None,
    *,
    fixed: int | None = None,
    unsafe_fixes: bool = False,
) -> None:
    """Each diagnostic with its source line, a caret underline and the fix hint."""
    lines_of = _SourceLines(show_source or read_source)
    for diagnostic in diagnostics:
        stream.write(headline(diagnostic, unsafe_fixes) + "\n")
        line = lines_of.line(diagnostic.path, diagnostic.row, diagnostic.cell)
        snippet = _snippet(diagnostic, line) if line is not None else []
        if diagnostic.fix_hint:
            if not snippet:
                snippet = ["  |"]
            snippet.append("  = help: " + diagnostic.fix_hint)
        if diagnostic.fix is not None:
            kind = "" if diagnostic.fix.is_safe else "unsafe "
            snippet.append(f"  = {kind}fix: {diagnostic.fix.message}")
        for text in snippet:
            stream.write(text + "\n")
        stream.write("\n")
    _summary(diagnostics, stream, fixed, unsafe_fixes)


def _snippet(diagnostic: Diagnostic, line: str) -> list[str]:
    number = str(diagnostic.row)
    gutter = " " * len(number)
    start = max(diagnostic.column - 1, 0)
    if diagnostic.end_row == diagnostic.row:
        end = max(diagnostic.end_column - 1, start + 1)
    else:
        # A span over several lines: underline the rest of its first line.
        end = max(len(line), start + 1)
    # Keep tabs in the indentation so the carets line up under the code.
    indent = "".join(char if char == "\t" else " " for char in line[:start])
    carets = "^" * max(min(end, max(len(line), start + 1)) - start, 1)
    return [
        f"{gutter} |",
        f"{number} | {line}",
        f"{gutter} | {indent}{carets}",
        f"{gutter} |",
    ]


class _SourceLines:
    """Lines of each file (or notebook cell), each file read at most once."""

    def __init__(self, read: Callable[[str], str | None]) -> None:
        self._read = read
        self._texts: dict[str, str | None] = {}
        self._lines: dict[tuple[str, int | None], list[str] | None] = {}

    def line(self, path: str, row: int, cell: int | None = None) -> str | None:
        key = (path, cell)
        if key not in self._lines:
            if path not in self._texts:
                self._texts[path] = self._read(path)
            text = self._texts[path]
            if text is None:
                self._lines[key] = None
            elif cell is None:
                self._lines[key] = text.splitlines()
            else:
                from torchlint.notebook import notebook_cell_lines

                self._lines[key] = notebook_cell_lines(text, cell)
        lines = self._lines[key]
        if lines is None or not 1 <= row <= len(lines):
            return None
        return lines[row - 1]


def read_source(path: str) -> str | None:
    """The text of the file at ``path`` decoded as the engine decodes it; None if unreadable.

    Read as the engine reads files: a FIFO or a device (``/dev/zero`` behind a
    ``.py`` link) is never opened for reading, and a file over the size cap
    has no snippet.
    """
    import io
    import tokenize

    from torchlint.engine import NotAnalysable, read_source_file

    try:
        data, _ = read_source_file(path)
    except (OSError, NotAnalysable):
        return None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text
