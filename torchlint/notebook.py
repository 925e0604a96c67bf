"""Jupyter notebooks: their code cells read as one module, findings mapped back to cells.

A notebook runs its code cells one after another in one namespace, so a
model defined in cell 3 is trained in cell 7: the code cells are joined into
one module, each starting on a fresh line, and checked like a ``.py`` file.
IPython syntax is not Python, so it is masked line for line (the module has
exactly the lines of the cells, so a row of the module is a row of one cell):

- a line magic, shell escape or help request at the start of a logical line
  (``%matplotlib inline``, ``!pip install timm``, ``model?``) becomes
  ``pass`` at its indentation, so a block holding only it stays a block;
  ``files = !ls`` becomes ``files = None`` so the name stays bound;
- a cell magic whose body is Python run in the kernel's namespace
  (``%%time``, ``%%timeit``, ``%%capture``, ``%%prun``) loses its first line
  only; any other cell magic (``%%bash``, ``%%writefile``, ``%%html``) blanks
  the whole cell.

Findings are reported with the cell's number (1-based, counting every cell,
markdown too, as ruff does) and the row and column in that cell, plus the
span of the same code in the ``.ipynb`` file's JSON text, for viewers that
show the file itself (SARIF, GitHub annotations).

:meth:`Notebook.with_module` is the way back: given the module text after an
edit, it rewrites the sources of the cells that changed in the notebook's
JSON text and leaves every other byte (outputs, metadata, indentation, key
order) as it was.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchlint.diagnostics import Diagnostic
    from torchlint.engine import RuleSelection

NOTEBOOK_SUFFIX = ".ipynb"

# Cell magics whose body is ordinary Python run in the kernel's namespace:
# only their first line is not Python.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

# A line ends at \n, \r\n or \r, as Python's tokenizer (and libcst) count them.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_ESCAPE_START = ("%", "!", "?")
_HELP_SUFFIX = re.compile(r"[A-Za-z_][\w.]*\?{1,2}")
_ASSIGNED_ESCAPE = re.compile(r"(?P<targets>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!]")
# One JSON token: a string, a structural character, or a number/literal.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)


def is_notebook_path(path: str) -> bool:
    """True for a path that names a Jupyter notebook (``*.ipynb``)."""
    return path.lower().endswith(NOTEBOOK_SUFFIX)


class NotebookError(ValueError):
    """A file that is not a readable notebook; ``row``/``column`` locate the problem."""

    def __init__(self, message: str, row: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` with their line endings (``\\n``, ``\\r\\n`` or ``\\r``)."""
    return _LINE.findall(text)


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""


# -- IPython syntax -------------------------------------------------------------


def mask_ipython(source: str) -> str:
    """``source`` with IPython-only lines replaced by Python, line for line.

    The result has exactly the lines of ``source`` (each keeps its line
    ending), and every line that is Python is unchanged, so rows and
    columns of findings hold for the original cell.
    """
    lines = split_lines(source)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return source
    if lines[first].startswith("%%"):
        words = lines[first][2:].split(maxsplit=1)
        if not words or words[0] not in PYTHON_CELL_MAGICS:
            return "".join(_ending(line) for line in lines)
        lines[first] = _ending(lines[first])

    depth, quote, continued = 0, None, False
    masking_continuation = False
    for index, line in enumerate(lines):
        if masking_continuation:
            # The continuation lines of a shell command (`!pip install \`).
            masking_continuation = line.rstrip("\r\n").endswith("\\")
            lines[index] = _ending(line)
            continue
        at_statement_start = depth == 0 and quote is None and not continued
        if at_statement_start:
            masked = _mask_escape(line)
            if masked is not None:
                lines[index] = masked
                masking_continuation = line.rstrip("\r\n").endswith("\\")
                continue
        depth, quote, continued = _scan(line, depth, quote)
    return "".join(lines)


def _mask_escape(line: str) -> str | None:
    """The Python that stands in for an IPython line, or None for a Python line."""
    body = line.rstrip("\r\n")
    stripped = body.lstrip()
    indent = body[: len(body) - len(stripped)]
    if stripped.startswith(_ESCAPE_START) or _HELP_SUFFIX.fullmatch(stripped.rstrip()):
        return f"{indent}pass{_ending(line)}"
    assigned = _ASSIGNED_ESCAPE.match(stripped)
    if assigned is not None:
        return f"{indent}{assigned.group('targets')} = None{_ending(line)}"
    return None


