"""`torchlint server`: driven over stdio by pygls's LSP client, and its edits one by one."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from torchlint.diagnostics import Diagnostic
from torchlint.server import (
    ConfigurationProblem,
    Edit,
    check_document,
    noqa_edit,
    safe_fix_edits,
)

BUGGY = """\
import torch


def train(model, loader, optimizer):
    for epoch in range(10):
        for x, y in loader:
            loss = model(x, y)
            loss.backward()
            optimizer.step()
            for g in optimizer.param_groups:
                g["lr"] *= 0.1
            optimizer.zero_grad()
"""
BUGGY_ROW, BUGGY_COLUMN = 11, 17  # `g["lr"] *= 0.1`

TIMEOUT = 60


def apply_edits(text: str, edits) -> str:
    """Apply LSP text edits (ASCII text: UTF-16 units are characters), last first."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position) -> int:
        return offsets[position.line] + position.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        start, end = offset(edit.range.start), offset(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text


def apply(text: str, edit: Edit) -> str:
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: edit.start[0]]) + edit.start[1]
    end = sum(len(line) for line in lines[: edit.end[0]]) + edit.end[1]
    return text[:start] + edit.new_text + text[end:]


def finding(source: str, path: Path) -> Diagnostic:
    (found,) = check_document(source, str(path))
    return found


# -- checking a document with its configuration ---------------------------------------


def test_check_document_reads_the_nearest_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nignore = ["TL004"]\n')
    (tmp_path / "strict").mkdir()
    (tmp_path / "strict" / "pyproject.toml").write_text('[tool.torchlint]\nselect = ["TL"]\n')
    assert check_document(BUGGY, str(tmp_path / "train.py")) == []
    found = check_document(BUGGY, str(tmp_path / "strict" / "train.py"))
    assert [(d.code, d.row, d.column) for d in found] == [("TL004", BUGGY_ROW, BUGGY_COLUMN)]


def test_check_document_honours_excludes_and_per_file_ignores(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.torchlint]\nextend-exclude = ["legacy"]\n'
        '[tool.torchlint.per-file-ignores]\n"scripts/*" = ["TL004"]\n'
    )
    assert check_document(BUGGY, str(tmp_path / "legacy" / "train.py")) == []
    assert check_document(BUGGY, str(tmp_path / "scripts" / "train.py")) == []
    assert len(check_document(BUGGY, str(tmp_path / "src" / "train.py"))) == 1


