"""`.ci/run`'s own check: the suite must leave the checkout as it found it.

The check runs on whatever checkout CI makes (a clone without hook templates,
a linked worktree, a directory git will not read), so each of those is tried
here against a copy of the real scripts, with a stand-in `tests/run.sh`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, init_repo

PASSING_SUITE = "#!/bin/sh\nexit 0\n"


def _project(tmp_path: Path, suite: str = PASSING_SUITE) -> Path:
    """A repository holding copies of .ci/run and .ci/checkout-state and a stand-in suite."""
    origin = init_repo(tmp_path / "origin")
    (origin / ".ci").mkdir()
    for name in ("run", "checkout-state"):
        shutil.copy2(ROOT / ".ci" / name, origin / ".ci" / name)
    (origin / "tests").mkdir()
    (origin / "tests" / "run.sh").write_text(suite)
    (origin / ".gitignore").write_text(".venv/\n")
    git("add", "-A", cwd=origin)
    git("commit", "-q", "-m", "project", cwd=origin)
    return origin


def _run(checkout: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(checkout / ".ci" / script)], capture_output=True, text=True, cwd=checkout
    )


def test_state_of_a_clone_without_hook_templates_is_clean(tmp_path):
    origin = _project(tmp_path)
    clone = tmp_path / "clone"
    git("clone", "-q", "--template=", str(origin), str(clone))
    assert not (clone / ".git" / "hooks").exists()

    state = _run(clone, "checkout-state")

    assert state.returncode == 0, state.stderr
    assert state.stdout.strip() == ""


def test_state_names_untracked_files_and_hook_scripts(tmp_path):
    origin = _project(tmp_path)
    (origin / "lefthook.yml").write_text("x\n")
    (origin / ".venv").mkdir()
    (origin / ".venv" / "ignored").write_text("x\n")
    hook = origin / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\n")

    state = _run(origin, "checkout-state").stdout.splitlines()

    assert "?? lefthook.yml" in state
    assert "hook: .git/hooks/pre-commit" in state
    assert not any(".venv" in line for line in state)
    assert not any(line.endswith(".sample") for line in state)


def test_state_in_a_linked_worktree_and_outside_git(tmp_path):
    origin = _project(tmp_path)
    worktree = tmp_path / "wt"
    git("worktree", "add", "-q", str(worktree), "HEAD", cwd=origin)
    assert (worktree / ".git").is_file()

    state = _run(worktree, "checkout-state")
    assert state.returncode == 0, state.stderr
    assert state.stdout.strip() == ""

    exported = tmp_path / "exported"
    shutil.copytree(origin / ".ci", exported / ".ci")
    outside = _run(exported, "checkout-state")
    assert outside.returncode == 0
    assert outside.stdout.startswith("git status unavailable")


def test_run_passes_when_the_suite_leaves_the_checkout_alone(tmp_path):
    origin = _project(tmp_path)
    clone = tmp_path / "clone"
    git("clone", "-q", "--template=", str(origin), str(clone))
    (clone / "ci-output.log").write_text("written by CI before the run\n")

    result = _run(clone, "run")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "suite, left",
    [
        ("#!/bin/sh\ntouch left-behind.txt\n", "?? left-behind.txt"),
        (
            '#!/bin/sh\nprintf "#!/bin/sh\\n" > "$(git rev-parse --git-path hooks)/post-commit"\n',
            "hook: .git/hooks/post-commit",
        ),
    ],
)
def test_run_fails_when_the_suite_changes_the_checkout(tmp_path, suite, left):
    origin = _project(tmp_path, suite)
    clone = tmp_path / "clone"
    git("clone", "-q", str(origin), str(clone))

    result = _run(clone, "run")

    assert result.returncode == 1
    assert "changed the checkout" in result.stderr
    assert left in result.stderr


def test_run_propagates_a_failing_suite(tmp_path):
    origin = _project(tmp_path, "#!/bin/sh\nexit 3\n")

    assert _run(origin, "run").returncode == 3
