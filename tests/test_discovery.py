"""File discovery: excludes, .gitignore, explicit paths, bad paths, per-file-ignores."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from torchlint.discovery import (
    PathPatterns,
    compile_gitignore,
    discover,
    is_per_file_ignored,
    per_file_ignores,
)
from torchlint.settings import Settings


@pytest.fixture(autouse=True)
def no_user_git_config(tmp_path_factory, monkeypatch):
    """The machine's own global gitignore must not decide these tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return home


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def repository(project):
    """A project that is a git repository (``.gitignore`` counts only in one)."""
    (project / ".git").mkdir()
    return project


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


def test_gitignore_root_nested_negation_dir_only_and_anchored(repository):
    project = repository
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


def test_gitignore_can_be_turned_off(repository):
    project = repository
    (project / ".gitignore").write_text("*.py\n")
    touch(project, "a.py")
    assert found(["."], Settings(root=project, respect_gitignore=False)) == ["a.py"]
    assert found(["."], Settings(root=project)) == []


def test_explicit_files_are_checked_even_when_excluded(project):
    touch(project, "build/gen.py", "notes.txt")
    (project / ".gitignore").write_text("build/\n")
    settings = Settings(root=project)
    assert found(["build/gen.py", "notes.txt"], settings) == ["build/gen.py", "notes.txt"]


def test_force_exclude_applies_excludes_to_explicit_files(repository):
    project = repository
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
        ("*.py", "d/a.py", True),
        ("/*.py", "d/a.py", False),
        ("src/*.py", "src/d/a.py", False),
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
        ("!important.py", "!important.py", True),
        ("build/", "build/x.py", True),
        ("src/legacy", "src/legacy/deep/x.py", True),
        ("src/legacy", "other/src/legacy/x.py", False),
    ],
)
def test_exclude_globs(tmp_path, pattern, path, matches):
    patterns = PathPatterns([pattern], str(tmp_path))
    assert patterns.match_path(str(tmp_path / path)) is matches


def test_gitignore_last_match_wins_and_escapes():
    spec = compile_gitignore(["*.py", "!keep.py", "\\!bang.py", "trailing.py\\ ", "dir/"])
    assert spec.check_file("a.py").include is True
    assert spec.check_file("keep.py").include is False
    assert spec.check_file("!bang.py").include is True
    assert spec.check_file("trailing.py ").include is True
    assert spec.check_file("dir/").include is True
    assert spec.check_file("dir").include is None
    assert spec.check_file("other.txt").include is None


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


# -- symbolic links: each folder and file once, never round in circles -------------


def test_two_folders_linking_to_each_other_are_walked_once(project):
    touch(project, "a/x.py", "b/y.py")
    os.symlink("../b", project / "a" / "to_b")
    os.symlink("../a", project / "b" / "to_a")
    assert found(["."], Settings(root=project)) == ["a/x.py", "b/y.py"]


def test_three_folders_each_linking_to_the_other_two_end_quickly(project):
    import time

    names = ("a", "b", "c")
    for name in names:
        touch(project, f"{name}/m.py")
    for name in names:
        for other in names:
            if other != name:
                os.symlink(f"../{other}", project / name / f"to_{other}")
    start = time.perf_counter()
    assert found(["."], Settings(root=project)) == ["a/m.py", "b/m.py", "c/m.py"]
    # Starting inside one of them reaches the others through the links, once each.
    assert found(["a"], Settings(root=project)) == ["a/m.py", "a/to_b/m.py", "a/to_c/m.py"]
    assert time.perf_counter() - start < 2.0


def test_linked_copy_of_a_package_inside_the_tree_adds_nothing(project):
    touch(project, "pkg/model.py", "pkg/sub/train.py", "notebooks/explore.py")
    os.symlink("../pkg", project / "notebooks" / "pkg")
    assert found(["."], Settings(root=project)) == [
        "notebooks/explore.py",
        "pkg/model.py",
        "pkg/sub/train.py",
    ]


def test_linked_file_and_its_target_are_one_file(project):
    touch(project, "real.py")
    os.symlink("real.py", project / "alias.py")
    assert found(["."], Settings(root=project)) == ["real.py"]


# -- only regular files are read -----------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_named_like_a_module_is_reported_not_opened(project):
    touch(project, "ok.py")
    os.mkfifo(project / "x.py")
    for paths in (["."], ["x.py", "ok.py"]):
        result = discover(paths, Settings(root=project))
        assert [d for d, _ in result.files] == ["ok.py"]
        (problem,) = result.problems
        assert (problem.path, problem.code) == ("x.py", "TL000")
        assert "not a regular file (a FIFO)" in problem.message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_behind_a_python_name_is_reported_not_read(project):
    os.symlink("/dev/zero", project / "zero.py")
    for paths in (["."], ["zero.py"]):
        result = discover(paths, Settings(root=project))
        assert result.files == []
        (problem,) = result.problems
        assert problem.path == "zero.py"
        assert "character device" in problem.message


def test_dangling_link_is_reported(project):
    os.symlink("gone.py", project / "dangling.py")
    result = discover(["."], Settings(root=project))
    assert [(p.path, p.message) for p in result.problems] == [
        ("dangling.py", "broken symbolic link")
    ]


# -- .gitignore as git reads it --------------------------------------------------------


def test_gitignore_outside_a_repository_is_not_read(project):
    (project / ".gitignore").write_text("*.py\n")
    touch(project, "a.py")
    assert found(["."], Settings(root=project)) == ["a.py"]


