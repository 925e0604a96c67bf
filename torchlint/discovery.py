"""Which files a run checks: walking folders, excludes, ``.gitignore``.

Rules, as ruff's:

- Folders are walked for ``*.py`` files and Jupyter notebooks (``*.ipynb``,
  read by :mod:`torchlint.notebook`).  Stub files (``.pyi``) are not
  collected from folders: they hold no code that runs during training, so no
  rule can fire in them.  A file named on the command line is checked
  whatever its suffix.
- ``exclude`` + ``extend-exclude`` are glob patterns.  A pattern without a
  ``/`` matches a file or folder name at any depth (``build``,
  ``*.egg-info``); a pattern with a ``/`` matches the path relative to the
  settings root (``src/legacy``, ``tests/**/data``).  ``*`` stays within one
  path component, ``**`` spans any number.  An excluded folder is not entered.
- ``.gitignore`` files are honoured (the ones in walked folders and those
  above the first path, up to the repository top: the folder holding
  ``.git``; plus ``.git/info/exclude``) when ``respect_gitignore`` is set.
- Paths named on the command line are always checked unless
  ``force_exclude`` is set; then the excludes and ``.gitignore`` apply to
  them (and to their parent folders) too, which is what pre-commit needs.
- A path that does not exist, a folder that cannot be listed and a symlink
  loop become ``TL000`` diagnostics; the rest of the run goes on.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from torchlint.diagnostics import FILE_ERROR_CODE, Diagnostic

if TYPE_CHECKING:
    from torchlint.settings import Settings

PYTHON_SUFFIX = ".py"
# The suffixes of the files collected from folders.
CHECKED_SUFFIXES = (PYTHON_SUFFIX, ".ipynb")


@dataclass
class Discovered:
    """The files to check and the paths that could not be looked at.

    ``files`` holds ``(display_path, filesystem_path)`` pairs sorted by
    display path: the display path is relative to the working directory when
    the file lies under it (absolute otherwise), the filesystem path is
    absolute.
    """

    files: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


def discover(paths: list[str], settings: Settings) -> Discovered:
    """Collect the files to check under ``paths`` (the working directory if empty)."""
    walker = _Walker(settings)
    for path in paths or ["."]:
        walker.add_argument(path)
    files = sorted(walker.files.items(), key=lambda item: (item[1], item[0]))
    problems = sorted(walker.problems, key=Diagnostic.sort_key)
    return Discovered(files=[(display, real) for real, display in files], problems=problems)


# -- glob patterns ------------------------------------------------------------


def glob_to_regex(pattern: str) -> str:
    """A regular expression (for ``fullmatch``) equivalent to a glob on ``/`` paths.

    ``*`` and ``?`` stay within one path component, ``**`` as a whole
    component spans any number of them, ``[abc]``/``[!abc]`` are classes and
    a backslash escapes the next character.
    """
    out = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                end = i + 2
                whole_component = (i == 0 or pattern[i - 1] == "/") and (
                    end == n or pattern[end] == "/"
                )
                if whole_component and end == n:
                    out.append(".*")
                    i = end
                    continue
                if whole_component:
                    out.append("(?:.*/)?")
                    i = end + 1
                    continue
                i = end
            else:
                i += 1
            out.append("[^/]*")
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            close = _class_end(pattern, i)
            if close < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : close]
                negated = body[:1] in ("!", "^")
                if negated:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("[", "\\[")
                out.append(f"[{'^/' if negated else ''}{body}]")
                i = close
        elif char == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    return pattern.find("]", i)


class PathPatterns:
    """Exclude-style globs, compiled once.

    A pattern without ``/`` matches the name of a file or folder at any
    depth; one with ``/`` matches the path relative to ``root`` (an absolute
    pattern outside ``root`` matches the absolute path).
    """

    def __init__(self, patterns: list[str], root: str) -> None:
        self.root = os.path.abspath(root)
        names, relative, absolute = [], [], []
        for pattern in patterns:
            pattern = pattern.replace(os.sep, "/").rstrip("/")
            if not pattern:
                continue
            if "/" not in pattern:
                names.append(glob_to_regex(pattern))
                continue
            if os.path.isabs(pattern):
                inside = _relative_to(os.path.normpath(pattern), self.root)
                if inside is None:
                    absolute.append(glob_to_regex(pattern))
                    continue
                pattern = inside.replace(os.sep, "/")
            while pattern.startswith("./"):
                pattern = pattern[2:]
            relative.append(glob_to_regex(pattern.lstrip("/")))
        self._name = _union(names)
        self._relative = _union(relative)
        self._absolute = _union(absolute)
        self.has_path_patterns = bool(relative or absolute)

    def match_name(self, name: str) -> bool:
        """True if ``name`` (a file or folder name) is excluded by a name pattern."""
        return self._name is not None and self._name.fullmatch(name) is not None

    def match_relative(self, relative_path: str | None, absolute_path: str) -> bool:
        """True if a ``/`` pattern matches (``relative_path`` is ``/``-separated)."""
        if (
            self._relative is not None
            and relative_path is not None
            and self._relative.fullmatch(relative_path)
        ):
            return True
        if self._absolute is not None:
            return self._absolute.fullmatch(absolute_path.replace(os.sep, "/")) is not None
        return False

    def match_path(self, absolute_path: str) -> bool:
        """True if the path or one of its folders below ``root`` matches."""
        relative = _relative_to(absolute_path, self.root)
        if relative is None:
            return self.match_name(os.path.basename(absolute_path)) or self.match_relative(
                None, absolute_path
            )
        parts = relative.replace(os.sep, "/").split("/") if relative else []
        for depth in range(1, len(parts) + 1):
            if self.match_name(parts[depth - 1]):
                return True
            if self.match_relative("/".join(parts[:depth]), absolute_path):
                return True
        return False


def _union(regexes: list[str]) -> re.Pattern | None:
    if not regexes:
        return None
    return re.compile("|".join(f"(?:{regex})" for regex in regexes), re.DOTALL)


def _relative_to(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` ('' for root itself); None when outside it."""
    if path == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    if path.startswith(prefix):
        return path[len(prefix) :]
    return None


