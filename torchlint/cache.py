"""The result cache in ``.torchlint_cache/``: an unchanged file costs a stat.

Two layers, both keyed under the tool version and the fingerprint of the
settings that decide findings (enabled rules and their options):

* content entries, ``<hash[:2]>/<sha256 of the bytes>.json``: the findings of
  any file with exactly these bytes, wherever it lives;
* a stat index, ``index.json``: path -> (mtime_ns, size, hash, findings), so
  a warm run over an unchanged tree reads no source file at all.

Every write goes to a temporary file first and is renamed into place, so
concurrent runs never see half a file; a corrupt or unreadable entry is a
cache miss, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from torchlint import __version__
from torchlint.diagnostics import Diagnostic

# The layout of a cached finding; bumped when it changes (1: findings carry their
# fixes), so entries written before never answer for findings they lack.
CACHE_FORMAT = 1


def content_hash(data: bytes, path: str = "") -> str:
    """The key of a file's content.

    A notebook's bytes are read differently from a Python file's (the same
    bytes, say an empty file, give other findings), so its key differs.
    """
    if path.lower().endswith(".ipynb"):
        return hashlib.sha256(b"ipynb\0" + data).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def strip_path(diagnostics: list[Diagnostic]) -> list[dict]:
    """Findings as cacheable rows (the path is added back on load)."""
    rows = []
    for diagnostic in diagnostics:
        row = diagnostic.to_dict()
        del row["path"]
        rows.append(row)
    return rows


def with_path(rows: list[dict], path: str) -> list[Diagnostic]:
    """Cached rows as diagnostics of ``path``."""
    return [Diagnostic.from_dict({**row, "path": path}) for row in rows]


class Cache:
    """Findings of previously checked files, for one settings fingerprint."""

    def __init__(self, directory: Path, fingerprint: str, *, load_index: bool = True) -> None:
        self.base = Path(directory) / __version__ / f"{fingerprint}-{CACHE_FORMAT}"
        self._index_path = self.base / "index.json"
        self._index: dict[str, list] = {}
        self._dirty = False
        if not load_index:
            # A pool worker: it only reads and writes content entries.
            return
        self._ensure_gitignore(Path(directory))
        try:
            loaded = json.loads(self._index_path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._index = loaded
        except (OSError, ValueError):
            self._index = {}

    @staticmethod
    def _ensure_gitignore(directory: Path) -> None:
        # Like .ruff_cache: the cache never shows up in `git status`.
        marker = directory / ".gitignore"
        if not marker.exists():
            with contextlib.suppress(OSError):
                _atomic_write(marker, "# Automatically created by torchlint.\n*\n")

    # -- stat index -----------------------------------------------------------

    def lookup_stat(self, real_path: str, display_path: str) -> list[Diagnostic] | None:
        """Findings for a file whose size and mtime are unchanged since last run."""
        entry = self._index.get(real_path)
        if not entry:
            return None
        try:
            stat = os.stat(real_path)
            mtime_ns, size, _hash, rows = entry
            if stat.st_mtime_ns != mtime_ns or stat.st_size != size:
                return None
            return with_path(rows, display_path)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def remember(self, real_path: str, stat_key: tuple[int, int] | None, digest: str, rows) -> None:
        """Record a checked file in the stat index (saved by :meth:`save`)."""
        if stat_key is None:
            return
        self._index[real_path] = [stat_key[0], stat_key[1], digest, rows]
        self._dirty = True

    def save(self) -> None:
        """Write the stat index; losing a race with another run only costs a re-check."""
        if not self._dirty:
            return
        with contextlib.suppress(OSError):
            _atomic_write(self._index_path, json.dumps(self._index, separators=(",", ":")))

    # -- content entries --------------------------------------------------------

    def _entry_path(self, digest: str) -> Path:
        return self.base / digest[:2] / f"{digest}.json"

    def load_entry(self, digest: str) -> list[dict] | None:
        """Findings (without path) stored for this content, if any and readable."""
        try:
            rows = json.loads(self._entry_path(digest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(rows, list):
            return None
        try:
            with_path(rows, "")
        except (TypeError, KeyError, AttributeError):
            return None
        return rows

    def store_entry(self, digest: str, rows: list[dict]) -> None:
        """Store the findings of this content; failures to write are ignored."""
        with contextlib.suppress(OSError):
            _atomic_write(self._entry_path(digest), json.dumps(rows))
