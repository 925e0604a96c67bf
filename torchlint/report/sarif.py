"""The ``sarif`` format: SARIF 2.1.0, for GitHub code scanning and other viewers.

Paths are written relative to the working directory with ``uriBaseId``
``%SRCROOT%`` (and ``originalUriBaseIds`` saying where that is), so that code
scanning can match them to the files of the checkout.  Columns count Unicode
code points, as the engine does (``columnKind: unicodeCodePoints``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TextIO

import torchlint
from torchlint.diagnostics import DOCS_BASE_URL, ENGINE_CODE_NAMES
from torchlint.report import printable

if TYPE_CHECKING:
    from torchlint.diagnostics import Diagnostic

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://torchlint.readthedocs.io/"
SOURCE_ROOT_ID = "%SRCROOT%"

_LEVEL_OF_SEVERITY = {"error": "error", "warning": "warning", "info": "note"}

# Codes that the engine emits itself, described like rules: (summary, help).
_ENGINE_CODE_TEXTS = {
    "TL000": (
        "A file could not be read, decoded or parsed, so it was not checked.",
        "Fix the path, the file's encoding (UTF-8 or a PEP 263 declaration) or its syntax.",
    ),
    "TL0001": (
        "A file is larger than torchlint reads, so it was not checked.",
        "Exclude generated files, or split the module.",
    ),
    "TL0002": (
        "A file holds an expression nested too deeply to check, so it was not checked.",
        "Build long chains (`a + b + ...`) with sum() or a loop, or exclude generated files.",
    ),
    "TL0003": (
        "A file is valid Python that libcst cannot parse, so it was not checked.",
        "Please report the construct; rewriting it (e.g. removing a form feed) lets "
        "torchlint check the file.",
    ),
    "TL999": (
        "A rule crashed on this file, or checking it killed its worker process.",
        "Please report this with the file (or a reduced copy) that triggers it.",
    ),
}
ENGINE_CODES = {
    code: (ENGINE_CODE_NAMES[code], summary, hint)
    for code, (summary, hint) in _ENGINE_CODE_TEXTS.items()
}


def rule_descriptors() -> list[dict[str, Any]]:
    """``reportingDescriptor`` objects for every registered rule and engine code."""
    from torchlint.registry import all_rules

    descriptors = []
    for rule in all_rules():
        sections = rule.doc_sections()
        descriptors.append(
            _descriptor(
                code=rule.code,
                name=rule.name,
                summary=rule.summary,
                full=sections.get("What it does") or rule.summary,
                help_text=rule.fix_hint or rule.summary,
                help_markdown=rule.documentation() or rule.summary,
                enabled=rule.default_enabled,
            )
        )
    for code, (name, summary, hint) in ENGINE_CODES.items():
        descriptors.append(
            _descriptor(code, name, summary, summary, hint, f"{summary}\n\n{hint}", True)
        )
    return descriptors


def _descriptor(
    code: str,
    name: str,
    summary: str,
    full: str,
    help_text: str,
    help_markdown: str,
    enabled: bool,
) -> dict[str, Any]:
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": summary or name},
        "fullDescription": {"text": full or summary or name},
        "help": {"text": help_text or name, "markdown": help_markdown or name},
        "helpUri": f"{DOCS_BASE_URL}/{code}.html",
        "defaultConfiguration": {"enabled": enabled, "level": "error"},
    }


def artifact_location(path: str) -> dict[str, str]:
    """Where a file is: relative to ``%SRCROOT%`` when it lies under the working directory."""
    from urllib.parse import quote

    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    relative = os.path.relpath(absolute, cwd) if _is_under(absolute, cwd) else None
    if relative is not None:
        # A name that is not valid UTF-8 keeps its original bytes, percent-encoded.
        uri = quote(relative.replace(os.sep, "/"), errors="surrogateescape")
        return {"uri": uri, "uriBaseId": SOURCE_ROOT_ID}
    return {"uri": _file_uri(absolute)}


def _is_under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _file_uri(absolute: str) -> str:
    from urllib.parse import quote

    posix = absolute.replace(os.sep, "/")
    if not posix.startswith("/"):
        posix = "/" + posix  # a Windows drive: file:///C:/...
    return "file://" + quote(posix, safe="/:", errors="surrogateescape")


def sarif_log(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The whole SARIF log of a run as a JSON-ready dict."""
    rules = rule_descriptors()
    index_of = {rule["id"]: index for index, rule in enumerate(rules)}
    for diagnostic in diagnostics:
        if diagnostic.code not in index_of:
            # A diagnostic of a rule outside the registry (a plugin, a test rule).
            index_of[diagnostic.code] = len(rules)
            rules.append(
                _descriptor(
                    diagnostic.code,
                    diagnostic.name,
                    diagnostic.message,
                    diagnostic.message,
                    diagnostic.fix_hint or diagnostic.message,
                    diagnostic.fix_hint or diagnostic.message,
                    True,
                )
            )
    results = [_result(d, index_of[d.code]) for d in diagnostics]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "torchlint",
                        "version": torchlint.__version__,
                        "semanticVersion": torchlint.__version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {
                    SOURCE_ROOT_ID: {"uri": _file_uri(os.getcwd()).rstrip("/") + "/"}
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _fixes(diagnostic: Diagnostic) -> list[dict[str, Any]]:
    """SARIF ``fix`` objects: each edit a replacement of a region of the file."""
    fix = diagnostic.fix
    if fix is None:
        return []
    return [
        {
            "description": {"text": fix.message},
            "artifactChanges": [
                {
                    "artifactLocation": artifact_location(diagnostic.path),
                    "replacements": [
                        {
                            "deletedRegion": {
                                "startLine": edit.row,
                                "startColumn": edit.column,
                                "endLine": edit.end_row,
                                "endColumn": edit.end_column,
                            },
                            "insertedContent": {"text": edit.content},
                        }
                        for edit in fix.edits
                    ],
                }
            ],
            "properties": {"applicability": fix.applicability},
        }
    ]


def _result(diagnostic: Diagnostic, rule_index: int) -> dict[str, Any]:
    d = diagnostic
    row, column, end_row, end_column = d.file_span or (d.row, d.column, d.end_row, d.end_column)
    result = {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": _LEVEL_OF_SEVERITY.get(d.severity, "error"),
        "message": {"text": printable(d.message)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_location(d.path),
                    "region": {
                        "startLine": row,
                        "startColumn": column,
                        "endLine": max(end_row, row),
                        "endColumn": max(end_column, 1),
                    },
                }
            }
        ],
    }
    if d.cell is not None:
        # The region is in the notebook file's JSON text, which is what code
        # scanning shows; the message and the property bag name the cell.
        result["message"] = {"text": f"cell {d.cell}, line {d.row}: {d.message}"}
        result["properties"] = {
            "cell": d.cell,
            "cellStartLine": d.row,
            "cellStartColumn": d.column,
            "cellEndLine": d.end_row,
            "cellEndColumn": d.end_column,
        }
    fixes = _fixes(d)
    if fixes:
        result["fixes"] = fixes
    return result


def render_sarif(diagnostics: list[Diagnostic], stream: TextIO) -> None:
    """The SARIF log, pretty-printed."""
    stream.write(json.dumps(sarif_log(diagnostics), indent=2) + "\n")