# -- .gitignore ---------------------------------------------------------------


class GitignoreRules:
    """The patterns of one ``.gitignore`` file, matched relative to its folder."""

    def __init__(self, lines: list[str]) -> None:
        # (regex, negated, directory_only), in file order: the last match wins.
        self.rules: list[tuple[re.Pattern, bool, bool]] = []
        for raw in lines:
            rule = _parse_gitignore_line(raw)
            if rule is not None:
                self.rules.append(rule)

    @classmethod
    def read(cls, path: str) -> GitignoreRules | None:
        """The rules of the file at ``path``; None when unreadable or empty."""
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                rules = cls(handle.read().splitlines())
        except OSError:
            return None
        return rules if rules.rules else None

    def match(self, relative_path: str, is_dir: bool) -> bool | None:
        """True ignored, False re-included by ``!``, None when no pattern matches."""
        for regex, negated, directory_only in reversed(self.rules):
            if directory_only and not is_dir:
                continue
            if regex.fullmatch(relative_path):
                return not negated
        return None


def _parse_gitignore_line(line: str) -> tuple[re.Pattern, bool, bool] | None:
    if not line or line.startswith("#"):
        return None
    # Trailing spaces are dropped unless escaped with a backslash.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped
    negated = line.startswith("!")
    # `\!` and `\#` escape a leading `!` or `#` that is part of the name.
    if negated or line.startswith(("\\!", "\\#")):
        line = line[1:]
    directory_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    regex = glob_to_regex(line)
    if not anchored and not line.startswith("**"):
        regex = "(?:.*/)?" + regex
    return re.compile(regex, re.DOTALL), negated, directory_only


# A .gitignore in effect: its folder (with a trailing separator) and its rules.
_IgnoreLayer = tuple[str, GitignoreRules]


def _is_gitignored(absolute_path: str, is_dir: bool, layers: tuple[_IgnoreLayer, ...]) -> bool:
    # Deeper .gitignore files override shallower ones.
    for base, rules in reversed(layers):
        if not absolute_path.startswith(base):
            continue
        relative = absolute_path[len(base) :]
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        verdict = rules.match(relative, is_dir)
        if verdict is not None:
            return verdict
    return False


# -- the walk -----------------------------------------------------------------


