"""What a check produces: one diagnostic per finding, independent of output format."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Codes of diagnostics that the engine itself emits, not a rule.  The TL000
# family is for files that were not analysed: `TL000` (a prefix of the
# others) selects all of them in `per-file-ignores`.
FILE_ERROR_CODE = "TL000"  # a file that cannot be read, decoded or parsed as Python
FILE_TOO_LARGE_CODE = "TL0001"  # larger than the engine reads
TOO_DEEPLY_NESTED_CODE = "TL0002"  # valid Python nested beyond what the checker can take
UNSUPPORTED_SYNTAX_CODE = "TL0003"  # valid Python (CPython parses it) that libcst rejects
INTERNAL_ERROR_CODE = "TL999"  # a rule raised, or checking the file killed its worker

# name of each engine code, as rules have one
ENGINE_CODE_NAMES = {
    FILE_ERROR_CODE: "file-error",
    FILE_TOO_LARGE_CODE: "file-too-large",
    TOO_DEEPLY_NESTED_CODE: "too-deeply-nested",
    UNSUPPORTED_SYNTAX_CODE: "unsupported-syntax",
    INTERNAL_ERROR_CODE: "internal-error",
}

DOCS_BASE_URL = "https://torchlint.readthedocs.io/en/latest/rules"


@dataclass(frozen=True)
class Edit:
    """Replace the text from (``row``, ``column``) up to (``end_row``, ``end_column``).

    Positions are 1-based and count code points, like a diagnostic's; the end
    is exclusive.  ``content`` is the new text (empty to delete).
    """

    row: int
    column: int
    end_row: int
    end_column: int
    content: str


@dataclass(frozen=True)
class DiagnosticFix:
    """A fix offered with a finding: its edits, what it does, and whether it is safe."""

    applicability: str  # "safe" or "unsafe"
    message: str
    edits: tuple[Edit, ...]

    @property
    def is_safe(self) -> bool:
        return self.applicability == "safe"

    @classmethod
    def from_dict(cls, data: dict) -> DiagnosticFix:
        return cls(
            applicability=data["applicability"],
            message=data["message"],
            edits=tuple(Edit(**edit) for edit in data["edits"]),
        )


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where it is, which rule, and what it does to training.

    Rows and columns are 1-based, like ruff's; ``end_row``/``end_column``
    point just past the flagged code.  In a notebook, ``cell`` is the cell's
    number (1-based, counting every cell), the rows are lines of that cell,
    and ``file_span`` is ``(row, column, end_row, end_column)`` of the same
    code in the notebook file's JSON text, for viewers that show the file
    itself (SARIF, GitHub annotations).
    """

    path: str
    row: int
    column: int
    end_row: int
    end_column: int
    code: str
    name: str
    message: str
    severity: str = "error"
    fix_hint: str = ""
    cell: int | None = None
    file_span: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.file_span is not None and not isinstance(self.file_span, tuple):
            # Read back from JSON (the cache) as a list.
            object.__setattr__(self, "file_span", tuple(self.file_span))

    fix: DiagnosticFix | None = None

    @property
    def url(self) -> str:
        """Link to the rule's documentation page."""
        return f"{DOCS_BASE_URL}/{self.code}.html"

    @property
    def position(self) -> str:
        """``row:column``, or ``cell N:row:column`` in a notebook, as the text formats show it."""
        if self.cell is None:
            return f"{self.row}:{self.column}"
        return f"cell {self.cell}:{self.row}:{self.column}"

    @property
    def is_internal_error(self) -> bool:
        """True for a rule that crashed: such a run exits 2, not 1."""
        return self.code == INTERNAL_ERROR_CODE

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.row, self.column, self.code, self.message)

    def to_dict(self) -> dict:
        return asdict(self)

    def fix_applies(self, unsafe: bool = False) -> bool:
        """Whether ``--fix`` (with ``--unsafe-fixes`` when ``unsafe``) applies this fix."""
        return self.fix is not None and (unsafe or self.fix.is_safe)

    @classmethod
    def from_dict(cls, data: dict) -> Diagnostic:
        """The inverse of :meth:`to_dict`; raises ``TypeError``/``KeyError`` for other dicts."""
        fix = data.get("fix")
        if fix is not None:
            data = {**data, "fix": DiagnosticFix.from_dict(fix)}
        return cls(**data)
