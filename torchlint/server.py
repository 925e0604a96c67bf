"""``torchlint server``: the Language Server Protocol over stdio, for editors.

Built on pygls (``pip install "torchlint[server]"``); the command line
imports this module only for ``torchlint server``, so ``torchlint check``
never pays for pygls.

What the server does:

- publishes the findings of a document when it is opened, changed and
  saved (and clears them when it is closed), each with the rule's code, its
  name and a link to the rule's page (``codeDescription.href``);
- reads the configuration of each document from the nearest
  ``pyproject.toml`` (or ``torchlint.toml``) above it, again at every check,
  so an edited configuration counts from the next change or save; a file
  the configuration excludes gets no findings, as with ``--force-exclude``;
- offers code actions for a finding: the rule's safe fix, when it has one
  (:func:`safe_fix_edits`, empty today: no rule has a fix yet), and
  ``# noqa: TLxxx`` on the finding's line (:func:`noqa_edit`).

A notebook opened as a file (its JSON text) gets its findings at the code's
place in that text; editors that open notebooks as notebooks (VS Code's
notebook editor) are not served.
"""

from __future__ import annotations

import io
import os
import tokenize
from dataclasses import dataclass

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from torchlint import __version__
from torchlint.diagnostics import FILE_ERROR_CODE, INTERNAL_ERROR_CODE, Diagnostic

# The engine's own reading of a noqa comment, so the action extends what it honours.
from torchlint.suppression import _LINE_NOQA

SOURCE = "torchlint"
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}
# Codes the engine emits itself: no rule page, and no noqa comment silences them.
_ENGINE_CODES = (FILE_ERROR_CODE, INTERNAL_ERROR_CODE)


# -- checking a document ------------------------------------------------------------


class ConfigurationProblem(Exception):
    """The configuration of a document could not be read; the message says why."""


def check_document(
    source: str, path: str | None, default_root: str | None = None
) -> list[Diagnostic]:
    """The findings of a document's text, with the settings of its nearest config file.

    ``path`` is the document's file (None for an unsaved buffer, which is
    checked with the settings of ``default_root``, or of the working
    directory).  Raises :class:`ConfigurationProblem` for a bad
    configuration.
    """
    from torchlint.config import ConfigError, load_settings
    from torchlint.discovery import is_excluded, is_per_file_ignored
    from torchlint.engine import RuleSelection, check_bytes, check_source
    from torchlint.registry import rule_entries, rule_index

    anchor = path or default_root or os.getcwd()
    try:
        settings = load_settings([anchor], None, {})
    except ConfigError as exc:
        raise ConfigurationProblem(str(exc)) from None
    if path is not None and is_excluded(path, settings):
        return []
    codes = settings.enabled_codes(rule_index())
    options = {code: settings.rule_options.get(code, {}) for code in codes}
    selection = RuleSelection(rule_entries(codes), options)
    display = path or "untitled.py"
    if display.lower().endswith(".ipynb"):
        diagnostics = check_bytes(source.encode("utf-8"), display, selection)
    else:
        diagnostics = check_source(source, display, selection)
    return [
        d
        for d in diagnostics
        if d.is_internal_error or not is_per_file_ignored(display, d.code, settings)
    ]


# -- edits --------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace the text between two (0-based line, code point) positions."""

    start: tuple[int, int]
    end: tuple[int, int]
    new_text: str


def safe_fix_edits(diagnostic: Diagnostic, source: str) -> list[Edit]:
    """The edits of the safe fix that comes with ``diagnostic`` (none when it has none).

    Every code action that fixes a finding goes through here: it turns the
    finding's fix (1-based rows and columns, end exclusive, as ``--fix``
    applies it) into editor edits.  Unsafe fixes are not offered, as
    ``--fix`` does not apply them by default; findings in notebooks get none
    (their positions are cell positions, not positions in the open text).
    """
    del source
    fix = diagnostic.fix
    if fix is None or not fix.is_safe or diagnostic.cell is not None:
        return []
    return [
        Edit(
            start=(edit.row - 1, edit.column - 1),
            end=(edit.end_row - 1, edit.end_column - 1),
            new_text=edit.content,
        )
        for edit in fix.edits
    ]


def noqa_edit(diagnostic: Diagnostic, source: str) -> Edit | None:
    """The edit that adds ``# noqa: CODE`` where it silences ``diagnostic``; None if none can.

    The comment goes at the end of the first line of the finding whose end
    is not inside a string or a backslash continuation (the engine honours
    a ``noqa`` on any line of the finding).  A line that already has
    ``# noqa: CODES`` gets the code added to the list.  Findings the engine
    reports itself (``TL000``, ``TL999``) and findings in notebooks get none.
    """
    if diagnostic.code in _ENGINE_CODES or diagnostic.cell is not None:
        return None
    lines = source.splitlines(keepends=True)
    comments, line_ends = _comments_and_line_ends(source)
    if line_ends is None:
        return None
    for row in range(diagnostic.row, diagnostic.end_row + 1):
        if row not in line_ends or row > len(lines):
            continue
        comment = comments.get(row)
        if comment is not None:
            column, text = comment
            match = _LINE_NOQA.search(text)
            if match is not None:
                if not match.group("codes"):
                    return None  # a bare noqa comment already silences every code
                at = column + match.end("codes")
                return Edit((row - 1, at), (row - 1, at), f", {diagnostic.code}")
        line = lines[row - 1].rstrip("\r\n")
        code_end = len(line.rstrip())
        return Edit((row - 1, code_end), (row - 1, len(line)), f"  # noqa: {diagnostic.code}")
    return None


