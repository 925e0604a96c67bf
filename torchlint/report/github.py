"""The ``github`` format: GitHub Actions workflow commands, shown as annotations."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from torchlint.diagnostics import Diagnostic

# GitHub knows three annotation levels.
_COMMAND_OF_SEVERITY = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command (after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a ``key=value`` property, where ``:`` and ``,`` are separators."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(diagnostic: Diagnostic) -> str:
    """``::error file=...,line=...,col=...,endLine=...,endColumn=...,title=...::message``.

    In a notebook the annotation goes on the line of the ``.ipynb`` file's
    JSON that holds the code (GitHub annotates the file's own lines), and
    the title names the cell and the line in it.
    """
    d = diagnostic
    command = _COMMAND_OF_SEVERITY.get(d.severity, "error")
    row, column, end_row, end_column = d.file_span or (d.row, d.column, d.end_row, d.end_column)
    title = f"{d.code} {d.name}"
    if d.cell is not None:
        title += f" (cell {d.cell}, line {d.row}, column {d.column})"
    properties = {
        "file": d.path.replace(os.sep, "/"),
        "line": str(row),
        "col": str(column),
        "endLine": str(end_row),
        "endColumn": str(end_column),
        "title": title,
    }
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command} {joined}::{escape_data(d.message)}"


def render_github(diagnostics: list[Diagnostic], stream: TextIO) -> None:
    """One workflow command per diagnostic."""
    for diagnostic in diagnostics:
        stream.write(annotation(diagnostic) + "\n")
