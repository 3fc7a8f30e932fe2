"""Run git. Every git subprocess traces-git starts goes through here.

Git runs hooks with variables such as ``GIT_DIR`` and ``GIT_INDEX_FILE`` set
(even relative ones); a child git that works on another repository, or that
outlives the hook, must not inherit them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from traces_git.errors import GitError

# Variables that tie a git process to one repository/worktree/index.
_REPO_BOUND_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without the variables that bind git to a repository."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_BOUND_VARS}
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in ``cwd`` with a clean environment; raise GitError on failure."""
    full_env = clean_env(env)
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            env=full_env,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0] if args else ''} timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = message[-1] if message else f"exit code {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {reason}")
    return proc


def out(args: Sequence[str], cwd: str | os.PathLike[str] | None = None, **kwargs) -> str:
    """Run git and return its stdout as text without the trailing newline."""
    return run(args, cwd, **kwargs).stdout.decode("utf-8", "surrogateescape").rstrip("\n")
