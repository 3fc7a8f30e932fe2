"""The right repository, always (issue 18, b): every layout with real git, the note
only ever in the repository that made the commit."""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers import commit_file, git, init_repo, traces_git

ID = {"TRACES_TRACE_ID": "layout-trace"}


def _note(git_dir: Path, rev: str = "HEAD") -> str | None:
    proc = git(f"--git-dir={git_dir}", "notes", "--ref=traces", "show", rev, check=False)
    return proc.stdout if proc.returncode == 0 else None


def _outer(tmp_path: Path) -> Path:
    outer = init_repo(tmp_path / "outer")
    commit_file(outer, "o.txt")
    return outer


def test_git_dir_and_work_tree_inside_another_repository(tmp_path, installed):
    outer = _outer(tmp_path)
    inner = outer / "inner dir"
    inner.mkdir()
    dot = tmp_path / "dot.git"
    git("init", "-q", "--bare", str(dot))
    env = {**ID, "GIT_DIR": str(dot), "GIT_WORK_TREE": str(inner)}
    (inner / "f.txt").write_text("x\n")
    git("add", "f.txt", cwd=inner, env=env)
    proc = git("commit", "-q", "-m", "dotfile", cwd=inner, env=env)
    assert proc.stderr == ""
    assert _note(dot) == "traces:layout-trace\n"
    assert _note(outer / ".git") is None
    assert git("for-each-ref", "refs/notes", cwd=outer).stdout == ""
    # our commands see the same repository through the same variables
    shown = traces_git("show", cwd=inner, env={"GIT_DIR": str(dot), "GIT_WORK_TREE": str(inner)})
    assert "layout-trace" in shown.stdout


def test_git_dir_and_work_tree_options_relative(tmp_path, installed):
    """The "bare repository for dotfiles" setup: git --git-dir=X --work-tree=Y commit."""
    outer = _outer(tmp_path)
    home = outer / "home"
    home.mkdir()
    dot = tmp_path / "dotfiles.git"
    git("init", "-q", "--bare", str(dot))
    (home / ".bashrc").write_text("alias x=y\n")
    rel = os.path.relpath(dot, home)
    git(f"--git-dir={rel}", "--work-tree=.", "add", ".bashrc", cwd=home)
    proc = git(f"--git-dir={rel}", "--work-tree=.", "commit", "-q", "-m", "rc", cwd=home, env=ID)
    assert proc.stderr == ""
    assert _note(dot) == "traces:layout-trace\n"
    assert _note(outer / ".git") is None


def test_core_worktree_with_a_separate_git_dir(tmp_path, installed):
    work = tmp_path / "work"
    sep = tmp_path / "sep.git"
    git("init", "-q", f"--separate-git-dir={sep}", str(work))
    (work / ".git").unlink()
    git(f"--git-dir={sep}", "config", "core.worktree", str(work))
    outer = init_repo(tmp_path)  # the parent directory is a repository too
    commit_file(outer, "top.txt")
    (work / "a.txt").write_text("a\n")
    env = {**ID, "GIT_DIR": str(sep)}
    git("add", "a.txt", cwd=work, env=env)
    git("commit", "-q", "-m", "cw", cwd=work, env=env)
    assert _note(sep) == "traces:layout-trace\n"
    assert _note(outer / ".git") is None


def test_linked_worktree_and_submodule(tmp_path, installed):
    main = _outer(tmp_path)
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", str(linked), cwd=main)
    (linked / "l.txt").write_text("l\n")
    git("add", "l.txt", cwd=linked)
    git("commit", "-q", "-m", "in linked", cwd=linked, env=ID)
    linked_head = git("rev-parse", "HEAD", cwd=linked).stdout.strip()
    assert _note(main / ".git", linked_head) == "traces:layout-trace\n"
    assert _note(main / ".git") is None  # main's own HEAD untouched

    sub_src = init_repo(tmp_path / "sub-src")
    commit_file(sub_src, "s.txt")
    git("-c", "protocol.file.allow=always", "submodule", "-q", "add", str(sub_src), "sub", cwd=main)
    git("commit", "-q", "-m", "add sub", cwd=main)
    super_head = git("rev-parse", "HEAD", cwd=main).stdout.strip()
    sub = main / "sub"
    (sub / "t.txt").write_text("t\n")
    git("add", "t.txt", cwd=sub)
    git("commit", "-q", "-m", "in sub", cwd=sub, env={"TRACES_TRACE_ID": "sub-trace"})
    assert _note(main / ".git" / "modules" / "sub") == "traces:sub-trace\n"
    assert "sub-trace" not in (_note(main / ".git", super_head) or "")


def test_bare_repository_commands_answer_in_one_line(tmp_path, installed):
    bare = tmp_path / "b.git"
    git("init", "-q", "--bare", str(bare))
    proc = traces_git("show", cwd=bare, check=False)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert "unexpected error" not in proc.stderr
