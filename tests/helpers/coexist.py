"""Helpers for the install/coexistence tests: real third-party tools, hook scripts, recorders."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import git, tool_path
from traces_git.setup.install import PLAIN_ENTRY


def tool(name: str) -> str:
    """Path of an npm tool that tests/run.sh installed (skip the test when absent)."""
    found = tool_path(name)
    if found is None:
        pytest.skip(f"{name} is not installed under $TRACES_GIT_TEST_TOOLS (tests/run.sh does it)")
    return found


def pre_commit_cmd() -> list[str]:
    """The real pre-commit framework, run by this Python (skip when not installed)."""
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        pytest.skip("pre-commit is not installed")
    return [sys.executable, "-m", "pre_commit"]


def need_git_lfs() -> None:
    if shutil.which("git-lfs") is None:
        pytest.skip("git-lfs is not installed")


def write_hook(path: str | os.PathLike[str], body: str) -> Path:
    """An executable sh hook with ``body``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def recording_hook(
    path: str | os.PathLike[str],
    log: str | os.PathLike[str],
    *,
    label: str | None = None,
    stdin: bool = False,
    exit_code: int = 0,
) -> Path:
    """A hook that appends "LABEL ARGS" (and its stdin into LOG.stdin) and exits ``exit_code``."""
    label = label or Path(path).name
    lines = [f'printf "%s %s\\n" {label!s} "$*" >> "{log}"']
    if stdin:
        lines.append(f'cat >> "{log}.stdin"')
    lines.append(f"exit {exit_code}")
    return write_hook(path, "\n".join(lines))


def fake_python(path: str | os.PathLike[str], log: str | os.PathLike[str]) -> Path:
    """A stand-in for the interpreter the hooks start: records "ARGS" and its stdin.

    Installed with ``install.install(python=...)`` it shows exactly when the
    dispatcher starts our Python part, with which arguments and stdin.
    """
    return write_hook(
        path,
        f'printf "%s\\n" "$*" >> "{log}"\n'
        f'cat > "{log}.stdin.$$"\n'
        f'if [ -s "{log}.stdin.$$" ]; then cat "{log}.stdin.$$" >> "{log}.stdin"; fi\n'
        f'rm -f "{log}.stdin.$$"',
    )


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


# How the dispatcher starts our Python part, as the stand-in Python logs it ("$*"); a
# stand-in is not the installing interpreter, so its code runs site itself.
PY_HOOK = "-I -S -c import site;site.main();" + PLAIN_ENTRY + " hook"


def python_calls(log: str | os.PathLike[str]) -> list[str]:
    """Hook names our (fake) Python part was started for, in order."""
    out = []
    for line in read_lines(log):
        if line.startswith(PY_HOOK + " "):
            out.append(line[len(PY_HOOK) + 1 :].split()[0])
    return out


def commit(
    repo: str | os.PathLike[str],
    message: str = "change",
    *,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: dict | None = None,
) -> subprocess.CompletedProcess[str]:
    """``git commit --allow-empty`` through all the hooks."""
    return git("commit", "--allow-empty", "-m", message, cwd=cwd or repo, check=check, env=env)


def global_hooks_path() -> str | None:
    proc = git("config", "--global", "--get", "core.hooksPath", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None
