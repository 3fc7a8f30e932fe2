"""Git's own behaviour, byte for byte (issue 18, g): a repository's hooks run through
traces-git's dispatcher exactly as plain git runs them — exit codes, output, git's hint
for a non-executable hook, nested commits from a post-commit hook, CRLF shebangs,
symlinked hooks. Each case runs the same commands in two identical repositories: one
under plain git (no global hooks path), one with traces-git installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import git, init_repo, note_ids


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    plain = init_repo(tmp_path / "plain")
    ours = init_repo(tmp_path / "ours")
    for repo in (plain, ours):
        (repo / "a.txt").write_text("a\n")
        git("add", "a.txt", cwd=repo, env=_PLAIN)
        git("commit", "-q", "--no-verify", "-m", "initial", cwd=repo, env=_PLAIN)
    return plain, ours


_PLAIN = {"GIT_CONFIG_GLOBAL": os.devnull}


def _hook(repo: Path, name: str, body: bytes, mode: int = 0o755) -> Path:
    path = repo / ".git" / "hooks" / name
    path.write_bytes(body)
    path.chmod(mode)
    return path


def _both(plain: Path, ours: Path, *args: str, env: dict | None = None):
    """(plain git's result, traces-git's result) of ``git ARGS`` in each repository."""
    results = []
    for repo, extra in ((plain, _PLAIN), (ours, {})):
        results.append(
            subprocess.run(
                ["git", *args],
                cwd=repo,
                capture_output=True,
                env={**os.environ, **extra, **(env or {})},
            )
        )
    return results


def _same(plain, ours) -> None:
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )


@pytest.mark.parametrize("advice", [None, "false"])
def test_non_executable_hook_gets_gits_hint(tmp_path, installed, advice):
    plain, ours = _pair(tmp_path)
    for repo in (plain, ours):
        _hook(repo, "pre-commit", b"#!/bin/sh\necho never\nexit 1\n", 0o644)
        if advice:
            git("config", "advice.ignoredHook", advice, cwd=repo, env=_PLAIN)
    a, b = _both(plain, ours, "commit", "-q", "--allow-empty", "-m", "x")
    _same(a, b)
    assert (b"hint: The '.git/hooks/pre-commit' hook was ignored" in a.stderr) == (not advice)


@pytest.mark.parametrize("hook", ["pre-commit", "post-commit"])
def test_crlf_shebang_fails_as_under_git(tmp_path, installed, hook):
    plain, ours = _pair(tmp_path)
    for repo in (plain, ours):
        _hook(repo, hook, b"#!/bin/sh\r\necho crlf\r\n")
    a, b = _both(plain, ours, "commit", "-q", "--allow-empty", "-m", "x")
    _same(a, b)
    assert b"cannot run .git/hooks/" + hook.encode() in a.stderr


def test_symlinked_hooks_run_as_under_git(tmp_path, installed):
    plain, ours = _pair(tmp_path)
    for repo in (plain, ours):
        scripts = repo / "scripts dir"
        scripts.mkdir()
        check = scripts / "check.sh"
        check.write_text(
            '#!/bin/sh\necho "checking $(basename "$0")"\necho to-stderr >&2\nexit 3\n'
        )
        check.chmod(0o755)
        os.symlink(
            os.path.join("..", "..", "scripts dir", "check.sh"),
            repo / ".git" / "hooks" / "pre-commit",
        )
        os.symlink("/nonexistent/hook", repo / ".git" / "hooks" / "commit-msg")  # dangling
    a, b = _both(plain, ours, "commit", "-q", "--allow-empty", "-m", "x")
    _same(a, b)
    assert a.returncode == 1 and b"checking pre-commit\nto-stderr\n" == a.stderr


def test_a_commit_made_by_a_post_commit_hook_runs_its_own_hooks(tmp_path, installed):
    plain, ours = _pair(tmp_path)
    body = (
        b'#!/bin/sh\necho "post-commit for $(git log -1 --format=%s)" >> .git/seen\n'
        b"if ! [ -f .git/nested ]; then\n  touch .git/nested\n"
        b"  git commit -q --allow-empty -m nested\nfi\n"
    )
    for repo in (plain, ours):
        _hook(repo, "post-commit", body)
    a, b = _both(
        plain,
        ours,
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "outer",
        env={"TRACES_TRACE_ID": "nested-trace"},
    )
    _same(a, b)
    seen = (plain / ".git" / "seen").read_text()
    assert seen == "post-commit for outer\npost-commit for nested\n"
    assert (ours / ".git" / "seen").read_text() == seen
    # and traces-git attached to both commits, as their own post-commits ran
    assert note_ids(ours, "HEAD") == ["nested-trace"]
    assert note_ids(ours, "HEAD~1") == ["nested-trace"]


def test_a_wrapper_calling_our_stub_again_still_runs_once(tmp_path, installed):
    """The guard the nested-commit case must not break: a repository hook that execs a
    copy of our hook for the same name does not make everything run twice."""
    plain, ours = _pair(tmp_path)
    hooks_dir = git("config", "--global", "core.hooksPath", cwd=ours).stdout.strip()
    _hook(
        ours,
        "pre-commit",
        f'#!/bin/sh\necho wrapped >> .git/seen\nexec "{hooks_dir}/pre-commit" "$@"\n'.encode(),
    )
    proc = git("commit", "-q", "--allow-empty", "-m", "x", cwd=ours)
    assert proc.returncode == 0
    assert (ours / ".git" / "seen").read_text() == "wrapped\n"
