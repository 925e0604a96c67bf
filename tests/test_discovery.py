"""File discovery: excludes, .gitignore, explicit paths, bad paths, per-file-ignores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from torchlint.discovery import (
    GitignoreRules,
    discover,
    glob_to_regex,
    is_per_file_ignored,
)
from torchlint.settings import Settings


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def touch(root: Path, *relative: str) -> None:
    for name in relative:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def found(paths, settings) -> list[str]:
    result = discover(paths, settings)
    assert result.problems == []
    return [display.replace(os.sep, "/") for display, _ in result.files]


def test_walks_python_files_sorted_and_skips_default_excludes(project):
    touch(
        project,
        "train.py",
        "pkg/model.py",
        "pkg/stubs.pyi",
        "pkg/notes.txt",
        ".venv/lib/site.py",
        "build/lib/copy.py",
        "pkg/__pycache__/model.py",
        "pkg/thing.egg-info/x.py",
    )
    assert found([], Settings(root=project)) == ["pkg/model.py", "train.py"]


def test_file_pairs_are_display_and_absolute_path(project):
    touch(project, "src/a.py")
    result = discover(["./src"], Settings(root=project))
    assert result.files == [(os.path.join("src", "a.py"), str(project / "src" / "a.py"))]


def test_path_outside_working_directory_is_shown_absolute(tmp_path, monkeypatch):
    touch(tmp_path, "outside/a.py")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    result = discover([str(tmp_path / "outside")], Settings(root=tmp_path / "cwd"))
    assert result.files == [(str(tmp_path / "outside" / "a.py"),) * 2]


def test_exclude_replaces_and_extend_exclude_adds(project):
    touch(project, "build/a.py", "gen/b.py", "src/legacy/c.py", "src/d.py", "src/e_pb2.py")
    settings = Settings(root=project, exclude=["gen"], extend_exclude=["src/legacy", "*_pb2.py"])
    assert found(["."], settings) == ["build/a.py", "src/d.py"]


def test_path_patterns_are_relative_to_root_not_cwd(project):
    touch(project, "sub/src/legacy/c.py", "sub/src/d.py")
    settings = Settings(root=project / "sub", extend_exclude=["src/legacy"])
    assert found(["sub"], settings) == ["sub/src/d.py"]


def test_double_star_pattern(project):
    touch(project, "tests/unit/data/x.py", "tests/data/y.py", "tests/unit/z.py")
    settings = Settings(root=project, extend_exclude=["tests/**/data"])
    assert found(["."], settings) == ["tests/unit/z.py"]


def test_gitignore_root_nested_negation_dir_only_and_anchored(project):
    (project / ".gitignore").write_text(
        "# generated\n*_gen.py\n!keep_gen.py\nlogs/\n/top.py\nscratch/**/tmp.py\n"
    )
    (project / "pkg").mkdir()
    (project / "pkg" / ".gitignore").write_text("local.py\n")
    touch(
        project,
        "a_gen.py",
        "keep_gen.py",
        "logs/run.py",
        "pkg/logs.py",
        "top.py",
        "pkg/top.py",
        "scratch/tmp.py",
        "scratch/x/y/tmp.py",
        "pkg/local.py",
        "local.py",
        "pkg/model.py",
    )
    assert found(["."], Settings(root=project)) == [
        "keep_gen.py",
        "local.py",
        "pkg/logs.py",
        "pkg/model.py",
        "pkg/top.py",
    ]


def test_gitignore_above_the_walked_folder_applies(project):
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("ignored/\n")
    touch(project, "src/ignored/a.py", "src/b.py")
    assert found(["src"], Settings(root=project)) == ["src/b.py"]


def test_gitignore_can_be_turned_off(project):
    (project / ".gitignore").write_text("*.py\n")
    touch(project, "a.py")
    assert found(["."], Settings(root=project, respect_gitignore=False)) == ["a.py"]
    assert found(["."], Settings(root=project)) == []


def test_explicit_files_are_checked_even_when_excluded(project):
    touch(project, "build/gen.py", "notes.txt")
    (project / ".gitignore").write_text("build/\n")
    settings = Settings(root=project)
    assert found(["build/gen.py", "notes.txt"], settings) == ["build/gen.py", "notes.txt"]


def test_force_exclude_applies_excludes_to_explicit_files(project):
    touch(project, "build/gen.py", "src/ok.py", "src/ignored/x.py", "src/old_pb2.py")
    (project / ".gitignore").write_text("ignored/\n")
    settings = Settings(root=project, force_exclude=True, extend_exclude=["*_pb2.py"])
    paths = ["build/gen.py", "src/ok.py", "src/ignored/x.py", "src/old_pb2.py"]
    assert found(paths, settings) == ["src/ok.py"]


def test_force_exclude_applies_to_explicit_folders(project):
    touch(project, "build/a.py")
    assert found(["build"], Settings(root=project, force_exclude=True)) == []
    assert found(["build"], Settings(root=project)) == ["build/a.py"]


def test_missing_path_is_a_file_error_not_fatal(project):
    touch(project, "a.py")
    result = discover(["a.py", "missing.py"], Settings(root=project))
    assert [d for d, _ in result.files] == ["a.py"]
    (problem,) = result.problems
    assert (problem.path, problem.code, problem.name) == ("missing.py", "TL000", "file-error")
    assert "no such file" in problem.message


def test_symlink_loop_is_reported_once(project):
    touch(project, "pkg/a.py")
    os.symlink(project / "pkg", project / "pkg" / "again")
    result = discover(["."], Settings(root=project))
    assert [d.replace(os.sep, "/") for d, _ in result.files] == ["pkg/a.py"]
    (problem,) = result.problems
    assert problem.code == "TL000"
    assert problem.path.replace(os.sep, "/") == "pkg/again"
    assert "loop" in problem.message


def test_self_referencing_file_link_is_reported(project):
    os.symlink(project / "self.py", project / "self.py")
    result = discover(["."], Settings(root=project))
    assert result.files == []
    assert [(p.path, p.code) for p in result.problems] == [("self.py", "TL000")]


def test_symlinked_folder_elsewhere_is_followed(project):
    touch(project, "real/a.py")
    (project / "src").mkdir()
    os.symlink(project / "real", project / "src" / "linked")
    assert found(["src"], Settings(root=project)) == ["src/linked/a.py"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_folder_is_reported_and_rest_goes_on(project):
    touch(project, "ok.py", "locked/a.py")
    (project / "locked").chmod(0)
    try:
        result = discover(["."], Settings(root=project))
    finally:
        (project / "locked").chmod(0o755)
    assert [d for d, _ in result.files] == ["ok.py"]
    (problem,) = result.problems
    assert problem.path == "locked"
    assert "cannot read folder" in problem.message


def test_same_file_twice_is_listed_once(project):
    touch(project, "a.py")
    assert found(["a.py", ".", "./a.py"], Settings(root=project)) == ["a.py"]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "a.py", True),
        ("*.py", "d/a.py", False),
        ("**/a.py", "a.py", True),
        ("**/a.py", "x/y/a.py", True),
        ("a/**", "a/b/c", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[!a]x", "bx", True),
        ("[!a]x", "ax", False),
        ("\\*", "*", True),
        ("\\*", "a", False),
    ],
)
def test_glob_to_regex(pattern, path, matches):
    import re

    assert (re.fullmatch(glob_to_regex(pattern), path) is not None) is matches


def test_gitignore_rules_last_match_wins_and_escapes():
    rules = GitignoreRules(["*.py", "!keep.py", "\\!bang.py", "trailing.py\\ ", "dir/"])
    assert rules.match("a.py", False) is True
    assert rules.match("keep.py", False) is False
    assert rules.match("!bang.py", False) is True
    assert rules.match("trailing.py ", False) is True
    assert rules.match("dir", True) is True
    assert rules.match("dir", False) is None
    assert rules.match("other.txt", False) is None


def test_per_file_ignores_globs(project):
    settings = Settings(
        root=project,
        per_file_ignores={
            "tests/**/*.py": ["TL001"],
            "__init__.py": ["TL0"],
            "scripts": ["ALL"],
        },
    )
    assert is_per_file_ignored("tests/unit/test_a.py", "TL001", settings)
    assert is_per_file_ignored(str(project / "tests" / "test_b.py"), "TL001", settings)
    assert not is_per_file_ignored("tests/unit/test_a.py", "TL002", settings)
    assert is_per_file_ignored("pkg/sub/__init__.py", "TL004", settings)
    assert not is_per_file_ignored("pkg/sub/model.py", "TL004", settings)
    assert is_per_file_ignored("scripts/deep/run.py", "TL999", settings)
    assert not is_per_file_ignored("src/scripts.py", "TL001", settings)


def test_per_file_ignores_relative_to_root_not_cwd(project):
    (project / "sub").mkdir()
    settings = Settings(root=project / "sub", per_file_ignores={"gen/*.py": ["TL"]})
    assert is_per_file_ignored("sub/gen/a.py", "TL001", settings)
    assert not is_per_file_ignored("gen/a.py", "TL001", settings)


def test_walk_of_many_files_is_quick(project):
    import time

    for package in range(60):
        folder = project / f"pkg{package}"
        folder.mkdir()
        for module in range(100):
            (folder / f"m{module}.py").write_text("")
    (project / "pkg0" / "node_modules").mkdir()
    start = time.perf_counter()
    result = discover(["."], Settings(root=project, extend_exclude=["pkg1/m1.py"]))
    elapsed = time.perf_counter() - start
    assert len(result.files) == 5999
    assert elapsed < 1.0