def _comments_and_line_ends(source: str):
    """Comments by row, and the rows whose end is outside strings and continuations."""
    comments: dict[int, tuple[int, str]] = {}
    line_ends: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = (token.start[1], token.string)
            elif token.type in (tokenize.NEWLINE, tokenize.NL):
                line_ends.add(token.start[0])
    except (tokenize.TokenError, SyntaxError):
        return comments, None
    return comments, line_ends


# -- the server ---------------------------------------------------------------------


class TorchlintServer(LanguageServer):
    """A language server that publishes torchlint's findings and offers code actions."""

    def __init__(self) -> None:
        super().__init__(
            SOURCE, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
        )
        self._shown_problems: set[str] = set()

    def findings(self, document: TextDocument) -> list[Diagnostic]:
        """The findings of an open document; a configuration problem is shown once."""
        try:
            found = check_document(document.source, document.path, self.workspace.root_path)
        except ConfigurationProblem as exc:
            message = f"torchlint: {exc}"
            if message not in self._shown_problems:
                self._shown_problems.add(message)
                self.window_show_message(
                    types.ShowMessageParams(type=types.MessageType.Error, message=message)
                )
            return []
        self._shown_problems.clear()
        return found

    def publish(self, uri: str) -> None:
        """Check the document at ``uri`` and publish its findings."""
        document = self.workspace.get_text_document(uri)
        diagnostics = [lsp_diagnostic(d, document) for d in self.findings(document)]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics, version=document.version
            )
        )

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        """Fix and ``# noqa`` actions for the findings that touch the requested range."""
        document = self.workspace.get_text_document(params.text_document.uri)
        wanted = document.range_from_client_units(params.range)
        actions: list[types.CodeAction] = []
        fixes: list[types.CodeAction] = []
        for finding in self.findings(document):
            found_range = _server_range(finding, document)
            if not found_range.overlaps(wanted):
                continue
            reported = lsp_diagnostic(finding, document)
            edits = safe_fix_edits(finding, document.source)
            if edits:
                fixes.append(
                    _action(
                        f"Fix {finding.code}: {finding.fix_hint or finding.name}",
                        params.text_document.uri,
                        document,
                        edits,
                        reported,
                        preferred=True,
                    )
                )
            noqa = noqa_edit(finding, document.source)
            if noqa is not None:
                actions.append(
                    _action(
                        f"Suppress {finding.code} on this line (# noqa: {finding.code})",
                        params.text_document.uri,
                        document,
                        [noqa],
                        reported,
                    )
                )
        return fixes + actions


def lsp_diagnostic(diagnostic: Diagnostic, document: TextDocument) -> types.Diagnostic:
    """A finding as an LSP diagnostic: code, ``[name] message``, link to the rule's page."""
    d = diagnostic
    message = f"[{d.name}] {d.message}"
    if d.cell is not None:
        message = f"cell {d.cell}, line {d.row}: {message}"
    return types.Diagnostic(
        range=document.range_to_client_units(_server_range(d, document)),
        message=message,
        severity=_SEVERITY.get(d.severity, types.DiagnosticSeverity.Error),
        code=d.code,
        code_description=None if d.code in _ENGINE_CODES else types.CodeDescription(href=d.url),
        source=SOURCE,
        data={"name": d.name},
    )


def _server_range(diagnostic: Diagnostic, document: TextDocument) -> ServerTextRange:
    d = diagnostic
    row, column, end_row, end_column = d.file_span or (d.row, d.column, d.end_row, d.end_column)
    last = max(len(document.lines) - 1, 0)
    start = ServerTextPosition(min(row - 1, last), column - 1)
    end = ServerTextPosition(min(end_row - 1, last), end_column - 1)
    return ServerTextRange(start, max(start, end))


def _action(
    title: str,
    uri: str,
    document: TextDocument,
    edits: list[Edit],
    diagnostic: types.Diagnostic,
    *,
    preferred: bool = False,
) -> types.CodeAction:
    text_edits = [
        types.TextEdit(
            range=document.range_to_client_units(
                ServerTextRange(ServerTextPosition(*edit.start), ServerTextPosition(*edit.end))
            ),
            new_text=edit.new_text,
        )
        for edit in edits
    ]
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=types.WorkspaceEdit(changes={uri: text_edits}),
        is_preferred=preferred or None,
    )


def create_server() -> TorchlintServer:
    """A server with its features registered (not started)."""
    server = TorchlintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TorchlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TorchlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: TorchlintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TorchlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: TorchlintServer, params: types.CodeActionParams):
        return ls.code_actions(params)

    return server


def serve() -> None:
    """Run the server on standard input and output until the editor shuts it down."""
    create_server().start_io()


__all__ = [
    "ConfigurationProblem",
    "Edit",
    "TorchlintServer",
    "check_document",
    "create_server",
    "noqa_edit",
    "safe_fix_edits",
    "serve",
]