def test_double_star_prefix_pattern_matches_like_git(repository):
    (repository / ".gitignore").write_text("**.py\n!keep/**\n")
    touch(repository, "a.py", "deep/down/b.py", "keep/c.py")
    assert found(["."], Settings(root=repository)) == ["keep/c.py"]


def test_global_excludes_file_counts(repository, no_user_git_config):
    ignore = no_user_git_config / "global-ignore"
    ignore.write_text("scratch_*.py\n")
    (no_user_git_config / ".gitconfig").write_text(f"[core]\n\texcludesFile = {ignore}\n")
    touch(repository, "scratch_1.py", "model.py")
    assert found(["."], Settings(root=repository)) == ["model.py"]


def test_default_global_excludes_file_counts(repository, no_user_git_config):
    default = no_user_git_config / ".config" / "git" / "ignore"
    default.parent.mkdir(parents=True)
    default.write_text("local_*.py\n")
    touch(repository, "local_notes.py", "model.py")
    assert found(["."], Settings(root=repository)) == ["model.py"]


def test_info_exclude_counts(repository):
    (repository / ".git" / "info").mkdir()
    (repository / ".git" / "info" / "exclude").write_text("private.py\n")
    touch(repository, "private.py", "model.py")
    assert found(["."], Settings(root=repository)) == ["model.py"]


def test_nested_repository_has_its_own_rules_from_any_starting_folder(repository):
    (repository / ".gitignore").write_text("generated.py\n")
    inner = repository / "vendor" / "lib"
    touch(inner, "generated.py", "skip.py", "src/generated.py")
    (inner / ".git").mkdir()
    (inner / ".gitignore").write_text("skip.py\n")
    touch(repository, "generated.py", "model.py")
    expected_inner = ["generated.py", "src/generated.py"]
    assert found(["."], Settings(root=repository)) == [
        "model.py",
        *(f"vendor/lib/{name}" for name in expected_inner),
    ]
    assert found(["vendor"], Settings(root=repository)) == [
        f"vendor/lib/{name}" for name in expected_inner
    ]
    assert found(["vendor/lib/src"], Settings(root=repository)) == ["vendor/lib/src/generated.py"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gitignore_agrees_with_git_check_ignore(project):
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text(
        "**.log.py\n*_gen.py\n!keep_gen.py\nlogs/\n/top.py\nscratch/**/tmp.py\n"
        "a/**/b.py\n\\#hash.py\nspace.py\\ \n[!x]y.py\n"
    )
    (project / "pkg").mkdir()
    (project / "pkg" / ".gitignore").write_text("local.py\n!/top.py\n")
    names = [
        "x.log.py",
        "d/e/x.log.py",
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
        "a/b.py",
        "a/x/y/b.py",
        "#hash.py",
        "space.py ",
        "zy.py",
        "xy.py",
        "model.py",
    ]
    touch(project, *names)
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    ).stdout.splitlines()
    by_git = sorted(name for name in listed if name.endswith(".py"))
    assert found(["."], Settings(root=project)) == by_git


def test_hostile_gitignore_pattern_is_matched_quickly(repository):
    import time

    (repository / ".gitignore").write_text("*a*a*a*a*a*a*a*a*a*a*a*b\n")
    touch(repository, "a" * 60 + ".py", "b" * 3 + "a" * 40 + "/c.py")
    start = time.perf_counter()
    assert len(found(["."], Settings(root=repository))) == 2
    assert time.perf_counter() - start < 2.0


def test_hostile_exclude_glob_is_matched_quickly(project):
    import time

    touch(project, "a" * 60 + ".py", "src/" + "a" * 50 + "/x.py")
    settings = Settings(
        root=project,
        extend_exclude=["*a*a*a*a*a*a*a*a*a*a*a*b", "src/*a*a*a*a*a*a*a*a*a*a*a*b/x.py"],
        per_file_ignores={"*a*a*a*a*a*a*a*a*a*a*a*b": ["TL"]},
    )
    start = time.perf_counter()
    assert len(found(["."], settings)) == 2
    assert not is_per_file_ignored("a" * 60 + ".py", "TL001", settings)
    assert time.perf_counter() - start < 2.0


def test_star_runs_still_match_what_they_should(project):
    patterns = PathPatterns(["*a*b*c.py", "x*y*"], str(project))
    assert patterns.match_path(str(project / "aabbcc.py"))
    assert patterns.match_path(str(project / "abc.py"))
    assert patterns.match_path(str(project / "zaxbyc.py"))
    assert not patterns.match_path(str(project / "cba.py"))
    assert patterns.match_path(str(project / "xay"))
    assert not patterns.match_path(str(project / "yx"))


def test_twenty_thousand_per_file_ignores_are_quick(project):
    import time

    ignores = {f"generated/part{index}/*.py": ["TL001"] for index in range(10_000)}
    ignores.update({f"data/file{index}.py": ["TL002"] for index in range(10_000)})
    settings = Settings(root=project, per_file_ignores=ignores)
    start = time.perf_counter()
    compiled = per_file_ignores(settings)
    for finding in range(2_000):
        assert compiled.is_ignored("generated/part9999/x.py", "TL001")
        assert compiled.is_ignored("data/file77.py", "TL002")
        assert not compiled.is_ignored(f"src/m{finding % 50}.py", "TL001")
    assert time.perf_counter() - start < 5.0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_gitignore_that_is_a_fifo_or_a_device_is_not_read(repository):
    touch(repository, "a.py", "sub/b.py")
    os.mkfifo(repository / ".gitignore")
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", repository / "sub" / ".gitignore")
    assert found(["."], Settings(root=repository)) == ["a.py", "sub/b.py"]
