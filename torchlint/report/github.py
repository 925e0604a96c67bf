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
    """``::error file=...,line=...,col=...,endLine=...,endColumn=...,title=...::message``."""
    d = diagnostic
    command = _COMMAND_OF_SEVERITY.get(d.severity, "error")
    properties = {
        "file": d.path.replace(os.sep, "/"),
        "line": str(d.row),
        "col": str(d.column),
        "endLine": str(d.end_row),
        "endColumn": str(d.end_column),
        "title": f"{d.code} {d.name}",
    }
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command} {joined}::{escape_data(d.message)}"


def render_github(diagnostics: list[Diagnostic], stream: TextIO) -> None:
    """One workflow command per diagnostic."""
    for diagnostic in diagnostics:
        stream.write(annotation(diagnostic) + "\n")