def _scan(line: str, depth: int, quote: str | None) -> tuple[int, str | None, bool]:
    """Bracket depth, open string and backslash continuation after ``line``.

    Enough of Python's lexer to tell whether the next line starts a
    statement: a ``%`` or ``!`` inside brackets or a string is Python.
    """
    i, n = 0, len(line)
    in_comment = False
    while i < n:
        char = line[i]
        if quote is not None:
            if char == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if char == "#":
            in_comment = True
            break
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif char in "\"'":
            triple = line[i : i + 3]
            if triple in ('"""', "'''"):
                quote = triple
                i += 3
                continue
            quote = char
        i += 1
    continued = not in_comment and line.rstrip("\r\n").endswith("\\")
    if quote in ('"', "'") and not continued:
        quote = None  # an unterminated one-line string: a syntax error of its own
    return depth, quote, continued


# -- the notebook -----------------------------------------------------------------


@dataclass(frozen=True)
class CodeCell:
    """One code cell: where it is in the notebook and in the joined module."""

    index: int  # position in the notebook's list of cells (0-based)
    source: str  # the cell's text as the file holds it
    first_row: int  # the module row of its first line (1-based)
    line_count: int
    ends_with_newline: bool

    @property
    def number(self) -> int:
        """The cell's number as reported: 1-based, counting every cell."""
        return self.index + 1


@dataclass
class _SourceSpan:
    """Where a cell's ``source`` value is in the JSON text."""

    start: int
    end: int
    # Spans of the strings of a list-valued source; None for a string value.
    elements: list[tuple[int, int]] | None


