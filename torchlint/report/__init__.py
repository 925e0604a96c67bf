"""Writing diagnostics out: ``concise``, ``full``, ``json``, ``sarif``, ``github``.

Every format writes to the stream it is given and nothing else.  The two
human formats end with a summary line (``Found 3 errors.`` or ``All checks
passed!``) on the same stream, as ruff does on stdout; the machine formats
(``json``, ``sarif``, ``github``) print only their document, so their output
can be piped or redirected to a file as is.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from torchlint.diagnostics import Diagnostic

FORMATS = ("concise", "full", "json", "sarif", "github")

# Reads the text of a file for the `full` format's snippets; None if unreadable.
SourceReader = Callable[[str], "str | None"]


def render(
    diagnostics: list[Diagnostic],
    output_format: str,
    stream: TextIO,
    *,
    show_source: SourceReader | None = None,
) -> None:
    """Write ``diagnostics`` to ``stream`` in ``output_format`` (one of :data:`FORMATS`).

    ``diagnostics`` are written in the order given (the engine sorts them).
    ``show_source`` is used by ``full`` to get a file's text from its display
    path; by default the file is read from disk, once per file.  Raises
    ``ValueError`` for an unknown format.
    """
    if output_format == "concise":
        from torchlint.report.text import render_concise

        render_concise(diagnostics, stream)
    elif output_format == "full":
        from torchlint.report.text import render_full

        render_full(diagnostics, stream, show_source)
    elif output_format == "json":
        from torchlint.report.json_report import render_json

        render_json(diagnostics, stream)
    elif output_format == "sarif":
        from torchlint.report.sarif import render_sarif

        render_sarif(diagnostics, stream)
    elif output_format == "github":
        from torchlint.report.github import render_github

        render_github(diagnostics, stream)
    else:
        raise ValueError(
            f"unknown output format {output_format!r}; expected one of {', '.join(FORMATS)}"
        )


def statistics(diagnostics: list[Diagnostic]) -> str:
    """A table of how often each code occurs, most frequent first (``--statistics``).

    One line per code: the count right-aligned, the code and the rule name,
    separated by tabs like ruff's; an empty string when there is nothing.
    """
    counts = Counter(d.code for d in diagnostics)
    if not counts:
        return ""
    names = {d.code: d.name for d in diagnostics}
    width = len(str(max(counts.values())))
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "".join(f"{count:>{width}}\t{code}\t[{names[code]}]\n" for code, count in ordered)


def summary_line(count: int) -> str:
    """``Found N error(s).`` or ``All checks passed!``, as ruff words it."""
    if count == 0:
        return "All checks passed!"
    return f"Found {count} error{'' if count == 1 else 's'}."


__all__ = ["FORMATS", "render", "statistics", "summary_line"]
