"""The ``json`` format: ruff's field names, so tools that read ruff read this."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from torchlint.diagnostics import Diagnostic


def diagnostic_record(diagnostic: Diagnostic) -> dict[str, Any]:
    """One diagnostic as a JSON object (``filename`` is absolute, as in ruff).

    ``cell`` is the notebook cell (null outside notebooks), as in ruff: the
    locations are then rows and columns of that cell.
    """
    d = diagnostic
    return {
        "cell": d.cell,
        "code": d.code,
        "end_location": {"column": d.end_column, "row": d.end_row},
        "filename": os.path.abspath(d.path),
        "fix": fix_record(d),
        "location": {"column": d.column, "row": d.row},
        "message": d.message,
        "name": d.name,
        "noqa_row": d.row,
        "severity": d.severity,
        "url": d.url,
    }


def fix_record(diagnostic: Diagnostic) -> dict[str, Any] | None:
    """Ruff's ``fix`` object: applicability, message and edits; None without a fix."""
    fix = diagnostic.fix
    if fix is None:
        return None
    return {
        "applicability": fix.applicability,
        "edits": [
            {
                "content": edit.content,
                "end_location": {"column": edit.end_column, "row": edit.end_row},
                "location": {"column": edit.column, "row": edit.row},
            }
            for edit in fix.edits
        ],
        "message": fix.message,
    }


def render_json(diagnostics: list[Diagnostic], stream: TextIO) -> None:
    """A pretty-printed array of :func:`diagnostic_record` objects, keys sorted."""
    records = [diagnostic_record(d) for d in diagnostics]
    stream.write(json.dumps(records, indent=2, sort_keys=True) + "\n")