class Notebook:
    """A parsed notebook: its JSON text, its code cells and their joined module."""

    def __init__(self, text: str, data: dict[str, Any], cells: list[CodeCell]) -> None:
        self.text = text
        self.data = data
        self.cells = cells
        self.is_python = _is_python(data)
        masked = []
        for cell in cells:
            body = mask_ipython(cell.source)
            masked.append(body if cell.ends_with_newline or not body else body + "\n")
        self.module = "".join(masked)
        self._cell_starts = [cell.first_row for cell in cells]
        self._spans: dict[int, _SourceSpan] | None = None
        self._cell_offsets: dict[int, int] | None = None

    # -- reading ----------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes) -> Notebook:
        """Parse a notebook file's bytes; raises :class:`NotebookError`."""
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            before = data[: exc.start]
            row = before.count(b"\n") + 1
            column = exc.start - (before.rfind(b"\n") + 1) + 1
            raise NotebookError(
                f"notebook is not UTF-8: byte 0x{data[exc.start]:02x} is invalid", row, column
            ) from None
        return cls.parse(text)

    @classmethod
    def parse(cls, text: str) -> Notebook:
        """Parse a notebook's JSON text; raises :class:`NotebookError`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"notebook is not valid JSON: {exc.msg}"
            raise NotebookError(message, exc.lineno, exc.colno) from None
        except RecursionError:
            raise NotebookError("notebook is not valid JSON: nested too deeply") from None
        if not isinstance(data, dict):
            raise NotebookError("not a Jupyter notebook: the JSON is not an object")
        raw_cells = data.get("cells")
        if raw_cells is None and "worksheets" in data:
            raise NotebookError(
                "nbformat 3 notebook: torchlint reads nbformat 4; convert it with "
                "`jupyter nbconvert --to notebook --nbformat 4`"
            )
        if not isinstance(raw_cells, list):
            raise NotebookError("not a Jupyter notebook: no `cells` list")
        notebook = cls(text, data, [])
        cells, row = [], 1
        for index, raw in enumerate(raw_cells):
            if not isinstance(raw, dict):
                notebook._cell_error(index, "is not an object")
            if raw.get("cell_type") != "code":
                continue
            source = raw.get("source", "")
            if isinstance(source, list) and all(isinstance(part, str) for part in source):
                source = "".join(source)
            elif not isinstance(source, str):
                notebook._cell_error(
                    index, "has a `source` that is neither text nor a list of text"
                )
            lines = split_lines(source)
            cells.append(
                CodeCell(
                    index=index,
                    source=source,
                    first_row=row,
                    line_count=len(lines),
                    ends_with_newline=not lines or bool(_ending(lines[-1])),
                )
            )
            row += len(lines)
        return cls(text, data, cells)

    def _cell_error(self, index: int, problem: str) -> None:
        self._scan_json()
        offset = (self._cell_offsets or {}).get(index, 0)
        row, column = self._row_column(offset)
        raise NotebookError(f"cell {index + 1} {problem}", row, column)

    # -- positions --------------------------------------------------------------

    def cell_at(self, row: int) -> CodeCell | None:
        """The code cell that holds module row ``row`` (the last one past the end)."""
        if not self.cells:
            return None
        position = bisect_right(self._cell_starts, max(row, 1)) - 1
        return self.cells[max(position, 0)]

    def cell_position(self, row: int, column: int) -> tuple[CodeCell, int, int]:
        """A module position as (cell, row in the cell, column), both 1-based.

        A row past the end (a syntax error at the end of the input) is
        clamped to the last line of the last cell.
        """
        cell = self.cell_at(row)
        if cell is None:
            raise ValueError("the notebook has no code cells")
        row_in_cell = row - cell.first_row + 1
        if row_in_cell > max(cell.line_count, 1):
            row_in_cell = max(cell.line_count, 1)
            lines = split_lines(cell.source)
            column = len(lines[-1].rstrip("\r\n")) + 1 if lines else 1
        return cell, row_in_cell, max(column, 1)

    def file_position(self, cell: CodeCell, row: int, column: int) -> tuple[int, int]:
        """Where (row, column) of ``cell`` is in the notebook file's JSON text (1-based).

        The column counts code points of the file's text, so escapes
        (``\\"``, ``\\n``, ``\\u00e9``) are counted as they are written.
        """
        self._scan_json()
        span = (self._spans or {}).get(cell.index)
        if span is None:
            return 1, 1
        lines = split_lines(cell.source)
        start_of_line = sum(len(line) for line in lines[: row - 1])
        line = lines[row - 1] if 0 < row <= len(lines) else ""
        offset = start_of_line + min(max(column - 1, 0), len(line.rstrip("\r\n")))
        if span.elements is None:
            return self._row_column(_raw_index(self.text, span.start, span.end, offset))
        decoded_start = 0
        for element_start, element_end in span.elements:
            length = len(json.loads(self.text[element_start:element_end]))
            if offset < decoded_start + length:
                raw = _raw_index(self.text, element_start, element_end, offset - decoded_start)
                return self._row_column(raw)
            decoded_start += length
        if span.elements:
            element_start, element_end = span.elements[-1]
            return self._row_column(element_end - 1)
        return self._row_column(span.start)

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        """``diagnostic`` at a module position, moved to its cell and the JSON text."""
        if not self.cells:
            return diagnostic
        cell, row, column = self.cell_position(diagnostic.row, diagnostic.column)
        end_cell, end_row, end_column = self.cell_position(
            diagnostic.end_row, diagnostic.end_column
        )
        if end_cell is not cell or (end_row, end_column) < (row, column):
            # A span that runs into the next cell only happens in a notebook
            # that does not run; keep it to its first line.
            end_row, end_column = row, column
        file_row, file_column = self.file_position(cell, row, column)
        file_end_row, file_end_column = self.file_position(cell, end_row, end_column)
        message = diagnostic.message
        if diagnostic.is_internal_error:
            # The engine names the module's line; the reader has only cells.
            message = message.replace(
                f" at line {diagnostic.row}:", f" at cell {cell.number}, line {row}:", 1
            )
        return replace(
            diagnostic,
            message=message,
            row=row,
            column=column,
            end_row=end_row,
            end_column=end_column,
            cell=cell.number,
            file_span=(file_row, file_column, file_end_row, file_end_column),
        )

    def cell_lines(self, number: int) -> list[str] | None:
        """The lines (without endings) of the code cell numbered ``number``."""
        for cell in self.cells:
            if cell.number == number:
                return [line.rstrip("\r\n") for line in split_lines(cell.source)]
        return None

    def _row_column(self, offset: int) -> tuple[int, int]:
        row = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return row, column

    # -- the JSON text ----------------------------------------------------------

    def _scan_json(self) -> None:
        """Find each cell and each code cell's ``source`` in the JSON text (once)."""
        if self._spans is not None:
            return
        spans: dict[int, _SourceSpan] = {}
        cell_offsets: dict[int, int] = {}
        # Frames of the open containers: [is_object, key or index, awaiting a key].
        frames: list[list[Any]] = []
        opened: dict[int, int] = {}
        for match in _JSON_TOKEN.finditer(self.text):
            token = match.group()
            first = token[0]
            depth = len(frames)
            if depth == 2 and first not in ",]" and frames[0][1] == "cells":
                cell_offsets.setdefault(frames[1][1], match.start())
            if first in "{[":
                if first == "[" and _is_source_path(frames):
                    opened[frames[1][1]] = match.start()
                frames.append([first == "{", 0 if first == "[" else None, first == "{"])
            elif first in "}]":
                frames.pop()
                if first == "]" and _is_source_path(frames):
                    index = frames[1][1]
                    elements = spans[index].elements if index in spans else []
                    spans[index] = _SourceSpan(opened.pop(index), match.end(), elements)
            elif first == ":":
                frames[-1][2] = False
            elif first == ",":
                if frames[-1][0]:
                    frames[-1][2] = True
                else:
                    frames[-1][1] += 1
            elif first == '"':
                if frames and frames[-1][0] and frames[-1][2]:
                    frames[-1][1] = json.loads(token)
                elif _is_source_path(frames):
                    spans[frames[1][1]] = _SourceSpan(match.start(), match.end(), None)
                elif depth == 4 and _is_source_path(frames[:3]):
                    index = frames[1][1]
                    span = spans.setdefault(index, _SourceSpan(0, 0, []))
                    assert span.elements is not None
                    span.elements.append((match.start(), match.end()))
        self._spans = spans
        self._cell_offsets = cell_offsets

    # -- the way back -----------------------------------------------------------

    def with_module(self, new_module: str) -> str:
        """The notebook's JSON text with cell sources rewritten from an edited module.

        ``new_module`` is :attr:`module` after an edit (a fix).  The two are
        compared line by line: unchanged lines keep their cell (and a masked
        IPython line gets its original text back: a fix never touches one),
        changed lines replace the lines of the cell they were in, and lines
        inserted where one cell
        ends and the next begins join the cell after, unless they are
        indented (they continue a block of the cell before).  Only the
        ``source`` values of cells whose text changed are rewritten, in the
        shape they had (a list of lines or one string, with the same
        indentation); outputs, metadata and the rest of the text are kept
        byte for byte.
        """
        if not self.cells:
            if new_module.strip():
                raise ValueError("the notebook has no code cell to hold the new code")
            return self.text
        new_lines = self._cell_lines_after(new_module)
        self._scan_json()
        # Write escapes as the file does: Jupyter writes non-ASCII as is.
        ensure_ascii = self.text.isascii() and "\\u" in self.text
        edits = []
        for cell, lines in zip(self.cells, new_lines):
            source = "".join(lines)
            if not cell.ends_with_newline and source.endswith("\n"):
                source = source[:-1]
            if source == cell.source:
                continue
            span = (self._spans or {}).get(cell.index)
            if span is None:
                raise ValueError(f"cell {cell.number} has no `source` in the file to rewrite")
            edits.append((span.start, span.end, self._source_json(span, source, ensure_ascii)))
        pieces, done = [], 0
        for start, end, replacement in sorted(edits):
            pieces += [self.text[done:start], replacement]
            done = end
        pieces.append(self.text[done:])
        return "".join(pieces)

    def _cell_lines_after(self, new_module: str) -> list[list[str]]:
        import difflib

        old = split_lines(self.module)
        new = split_lines(new_module)
        originals: list[str] = []
        owners: list[int] = []
        for position, cell in enumerate(self.cells):
            cell_lines = split_lines(cell.source)
            if cell_lines and not cell.ends_with_newline:
                cell_lines[-1] += "\n"
            originals.extend(cell_lines)
            owners.extend([position] * len(cell_lines))
        result: list[list[str]] = [[] for _ in self.cells]
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                for i in range(i1, i2):
                    result[owners[i]].append(originals[i])
                continue
            if tag == "delete":
                continue
            inserted = new[j1:j2]
            if tag == "insert":
                result[self._owner_of_insertion(i1, owners, inserted)].extend(inserted)
                continue
            # A replaced line stays in the cell of the line it replaces; extra
            # lines join the cell of the last replaced one.
            for k, line in enumerate(inserted):
                result[owners[min(i1 + k, i2 - 1)]].append(line)
        return result

    def _owner_of_insertion(self, at: int, owners: list[int], inserted: list[str]) -> int:
        if at == 0:
            return 0
        if at >= len(owners):
            return owners[-1]
        before, after = owners[at - 1], owners[at]
        if before == after:
            return before
        continues_block = inserted[0][:1] in (" ", "\t")
        return before if continues_block else after

    def _source_json(self, span: _SourceSpan, source: str, ensure_ascii: bool) -> str:
        if span.elements is None:
            return json.dumps(source, ensure_ascii=ensure_ascii)
        parts = source.splitlines(keepends=True)
        if not parts:
            return "[]"
        if span.elements:
            first = span.elements[0][0]
            indent = self.text[self.text.rfind("\n", 0, first) + 1 : first]
            close = self.text[self.text.rfind("\n", 0, span.end - 1) + 1 : span.end - 1]
            if indent.strip() or close.strip():
                # The list was written on one line: keep it on one line.
                return (
                    "[" + ", ".join(json.dumps(p, ensure_ascii=ensure_ascii) for p in parts) + "]"
                )
        else:
            line_start = self.text.rfind("\n", 0, span.start) + 1
            close = re.match(r"[ \t]*", self.text[line_start:]).group()
            indent = close + _indent_unit(self.text)
        body = ",\n".join(indent + json.dumps(p, ensure_ascii=ensure_ascii) for p in parts)
        return "[\n" + body + "\n" + close + "]"


def _is_source_path(frames: Sequence[list[Any]]) -> bool:
    """True when the next value is ``cells[i].source`` of the top-level object."""
    return (
        len(frames) == 3
        and frames[0][0]
        and frames[0][1] == "cells"
        and not frames[1][0]
        and frames[2][0]
        and frames[2][1] == "source"
        and not frames[2][2]
    )


def _raw_index(text: str, start: int, end: int, count: int) -> int:
    """Offset in ``text`` of the ``count``-th decoded code point of the string at start:end."""
    i = start + 1
    last = end - 1  # the closing quote
    decoded = 0
    while decoded < count and i < last:
        if text[i] == "\\":
            if text[i + 1] == "u":
                code = int(text[i + 2 : i + 6], 16)
                i += 6
                # A surrogate pair is one code point in the decoded text.
                if 0xD800 <= code < 0xDC00 and text.startswith("\\u", i):
                    low = int(text[i + 2 : i + 6], 16)
                    if 0xDC00 <= low < 0xE000:
                        i += 6
            else:
                i += 2
        else:
            i += 1
        decoded += 1
    return i


def _indent_unit(text: str) -> str:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped != line:
            return line[: len(line) - len(stripped)]
    return " "


def _is_python(data: dict[str, Any]) -> bool:
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str):
            return section[field].lower() == "python"
    return True


# -- checking -------------------------------------------------------------------


def check_notebook_bytes(data: bytes, path: str, selection: RuleSelection) -> list[Diagnostic]:
    """Check a notebook file's bytes: its code cells as one module, findings per cell.

    A file that is not a readable notebook (not UTF-8, not JSON, no cells)
    is one ``TL000`` finding at the place of the problem; a notebook whose
    kernel is not Python has nothing to check.
    """
    from torchlint.engine import check_source, file_error

    try:
        notebook = Notebook.from_bytes(data)
    except NotebookError as exc:
        return [file_error(path, exc.row, exc.column, exc.message)]
    if not notebook.is_python or not notebook.cells:
        return []
    return [notebook.locate(d) for d in check_source(notebook.module, path, selection)]


def notebook_cell_lines(text: str, number: int) -> list[str] | None:
    """The lines of code cell ``number`` of the notebook ``text``; None if unreadable."""
    try:
        return Notebook.parse(text).cell_lines(number)
    except NotebookError:
        return None
