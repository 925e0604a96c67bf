"""The human formats: ``concise`` (one line each) and ``full`` (with the source)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TextIO

from torchlint.report import summary_line

if TYPE_CHECKING:
    from torchlint.diagnostics import Diagnostic


def headline(diagnostic: Diagnostic) -> str:
    """``path:row:col: TL001 [name] message`` (``path:cell N:row:col: ...`` in a notebook)."""
    d = diagnostic
    return f"{d.path}:{d.position}: {d.code} [{d.name}] {d.message}"


def render_concise(diagnostics: list[Diagnostic], stream: TextIO) -> None:
    """One line per diagnostic, then the summary line."""
    for diagnostic in diagnostics:
        stream.write(headline(diagnostic) + "\n")
    stream.write(summary_line(len(diagnostics)) + "\n")


def render_full(
    diagnostics: list[Diagnostic],
    stream: TextIO,
    show_source: Callable[[str], str | None] | None = None,
) -> None:
    """Each diagnostic with its source line, a caret underline and the fix hint."""
    lines_of = _SourceLines(show_source or read_source)
    for diagnostic in diagnostics:
        stream.write(headline(diagnostic) + "\n")
        line = lines_of.line(diagnostic.path, diagnostic.row, diagnostic.cell)
        snippet = _snippet(diagnostic, line) if line is not None else []
        if diagnostic.fix_hint:
            if not snippet:
                snippet = ["  |"]
            snippet.append("  = help: " + diagnostic.fix_hint)
        for text in snippet:
            stream.write(text + "\n")
        stream.write("\n")
    stream.write(summary_line(len(diagnostics)) + "\n")


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
    """The text of the file at ``path`` decoded as the engine decodes it; None if unreadable."""
    import io
    import tokenize

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text