class _Walker:
    def __init__(self, settings: Settings) -> None:
        self.root = os.path.abspath(str(settings.root))
        self.cwd = os.getcwd()
        self.excludes = PathPatterns(
            list(settings.exclude) + list(settings.extend_exclude), self.root
        )
        self.respect_gitignore = settings.respect_gitignore
        self.force_exclude = settings.force_exclude
        self.files: dict[str, str] = {}
        self.problems: list[Diagnostic] = []
        self._ancestor_layers: dict[str, tuple[_IgnoreLayer, ...]] = {}

    def add_argument(self, path: str) -> None:
        absolute = os.path.abspath(path)
        try:
            is_dir = stat.S_ISDIR(os.stat(absolute).st_mode)
        except OSError as exc:
            self._problem(path, _os_error_text(exc))
            return
        if self.force_exclude and self._explicit_path_excluded(absolute, is_dir):
            return
        if not is_dir:
            self.files.setdefault(absolute, self._display(absolute))
            return
        layers = self._gitignore_layers_above(absolute) if self.respect_gitignore else ()
        self._walk(absolute, layers)

    def _display(self, absolute: str) -> str:
        relative = _relative_to(absolute, self.cwd)
        if relative is None:
            return absolute
        return relative or "."

    def _problem(self, display: str, message: str) -> None:
        self.problems.append(
            Diagnostic(
                path=display,
                row=1,
                column=1,
                end_row=1,
                end_column=1,
                code=FILE_ERROR_CODE,
                name="file-error",
                message=message,
            )
        )

    def _explicit_path_excluded(self, absolute: str, is_dir: bool) -> bool:
        if self.excludes.match_path(absolute):
            return True
        if not self.respect_gitignore:
            return False
        parent = os.path.dirname(absolute)
        layers = self._gitignore_layers_above(parent)
        if not layers:
            return False
        # A file inside an ignored folder is ignored, whatever its own name.
        top = layers[0][0]
        relative = absolute[len(top) :] if absolute.startswith(top) else ""
        parts = [part for part in relative.split(os.sep) if part]
        current = top.rstrip(os.sep)
        for index, part in enumerate(parts):
            current = current + os.sep + part
            last = index == len(parts) - 1
            if _is_gitignored(current, is_dir or not last, layers):
                return True
        return False

    def _gitignore_layers_above(self, folder: str) -> tuple[_IgnoreLayer, ...]:
        """The .gitignore files that apply inside ``folder``, shallowest first."""
        cached = self._ancestor_layers.get(folder)
        if cached is not None:
            return cached
        chain = [folder]
        while True:
            parent = os.path.dirname(chain[-1])
            if parent == chain[-1]:
                break
            chain.append(parent)
        repository_top = next(
            (index for index, d in enumerate(chain) if os.path.exists(os.path.join(d, ".git"))),
            None,
        )
        if repository_top is not None:
            chain = chain[: repository_top + 1]
        elif _relative_to(folder, self.root) is not None:
            chain = chain[: chain.index(self.root) + 1]
        else:
            chain = chain[:1]
        layers: list[_IgnoreLayer] = []
        for directory in reversed(chain):
            base = directory.rstrip(os.sep) + os.sep
            if repository_top is not None and directory == chain[-1]:
                info = GitignoreRules.read(os.path.join(directory, ".git", "info", "exclude"))
                if info is not None:
                    layers.append((base, info))
            rules = GitignoreRules.read(os.path.join(directory, ".gitignore"))
            if rules is not None:
                layers.append((base, rules))
        result = tuple(layers)
        self._ancestor_layers[folder] = result
        return result

    def _walk(self, top: str, layers: tuple[_IgnoreLayer, ...]) -> None:
        excludes = self.excludes
        check_paths = excludes.has_path_patterns
        top_entry = (top, self._display(top), _relative_to(top, self.root), os.path.realpath(top))
        stack = [(*top_entry, layers)]
        while stack:
            folder, display, relative, real, folder_layers = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError as exc:
                self._problem(display, f"cannot read folder: {_os_error_text(exc)}")
                continue
            # The top folder's own .gitignore is already among `layers`.
            if (
                self.respect_gitignore
                and folder != top
                and any(e.name == ".gitignore" for e in entries)
            ):
                rules = GitignoreRules.read(os.path.join(folder, ".gitignore"))
                if rules is not None:
                    folder_layers = (*folder_layers, (folder + os.sep, rules))
            for entry in entries:
                name = entry.name
                if excludes.match_name(name):
                    continue
                child_relative = None
                if relative is not None:
                    child_relative = f"{relative}/{name}" if relative else name
                child = entry.path
                if check_paths and excludes.match_relative(child_relative, child):
                    continue
                child_display = name if display == "." else display + os.sep + name
                try:
                    is_dir = entry.is_dir()
                except OSError as exc:
                    if name.endswith(CHECKED_SUFFIXES) or entry.is_symlink():
                        self._problem(child_display, _os_error_text(exc))
                    continue
                if is_dir:
                    if folder_layers and _is_gitignored(child, True, folder_layers):
                        continue
                    if entry.is_symlink():
                        child_real = os.path.realpath(child)
                        if child_real == real or real.startswith(child_real + os.sep):
                            self._problem(
                                child_display,
                                "symbolic link loop: points to its own parent folder "
                                f"{self._display(child_real)}",
                            )
                            continue
                    else:
                        child_real = real + os.sep + name
                    stack.append((child, child_display, child_relative, child_real, folder_layers))
                    continue
                if not name.endswith(CHECKED_SUFFIXES):
                    continue
                if folder_layers and _is_gitignored(child, False, folder_layers):
                    continue
                if entry.is_symlink() and not entry.is_file():
                    self._problem(child_display, "broken symbolic link")
                    continue
                self.files.setdefault(child, child_display)


