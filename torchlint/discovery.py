"""Which files a run checks: walking folders, excludes, ``.gitignore``.

Rules, as ruff's:

- Folders are walked for source files (:func:`is_source_name`: ``*.py``, and
  Jupyter notebooks ``*.ipynb``, read by :mod:`torchlint.notebook`).
  Stub files (``.pyi``) are not collected from folders: they hold no code
  that runs during training, so no rule can fire in them.  A file named on
  the command line is checked whatever its suffix.
- Each folder and each file is visited once, by its real path: a symbolic
  link to a folder that is walked anyway (``notebooks/pkg -> ../pkg``) adds
  nothing, and links that point at each other cannot make the walk go round.
  Real folders are walked before linked ones, so a file is shown under its
  own path when it has one in the tree.
- Only regular files are read: a FIFO or a device behind a ``.py`` name is
  reported, never opened.
- ``exclude`` + ``extend-exclude`` are glob patterns with ``.gitignore``
  syntax and the same matcher (:mod:`pathspec`).  A pattern without a ``/``
  matches a file or folder name at any depth (``build``, ``*.egg-info``); a
  pattern with a ``/`` matches the path relative to the settings root
  (``src/legacy``, ``tests/**/data``).  An excluded folder is not entered.
- ``.gitignore`` files are honoured inside git repositories only, as git
  reads them: the global ``core.excludesFile``, ``.git/info/exclude`` and
  every ``.gitignore`` from the repository top down; the deeper file wins.
  A repository nested in another one has its own rules only.
- Paths named on the command line are always checked unless
  ``force_exclude`` is set; then the excludes and ``.gitignore`` apply to
  them (and to their parent folders) too, which is what pre-commit needs.
- A path that does not exist, a folder that cannot be listed, a symlink
  loop and a name that is not a regular file become ``TL000`` diagnostics;
  the rest of the run goes on.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import subprocess
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from pathspec import GitIgnoreSpec
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from torchlint.diagnostics import FILE_ERROR_CODE, Diagnostic
from torchlint.engine import describe_non_regular

if TYPE_CHECKING:
    from collections.abc import Iterable

    from torchlint.settings import Settings

# The one place that decides which file names a folder walk collects.
SOURCE_SUFFIXES = (".py", ".ipynb")


def is_source_name(name: str) -> bool:
    """True for a file name that a folder walk collects."""
    return name.endswith(SOURCE_SUFFIXES)


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
    walker.add_linked_files()
    files = sorted(walker.files.values())
    problems = sorted(walker.problems, key=Diagnostic.sort_key)
    return Discovered(files=files, problems=problems)


# -- glob patterns ------------------------------------------------------------

_STAR = "[^/]*"
_group_numbers = itertools.count()


class _SinglePassPattern(GitIgnoreSpecPattern):
    """A gitignore pattern whose ``*`` wildcards cannot backtrack into each other.

    A regular expression for ``*a*a*a*b`` tries every way of splitting a long
    name between its stars before it gives up: a dozen stars and a name of
    fifty characters take minutes.  Between two stars the leftmost match of
    the fixed text is always as good as any later one (the next star takes up
    the difference), so each of those texts is matched once, inside a
    look-ahead that the engine never re-enters: matching stays proportional
    to the name's length times the pattern's.
    """

    __slots__ = ()

    @staticmethod
    def _translate_segment_glob(pattern, *args, **kwargs):  # type: ignore[override]
        regex = GitIgnoreSpecPattern._translate_segment_glob(pattern, *args, **kwargs)
        return _single_pass_stars(regex)


def _single_pass_stars(regex: str) -> str:
    # pathspec writes every `*` of a segment as `[^/]*` and nothing else as that text.
    pieces = regex.split(_STAR)
    if len(pieces) <= 2:
        return regex
    out = [pieces[0]]
    for piece in pieces[1:-1]:
        if not piece:  # `**` inside a segment is one star
            continue
        group = f"tl{next(_group_numbers)}"
        out.append(f"(?=(?P<{group}>{_STAR}?{piece}))(?P={group})")
    out.append(_STAR + pieces[-1])
    return "".join(out)


def compile_gitignore(lines: Iterable[str]) -> GitIgnoreSpec:
    """``.gitignore`` lines as a :class:`pathspec.GitIgnoreSpec` (git's semantics).

    Lines that git would discard (an unclosed ``[``) match nothing.
    """
    return GitIgnoreSpec.from_lines(lines, _SinglePassPattern, backend="simple")


class GlobError(ValueError):
    """A glob pattern that cannot be compiled."""


def check_glob(pattern: str) -> None:
    """Raise :class:`GlobError` if ``pattern`` is not a valid exclude glob."""
    line = _as_gitignore_line(pattern)
    if line is None:
        raise GlobError("an empty pattern matches nothing")
    spec = compile_gitignore([line])
    if not any(p.include is not None for p in spec.patterns):
        raise GlobError("invalid pattern (an unclosed '[' ?)")


def _as_gitignore_line(pattern: str) -> str | None:
    """An exclude pattern written as a ``.gitignore`` line (None when empty).

    Exclude lists are not ``.gitignore`` files: a leading ``!`` or ``#`` and
    trailing spaces are part of the name, and a trailing ``/`` changes nothing.
    """
    text = pattern.replace(os.sep, "/") if os.sep != "/" else pattern
    text = text.rstrip("/")
    while text.startswith("./"):
        text = text[2:]
    text = text.lstrip("/")
    if not text:
        return None
    if text[0] in "!#":
        text = "\\" + text
    stripped = text.rstrip(" ")
    if len(stripped) < len(text):
        text = stripped + "\\ " * (len(text) - len(stripped))
    return text


def _has_wildcard(text: str) -> bool:
    return any(char in text for char in "*?[\\")


class PathPatterns:
    """Exclude-style globs, compiled once.

    A pattern without ``/`` matches the name of a file or folder at any
    depth; one with ``/`` matches the path relative to ``root`` (an absolute
    pattern outside ``root`` matches the absolute path).  A pattern that
    matches a folder covers everything in it.  Patterns without wildcards are
    looked up in sets, and patterns with a ``/`` are compiled by the folder
    their wildcards start in (``generated/part7`` for
    ``generated/part7/*.py``) when a path under that folder is first asked
    about: thousands of patterns cost only what the paths asked about need.
    """

    def __init__(self, patterns: Iterable[str], root: str) -> None:
        self.root = os.path.abspath(root)
        self._names: set[str] = set()
        self._paths: set[str] = set()
        name_globs: list[str] = []
        path_globs: list[str] = []
        absolute_globs: list[str] = []
        for pattern in patterns:
            target = path_globs
            if os.path.isabs(pattern):
                inside = _relative_to(os.path.normpath(pattern), self.root)
                if inside is None:
                    target = absolute_globs
                else:
                    pattern = inside
            line = _as_gitignore_line(pattern)
            if line is None:
                continue
            if target is absolute_globs:
                # Matched against the absolute path without its leading `/`:
                # always anchored, like a relative pattern with a `/`.
                absolute_globs.append(line if "/" in line else "/" + line)
                continue
            if "/" not in line:
                if _has_wildcard(line):
                    name_globs.append(line)
                else:
                    self._names.add(line)
            elif _has_wildcard(line):
                path_globs.append(line)
            else:
                self._paths.add(line)
        self._name_spec = compile_gitignore(name_globs) if name_globs else None
        self._path_globs: dict[str, list[str]] = {}
        for line in path_globs:
            self._path_globs.setdefault(_literal_folder(line), []).append(line)
        self._path_specs: dict[str, GitIgnoreSpec] = {}
        self._absolute_spec = compile_gitignore(absolute_globs) if absolute_globs else None

    def match_entry(self, name: str, relative_path: str | None, absolute_path: str) -> bool:
        """True if a walked entry is excluded, its parent folder being known not to be.

        ``relative_path`` is ``/``-separated and relative to the root (None
        outside it).
        """
        if name in self._names:
            return True
        if self._name_spec is not None and self._name_spec.match_file(name):
            return True
        return self._match_anchored(relative_path, absolute_path, whole=False)

    def match_path(self, absolute_path: str) -> bool:
        """True if the path or one of its folders matches."""
        relative = _relative_to(absolute_path, self.root)
        if relative is None:
            name = os.path.basename(absolute_path)
            if name in self._names or (
                self._name_spec is not None and self._name_spec.match_file(name)
            ):
                return True
            return self._match_anchored(None, absolute_path, whole=True)
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        if not relative:
            return self._match_anchored(None, absolute_path, whole=True)
        parts = relative.split("/")
        if self._names and not self._names.isdisjoint(parts):
            return True
        if self._name_spec is not None and self._name_spec.match_file(relative):
            return True
        return self._match_anchored(relative, absolute_path, whole=True)

    def _match_anchored(self, relative: str | None, absolute_path: str, *, whole: bool) -> bool:
        if relative is not None:
            if self._paths:
                if relative in self._paths:
                    return True
                if whole:
                    prefix = ""
                    for part in relative.split("/")[:-1]:
                        prefix = f"{prefix}/{part}" if prefix else part
                        if prefix in self._paths:
                            return True
            if self._path_globs and self._match_path_globs(relative):
                return True
        if self._absolute_spec is not None:
            posix = absolute_path.replace(os.sep, "/") if os.sep != "/" else absolute_path
            return bool(self._absolute_spec.match_file(posix.lstrip("/")))
        return False

    def _match_path_globs(self, relative: str) -> bool:
        folders = [""]
        end = relative.find("/")
        while end != -1:
            folders.append(relative[:end])
            end = relative.find("/", end + 1)
        for folder in folders:
            lines = self._path_globs.get(folder)
            if lines is None:
                continue
            spec = self._path_specs.get(folder)
            if spec is None:
                spec = self._path_specs[folder] = compile_gitignore(lines)
            if spec.match_file(relative):
                return True
        return False


def _literal_folder(line: str) -> str:
    """The folders of a ``/`` pattern before its first wildcard: ``a/b`` for ``a/b/*.py``."""
    parts = line.split("/")
    literal = []
    for part in parts[:-1]:
        if _has_wildcard(part):
            break
        literal.append(part)
    return "/".join(literal)


def _relative_to(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` ('' for root itself); None when outside it."""
    if path == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    if path.startswith(prefix):
        return path[len(prefix) :]
    return None


# -- .gitignore ---------------------------------------------------------------


def read_ignore_file(path: str) -> GitIgnoreSpec | None:
    """The patterns of a ``.gitignore``-style file; None when unreadable or empty.

    Read like a source file: only a regular file (a ``.gitignore`` that is a
    FIFO or a link to ``/dev/zero`` is skipped, never read) and at most the
    engine's size cap.
    """
    from torchlint.engine import NotAnalysable, read_source_file

    try:
        data, _ = read_source_file(path)
    except (OSError, NotAnalysable):
        return None
    spec = compile_gitignore(data.decode("utf-8", errors="replace").splitlines())
    return spec if any(p.include is not None for p in spec.patterns) else None


# An ignore file in effect: the folder its patterns are relative to (with a
# trailing separator) and its patterns.
_IgnoreLayer = tuple[str, GitIgnoreSpec]


def is_gitignored(absolute_path: str, is_dir: bool, layers: tuple[_IgnoreLayer, ...]) -> bool:
    """True if the last layer (deepest first) with a matching pattern ignores the path."""
    for base, spec in reversed(layers):
        if not absolute_path.startswith(base):
            continue
        relative = absolute_path[len(base) :]
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        if is_dir:
            relative += "/"
        verdict = spec.check_file(relative).include
        if verdict is not None:
            return verdict
    return False


def _git_dir(folder: str) -> str | None:
    """The git folder of a repository top: ``.git``, or where a ``.git`` file points."""
    dot_git = os.path.join(folder, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    if not os.path.isfile(dot_git):  # never open a FIFO: it would wait for a writer
        return None
    try:
        with open(dot_git, encoding="utf-8", errors="replace") as handle:
            first = handle.readline().strip()
    except OSError:
        return None
    if not first.startswith("gitdir:"):
        return None
    git_dir = os.path.join(folder, first[len("gitdir:") :].strip())
    # A linked worktree keeps info/exclude in the main repository's folder.
    if not os.path.isfile(os.path.join(git_dir, "commondir")):
        return git_dir
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as handle:
            return os.path.normpath(os.path.join(git_dir, handle.read().strip()))
    except OSError:
        return git_dir


def global_excludes_file(repository_top: str) -> str | None:
    """The file named by git's ``core.excludesFile`` (git's default when unset)."""
    try:
        result = subprocess.run(
            ["git", "config", "--path", "--get", "core.excludesFile"],
            cwd=repository_top,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        configured = result.stdout.strip() if result.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        configured = ""
    if configured:
        return os.path.join(repository_top, os.path.expanduser(configured))
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    return os.path.join(config_home, "git", "ignore")


# -- the walk -----------------------------------------------------------------


class _Folder(NamedTuple):
    """A folder waiting to be listed."""

    path: str
    display: str
    relative: str | None  # to the settings root, `/`-separated; None outside it
    real: str
    layers: tuple[_IgnoreLayer, ...]
    in_repository: bool


class _Walker:
    def __init__(self, settings: Settings) -> None:
        self.root = os.path.abspath(str(settings.root))
        self.cwd = os.getcwd()
        self.excludes = PathPatterns(
            list(settings.exclude) + list(settings.extend_exclude), self.root
        )
        self.respect_gitignore = settings.respect_gitignore
        self.force_exclude = settings.force_exclude
        # real path -> (display path, path to open)
        self.files: dict[str, tuple[str, str]] = {}
        self.problems: list[Diagnostic] = []
        self._visited: set[str] = set()
        self._linked_files: list[tuple[str, str, str]] = []
        self._repository_top: dict[str, str | None] = {}
        self._repository_layers: dict[str, tuple[_IgnoreLayer, ...]] = {}
        self._folder_layers: dict[str, tuple[_IgnoreLayer, ...]] = {}

    def add_argument(self, path: str) -> None:
        absolute = os.path.abspath(path)
        display = self._display(absolute)
        try:
            mode = os.stat(absolute).st_mode
        except OSError as exc:
            self._problem(display, _os_error_text(exc))
            return
        is_dir = stat.S_ISDIR(mode)
        if self.force_exclude and self._explicit_path_excluded(absolute, is_dir):
            return
        if is_dir:
            layers = self._layers_of_folder(absolute) if self.respect_gitignore else ()
            self._walk(absolute, display, layers)
        elif stat.S_ISREG(mode):
            self._add_file(os.path.realpath(absolute), display, absolute)
        else:
            self._problem(display, describe_non_regular(mode))

    def _add_file(self, real: str, display: str, path: str) -> None:
        self.files.setdefault(real, (display, path))

    def add_linked_files(self) -> None:
        """Add the files found through a link to a file, unless found under their own name."""
        for real, display, path in self._linked_files:
            self._add_file(real, display, path)
        self._linked_files.clear()

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
        top = self._top_of(parent)
        if top is None:
            return False
        layers = self._layers_of_folder(parent)
        # A file inside an ignored folder is ignored, whatever its own name.
        relative = _relative_to(absolute, top) or ""
        parts = [part for part in relative.split(os.sep) if part]
        current = top
        for index, part in enumerate(parts):
            current = os.path.join(current, part)
            last = index == len(parts) - 1
            if is_gitignored(current, is_dir or not last, layers):
                return True
        return False

    def _top_of(self, folder: str) -> str | None:
        """The top of the git repository that holds ``folder`` (None outside any)."""
        if folder in self._repository_top:
            return self._repository_top[folder]
        if os.path.exists(os.path.join(folder, ".git")):
            top: str | None = folder
        else:
            parent = os.path.dirname(folder)
            top = None if parent == folder else self._top_of(parent)
        self._repository_top[folder] = top
        return top

    def _layers_of_repository(self, top: str) -> tuple[_IgnoreLayer, ...]:
        """The rules of a repository's top folder: global, info/exclude, .gitignore."""
        cached = self._repository_layers.get(top)
        if cached is not None:
            return cached
        base = top.rstrip(os.sep) + os.sep
        layers: list[_IgnoreLayer] = []
        sources = [global_excludes_file(top)]
        git_dir = _git_dir(top)
        if git_dir is not None:
            sources.append(os.path.join(git_dir, "info", "exclude"))
        sources.append(os.path.join(top, ".gitignore"))
        for source in sources:
            spec = read_ignore_file(source) if source else None
            if spec is not None:
                layers.append((base, spec))
        result = tuple(layers)
        self._repository_layers[top] = result
        return result

    def _layers_of_folder(self, folder: str) -> tuple[_IgnoreLayer, ...]:
        """The ignore rules in effect inside ``folder``, shallowest first."""
        cached = self._folder_layers.get(folder)
        if cached is not None:
            return cached
        top = self._top_of(folder)
        if top is None:
            layers: tuple[_IgnoreLayer, ...] = ()
        elif folder == top:
            layers = self._layers_of_repository(top)
        else:
            layers = self._layers_of_folder(os.path.dirname(folder))
            spec = read_ignore_file(os.path.join(folder, ".gitignore"))
            if spec is not None:
                layers = (*layers, (folder + os.sep, spec))
        self._folder_layers[folder] = layers
        return layers

    def _walk(self, top: str, display: str, layers: tuple[_IgnoreLayer, ...]) -> None:
        excludes = self.excludes
        respect_gitignore = self.respect_gitignore
        in_repository = respect_gitignore and self._top_of(top) is not None
        relative_top = _relative_to(top, self.root)
        stack = [_Folder(top, display, relative_top, os.path.realpath(top), layers, in_repository)]
        # Linked folders wait until every real folder has been walked: a
        # folder reached both ways is then shown under its own path.
        linked: deque[_Folder] = deque()
        while stack or linked:
            folder, display, relative, real, folder_layers, in_repository = (
                stack.pop() if stack else linked.popleft()
            )
            if real in self._visited:
                continue
            self._visited.add(real)
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError as exc:
                self._problem(display, f"cannot read folder: {_os_error_text(exc)}")
                continue
            if respect_gitignore and folder != top:
                folder_layers, in_repository = self._enter(
                    folder, entries, folder_layers, in_repository
                )
            for entry in entries:
                name = entry.name
                child = entry.path
                child_relative = None
                if relative is not None:
                    child_relative = f"{relative}/{name}" if relative else name
                if excludes.match_entry(name, child_relative, child):
                    continue
                child_display = name if display == "." else display + os.sep + name
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir()
                except OSError as exc:
                    if is_source_name(name):
                        self._problem(child_display, _os_error_text(exc))
                    continue
                if is_dir:
                    if folder_layers and is_gitignored(child, True, folder_layers):
                        continue
                    if not is_link:
                        child_real = real + os.sep + name
                        stack.append(
                            _Folder(
                                child,
                                child_display,
                                child_relative,
                                child_real,
                                folder_layers,
                                in_repository,
                            )
                        )
                        continue
                    child_real = os.path.realpath(child)
                    if child_real == real or real.startswith(child_real + os.sep):
                        self._problem(
                            child_display,
                            "symbolic link loop: points to its own parent folder "
                            f"{self._display(child_real)}",
                        )
                        continue
                    linked.append(
                        _Folder(
                            child,
                            child_display,
                            child_relative,
                            child_real,
                            folder_layers,
                            in_repository,
                        )
                    )
                    continue
                if not is_source_name(name):
                    continue
                if folder_layers and is_gitignored(child, False, folder_layers):
                    continue
                if entry.is_file():
                    if is_link:
                        self._linked_files.append((os.path.realpath(child), child_display, child))
                    else:
                        self._add_file(real + os.sep + name, child_display, child)
                    continue
                try:
                    mode = entry.stat().st_mode
                except OSError as exc:
                    missing = exc.errno == errno.ENOENT
                    self._problem(
                        child_display, "broken symbolic link" if missing else _os_error_text(exc)
                    )
                    continue
                self._problem(child_display, describe_non_regular(mode))

    def _enter(
        self,
        folder: str,
        entries: list[os.DirEntry],
        layers: tuple[_IgnoreLayer, ...],
        in_repository: bool,
    ) -> tuple[tuple[_IgnoreLayer, ...], bool]:
        """The ignore rules inside a walked folder, from those of its parent."""
        names = {entry.name for entry in entries}
        if ".git" in names:
            # A repository inside the walked one follows its own rules only.
            self._repository_top[folder] = folder
            return self._layers_of_repository(folder), True
        if in_repository and ".gitignore" in names:
            spec = read_ignore_file(os.path.join(folder, ".gitignore"))
            if spec is not None:
                layers = (*layers, (folder + os.sep, spec))
        return layers, in_repository


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
    Patterns that share their codes are compiled together, and each file's
    answer is computed once.
    """

    def __init__(self, per_file_ignores: dict[str, list[str]], root: str) -> None:
        by_selectors: dict[tuple[str, ...], list[str]] = {}
        for pattern, selectors in per_file_ignores.items():
            by_selectors.setdefault(tuple(selectors), []).append(pattern)
        self._entries = [
            (PathPatterns(patterns, root), selectors)
            for selectors, patterns in by_selectors.items()
        ]
        self._of_path: dict[str, tuple[str, ...]] = {}

    def selectors_for(self, path: str) -> tuple[str, ...]:
        """The code prefixes ignored in the file at ``path`` (display or real path)."""
        found = self._of_path.get(path)
        if found is None:
            absolute = os.path.abspath(path)
            found = tuple(
                selector
                for patterns, selectors in self._entries
                if patterns.match_path(absolute)
                for selector in selectors
            )
            self._of_path[path] = found
        return found

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
