"""Writing diagnostics out: ``concise``, ``full``, ``json``, ``sarif``, ``github``.

Every format writes to the stream it is given and nothing else.  The two
human formats end with a summary line (``Found 3 errors.`` or ``All checks
passed!``) on the same stream, as ruff does on stdout; the machine formats
(``json``, ``sarif``, ``github``) print only their document, so their output
can be piped or redirected to a file as is.
"""

from __future__ import annotations

import dataclasses
import io
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
    fixed: int | None = None,
    unsafe_fixes: bool = False,
) -> None:
    """Write ``diagnostics`` to ``stream`` in ``output_format`` (one of :data:`FORMATS`).

    ``diagnostics`` are written in the order given (the engine sorts them).
    ``show_source`` is used by ``full`` to get a file's text from its display
    path; by default the file is read from disk, once per file.  The human
    formats mark findings that ``--fix`` would fix (``unsafe_fixes``: also
    the unsafe ones) with ``[*]``; ``fixed`` is how many ``--fix`` fixed
    (None when it did not run).  Raises ``ValueError`` for an unknown format.

    A path that is not valid UTF-8 (a file name with a stray byte) is written
    with replacement characters, as ruff does: every format prints, and
    ``sarif`` percent-encodes the original bytes in its URIs.
    """
    if output_format != "sarif":
        originals = {}
        shown = []
        for diagnostic in diagnostics:
            printable_diagnostic = _printable_diagnostic(diagnostic)
            originals[printable_diagnostic.path] = diagnostic.path
            shown.append(printable_diagnostic)
        if any(d is not o for d, o in zip(shown, diagnostics)):
            reader = show_source
            if output_format == "full":

                def show_source(path: str) -> str | None:
                    original = originals.get(path, path)
                    if reader is not None:
                        return reader(original)
                    from torchlint.report.text import read_source

                    return read_source(original)

            diagnostics = shown
    fixes = {"fixed": fixed, "unsafe_fixes": unsafe_fixes}
    if output_format == "concise":
        from torchlint.report.text import render_concise

        render_concise(diagnostics, stream, **fixes)
    elif output_format == "full":
        from torchlint.report.text import render_full

        render_full(diagnostics, stream, show_source, **fixes)
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


def render_to_stream(
    diagnostics: list[Diagnostic],
    output_format: str,
    stream: TextIO,
    *,
    fixed: int | None = None,
    unsafe_fixes: bool = False,
) -> None:
    """:func:`render` (or ``"statistics"``) to a console stream that may not take every character.

    The report is built first, then written in the stream's encoding with
    ``?`` for what it cannot encode (a ``λ`` in a path on a cp1252 console),
    so that nothing is lost but those characters.
    """
    buffer = io.StringIO()
    if output_format == "statistics":
        buffer.write(statistics([_printable_diagnostic(d) for d in diagnostics]))
    else:
        render(diagnostics, output_format, buffer, fixed=fixed, unsafe_fixes=unsafe_fixes)
    text = buffer.getvalue()
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.encode(encoding, "replace").decode(encoding)
    except LookupError:
        pass
    stream.write(text)
    stream.flush()


def printable(text: str) -> str:
    """``text`` with each byte that was not valid UTF-8 (a surrogate escape) as U+FFFD."""
    if text.isascii():
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        # A surrogate that no decoder wrote: replace it as well.
        return text.encode("utf-8", "replace").decode("utf-8")


def _printable_diagnostic(diagnostic: Diagnostic) -> Diagnostic:
    changes = {
        name: printable(getattr(diagnostic, name))
        for name in ("path", "message", "fix_hint")
        if printable(getattr(diagnostic, name)) != getattr(diagnostic, name)
    }
    return dataclasses.replace(diagnostic, **changes) if changes else diagnostic


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


def summary_line(count: int, fixed: int | None = None) -> str:
    """``Found N error(s).`` or ``All checks passed!``, as ruff words it.

    After ``--fix`` (``fixed`` not None) and when something was fixed:
    ``Found 3 errors (2 fixed, 1 remaining).``
    """
    if fixed:
        total = count + fixed
        return f"Found {total} error{'' if total == 1 else 's'} ({fixed} fixed, {count} remaining)."
    if count == 0:
        return "All checks passed!"
    return f"Found {count} error{'' if count == 1 else 's'}."


def fixable_line(diagnostics: list[Diagnostic], unsafe_fixes: bool = False) -> str:
    """``[*] 2 fixable with the `--fix` option.`` (and the unsafe ones), or ``""``."""
    safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.is_safe)
    unsafe = sum(1 for d in diagnostics if d.fix is not None and not d.fix.is_safe)
    if unsafe_fixes:
        safe, unsafe = safe + unsafe, 0
        option = "`--fix --unsafe-fixes`"
    else:
        option = "`--fix`"
    if not safe and not unsafe:
        return ""
    if not safe:
        return (
            f"No fixes available ({unsafe} hidden fix{'' if unsafe == 1 else 'es'} can be "
            "enabled with the `--unsafe-fixes` option)."
        )
    line = f"[*] {safe} fixable with the {option} option"
    if unsafe:
        line += (
            f" ({unsafe} hidden fix{'' if unsafe == 1 else 'es'} can be enabled with the "
            "`--unsafe-fixes` option)"
        )
    return line + "."


__all__ = [
    "FORMATS",
    "fixable_line",
    "printable",
    "render",
    "render_to_stream",
    "statistics",
    "summary_line",
]