def _os_error_text(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    return (exc.strerror or str(exc)).lower()


# -- per-file-ignores -----------------------------------------------------------


class PerFileIgnores:
    """``per-file-ignores`` compiled: which codes are off for which files.

    Each glob is matched like an exclude pattern (see :class:`PathPatterns`):
    by name at any depth without a ``/``, relative to the root with one; a
    pattern that matches a folder covers every file under it.  The codes are
    selectors: ``TL`` or ``TL00`` switch off every code under the prefix.
    """

    def __init__(self, per_file_ignores: dict[str, list[str]], root: str) -> None:
        self._entries = [
            (PathPatterns([pattern], root), tuple(selectors))
            for pattern, selectors in per_file_ignores.items()
        ]

    def selectors_for(self, path: str) -> tuple[str, ...]:
        """The code prefixes ignored in the file at ``path`` (display or real path)."""
        absolute = os.path.abspath(path)
        found: list[str] = []
        for patterns, selectors in self._entries:
            if patterns.match_path(absolute):
                found.extend(selectors)
        return tuple(found)

    def is_ignored(self, path: str, code: str) -> bool:
        """True if ``code`` is switched off for the file at ``path``."""
        return any(
            selector == "ALL" or code.startswith(selector) for selector in self.selectors_for(path)
        )


@lru_cache(maxsize=8)
def _compiled_per_file_ignores(
    root: str, items: tuple[tuple[str, tuple[str, ...]], ...]
) -> PerFileIgnores:
    return PerFileIgnores({pattern: list(codes) for pattern, codes in items}, root)


def per_file_ignores(settings: Settings) -> PerFileIgnores:
    """The compiled ``per-file-ignores`` of ``settings`` (cached)."""
    items = tuple((pattern, tuple(codes)) for pattern, codes in settings.per_file_ignores.items())
    return _compiled_per_file_ignores(os.path.abspath(str(settings.root)), items)


def is_per_file_ignored(path: str, code: str, settings: Settings) -> bool:
    """True if ``per-file-ignores`` switches ``code`` off for the file at ``path``."""
    if not settings.per_file_ignores:
        return False
    return per_file_ignores(settings).is_ignored(path, code)


def is_excluded(path: str, settings: Settings) -> bool:
    """True if ``exclude``/``extend-exclude`` cover ``path`` (or a folder above it).

    Used for code read from stdin under ``--stdin-filename`` with
    ``--force-exclude``, where there is no file to discover.
    """
    patterns = PathPatterns(list(settings.exclude) + list(settings.extend_exclude), settings.root)
    return patterns.match_path(os.path.abspath(path))
