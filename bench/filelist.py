"""File lists shared by the floor scripts and the benchmark driver."""

from __future__ import annotations

import os
from collections.abc import Iterable


def python_files(root: str) -> list[str]:
    """Every ``*.py`` file under ``root`` (hidden folders included), sorted by path."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found.extend(os.path.join(folder, name) for name in files if name.endswith(".py"))
    return sorted(found)


def expand(paths: Iterable[str]) -> list[str]:
    """Files as given, folders replaced by the Python files under them."""
    result: list[str] = []
    for path in paths:
        result.extend(python_files(path) if os.path.isdir(path) else [path])
    return result


def read_list(path: str) -> list[str]:
    """The non-empty lines of a file list (one path per line)."""
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def count_lines(data: bytes) -> int:
    """Lines in a file's bytes, counted like the corpus manifest does."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def every_kth(files: list[str], k: int) -> list[str]:
    """The fixed sample: the 1st, (k+1)th, (2k+1)th ... file of the sorted list."""
    return files[::k] if k > 1 else list(files)
