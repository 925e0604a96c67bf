"""The effective settings of a run, after the config file and the command line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    ".venv",
    "venv",
    ".env",
    "env",
    "__pypackages__",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".torchlint_cache",
    ".ipynb_checkpoints",
    ".tox",
    ".nox",
    ".eggs",
    "*.egg-info",
    "build",
    "dist",
    "node_modules",
    "site-packages",
)


@dataclass
class Settings:
    """Everything a run needs to know, already validated.

    ``select``/``extend_select``/``ignore`` hold codes or prefixes
    (``TL``, ``TL0``, ``TL001``).  Glob patterns in ``exclude``,
    ``extend_exclude`` and ``per_file_ignores`` are matched against paths
    relative to ``root`` (the folder of the config file, or the working
    directory when there is none).
    """

    root: Path = field(default_factory=Path.cwd)
    config_path: Path | None = None
    select: list[str] = field(default_factory=lambda: ["TL"])
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    respect_gitignore: bool = True
    force_exclude: bool = False
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_dir: Path | None = None

    def enabled_codes(self, all_rules) -> list[str]:
        """Codes of the rules this run checks, as ruff selects them.

        A prefix (``TL``, ``TL0``) selects the default-on rules under it; a
        full code selects its rule even if it is off by default.  ``ignore``
        wins over ``select`` for a prefix of the same or shorter length.
        """
        chosen = []
        for rule in all_rules:
            best_select = _longest_match(rule.code, self.select + self.extend_select)
            best_ignore = _longest_match(rule.code, self.ignore)
            if best_select is None:
                continue
            if best_ignore is not None and len(best_ignore) >= len(best_select):
                continue
            if best_select != rule.code and not rule.default_enabled:
                continue
            chosen.append(rule.code)
        return chosen

    def fingerprint(self, enabled_codes: list[str]) -> str:
        """A hash of what decides the findings of a file, for the cache key."""
        options = {code: self.rule_options.get(code, {}) for code in enabled_codes}
        payload = json.dumps([sorted(enabled_codes), options], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _longest_match(code: str, prefixes: list[str]) -> str | None:
    best = None
    for prefix in prefixes:
        if (prefix == "ALL" or code.startswith(prefix)) and (
            best is None or len(prefix) > len(best)
        ):
            best = code if prefix == "ALL" else prefix
    return best