def test_check_document_reports_a_bad_configuration(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nselect = ["TL9"]\n')
    with pytest.raises(ConfigurationProblem, match="TL9"):
        check_document(BUGGY, str(tmp_path / "train.py"))


def test_unsaved_buffer_uses_the_default_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nignore = ["TL004"]\n')
    assert check_document(BUGGY, None, str(tmp_path)) == []


# -- the noqa edit and the safe-fix hook ------------------------------------------------


def test_noqa_edit_silences_the_finding(tmp_path):
    path = tmp_path / "train.py"
    found = finding(BUGGY, path)
    edit = noqa_edit(found, BUGGY)
    fixed = apply(BUGGY, edit)
    assert fixed.splitlines()[BUGGY_ROW - 1] == '                g["lr"] *= 0.1  # noqa: TL004'
    assert check_document(fixed, str(path)) == []


def test_noqa_edit_extends_an_existing_code_list(tmp_path):
    path = tmp_path / "train.py"
    source = BUGGY.replace("*= 0.1\n", "*= 0.1  # noqa: TL001  (kept)\n")
    fixed = apply(source, noqa_edit(finding(source, path), source))
    assert fixed.splitlines()[BUGGY_ROW - 1].endswith("# noqa: TL001, TL004  (kept)")
    assert check_document(fixed, str(path)) == []


def test_noqa_edit_skips_lines_that_end_inside_a_string(tmp_path):
    path = tmp_path / "train.py"
    source = BUGGY.replace('g["lr"] *= 0.1', 'g["lr"] *= float("""0.1\n""")')
    found = finding(source, path)
    assert found.end_row == found.row + 1
    fixed = apply(source, noqa_edit(found, source))
    assert fixed.splitlines()[found.row] == '""")  # noqa: TL004'
    assert check_document(fixed, str(path)) == []


def test_no_noqa_edit_for_engine_findings_or_bare_noqa(tmp_path):
    syntax_error = check_document("def f(:\n", str(tmp_path / "bad.py"))
    assert syntax_error[0].code == "TL000"
    assert noqa_edit(syntax_error[0], "def f(:\n") is None
    source = BUGGY.replace("*= 0.1\n", "*= 0.1  # noqa:TL001\n")
    found = finding(source, tmp_path / "train.py")
    bare = source.replace("# noqa:TL001", "# noqa")
    assert noqa_edit(found, bare) is None


DROPOUT = """\
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        return F.dropout(self.proj(x), p=0.1)
"""


def test_safe_fix_becomes_editor_edits(tmp_path):
    assert safe_fix_edits(finding(BUGGY, tmp_path / "train.py"), BUGGY) == []
    dropout = finding(DROPOUT, tmp_path / "head.py")
    assert dropout.code == "TL008"
    edits = safe_fix_edits(dropout, DROPOUT)
    assert edits
    lines = DROPOUT.splitlines(keepends=True)
    # Apply the edits (last first) and the dropout follows model.eval().
    text = DROPOUT
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        start = offsets[edit.start[0]] + edit.start[1]
        end = offsets[edit.end[0]] + edit.end[1]
        text = text[:start] + edit.new_text + text[end:]
    assert "F.dropout(self.proj(x), p=0.1, training=self.training)" in text


# -- over stdio, with pygls's client ---------------------------------------------------


class Session:
    """A server process driven by a real LSP client, and what it published."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = LanguageClient("torchlint-tests", "1")
        self.published: asyncio.Queue = asyncio.Queue()
        self.messages: asyncio.Queue = asyncio.Queue()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published.put_nowait(params)

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: types.ShowMessageParams) -> None:
            self.messages.put_nowait(params)

    async def start(self) -> types.InitializeResult:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        await self.client.start_io(
            sys.executable, "-m", "torchlint", "server", cwd=str(self.root), env=env
        )
        result = await asyncio.wait_for(
            self.client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(),
                    root_uri=self.root.as_uri(),
                    process_id=os.getpid(),
                )
            ),
            TIMEOUT,
        )
        self.client.initialized(types.InitializedParams())
        return result

    async def diagnostics(self) -> types.PublishDiagnosticsParams:
        return await asyncio.wait_for(self.published.get(), TIMEOUT)

    async def stop(self) -> None:
        await asyncio.wait_for(self.client.shutdown_async(None), TIMEOUT)
        self.client.exit(None)
        await asyncio.wait_for(self.client.stop(), TIMEOUT)


def run_session(root: Path, scenario) -> None:
    async def main() -> None:
        session = Session(root)
        await session.start()
        try:
            await scenario(session)
        finally:
            await session.stop()

    asyncio.run(main())


def open_document(session: Session, path: Path, text: str, version: int = 1) -> None:
    session.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=path.as_uri(), language_id="python", version=version, text=text
            )
        )
    )


def test_server_initializes_and_publishes_on_open(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(BUGGY)

    async def scenario(session: Session) -> None:
        open_document(session, path, BUGGY)
        published = await session.diagnostics()
        assert published.uri == path.as_uri()
        (diagnostic,) = published.diagnostics
        assert diagnostic.code == "TL004"
        assert diagnostic.source == "torchlint"
        assert diagnostic.message.startswith('[lr-decay-per-batch] `g["lr"] *= 0.1`')
        assert diagnostic.code_description.href.endswith("/rules/TL004.html")
        assert diagnostic.severity == types.DiagnosticSeverity.Error
        start = diagnostic.range.start
        assert (start.line, start.character) == (BUGGY_ROW - 1, BUGGY_COLUMN - 1)

    run_session(tmp_path, scenario)


def test_initialize_advertises_sync_save_and_quick_fixes(tmp_path):
    async def main() -> None:
        session = Session(tmp_path)
        result = await session.start()
        try:
            capabilities = result.capabilities
            assert result.server_info.name == "torchlint"
            sync = capabilities.text_document_sync
            assert sync.open_close and sync.change == types.TextDocumentSyncKind.Incremental
            assert sync.save is not None
            assert types.CodeActionKind.QuickFix in (
                capabilities.code_action_provider.code_action_kinds
            )
        finally:
            await session.stop()

    asyncio.run(main())


def test_noqa_code_action_change_save_and_close(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(BUGGY)

    async def scenario(session: Session) -> None:
        client = session.client
        open_document(session, path, BUGGY)
        (diagnostic,) = (await session.diagnostics()).diagnostics

        actions = await asyncio.wait_for(
            client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
                    range=diagnostic.range,
                    context=types.CodeActionContext(diagnostics=[diagnostic]),
                )
            ),
            TIMEOUT,
        )
        # No rule has a safe fix yet: the only action is the suppression.
        assert [a.title for a in actions] == ["Suppress TL004 on this line (# noqa: TL004)"]
        (action,) = actions
        assert action.kind == types.CodeActionKind.QuickFix
        assert action.diagnostics[0].code == "TL004"
        edits = action.edit.changes[path.as_uri()]
        fixed = apply_edits(BUGGY, edits)
        assert fixed.splitlines()[BUGGY_ROW - 1].endswith("*= 0.1  # noqa: TL004")

        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
                    for e in edits
                ],
            )
        )
        after_change = await session.diagnostics()
        assert after_change.version == 2 and list(after_change.diagnostics) == []

        # Undo the suppression, then switch the rule off in the configuration
        # file: a save checks the document again with the new settings.
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=3),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=BUGGY)],
            )
        )
        assert len((await session.diagnostics()).diagnostics) == 1
        (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nignore = ["TL004"]\n')
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=path.as_uri())
            )
        )
        assert list((await session.diagnostics()).diagnostics) == []

        client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=path.as_uri())
            )
        )
        closed = await session.diagnostics()
        assert closed.uri == path.as_uri() and list(closed.diagnostics) == []

    run_session(tmp_path, scenario)


def test_bad_configuration_is_shown_to_the_user(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nselect = ["TL9"]\n')
    path = tmp_path / "train.py"

    async def scenario(session: Session) -> None:
        open_document(session, path, BUGGY)
        message = await asyncio.wait_for(session.messages.get(), TIMEOUT)
        assert message.type == types.MessageType.Error
        assert "TL9" in message.message
        assert list((await session.diagnostics()).diagnostics) == []

    run_session(tmp_path, scenario)


def test_notebook_json_gets_findings_at_the_code(tmp_path):
    notebook = Path(__file__).parent / "data" / "notebooks" / "train_lr_decay.ipynb"
    text = notebook.read_text(encoding="utf-8")
    path = tmp_path / "train.ipynb"

    async def scenario(session: Session) -> None:
        open_document(session, path, text)
        (diagnostic,) = (await session.diagnostics()).diagnostics
        assert diagnostic.message.startswith("cell 5, line 9: [lr-decay-per-batch]")
        line = text.splitlines()[diagnostic.range.start.line]
        flagged = line[diagnostic.range.start.character : diagnostic.range.end.character]
        assert flagged == 'group[\\"lr\\"] *= 0.1'

    run_session(tmp_path, scenario)


# -- the command line stays light --------------------------------------------------------


def test_check_does_not_import_pygls(tmp_path):
    (tmp_path / "train.py").write_text(BUGGY)
    code = (
        "import sys\n"
        "from torchlint.cli import main\n"
        "try:\n"
        "    main(['check', '--no-cache', 'train.py'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pygls', 'lsprotocol') or m == 'torchlint.server')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
    assert "TL004" in result.stdout


def test_server_command_is_listed():
    result = subprocess.run(
        [sys.executable, "-m", "torchlint", "server", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "language server" in result.stdout
