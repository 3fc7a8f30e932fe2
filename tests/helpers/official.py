"""The official Traces CLI's git hooks in a test repository: the real `traces setup git`,
or (where the binary is not installed) the same files written as 0.6.31 writes them."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.helpers import tool_path

TRACES = tool_path("traces")
START = "# >>> traces hooks (do not edit)"
END = "# <<< traces hooks"
HOOKS = ("post-commit", "pre-merge-commit", "post-merge", "pre-push")


def block(hook: str) -> str:
    call = f'"$(git rev-parse --git-common-dir 2>/dev/null)/hooks/traces-{hook}"'
    args = "" if hook == "post-commit" else ' "$@"'
    return f"{START}\nif [ -x {call} ]; then\n  {call}{args}\nfi\n{END}"


def _executable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def fake_setup(repo: Path) -> None:
    """What `traces setup git` 0.6.31 writes (scripts reduced to their first lines)."""
    hooks = Path(repo) / ".git" / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    for hook in HOOKS:
        script = hooks / f"traces-{hook}"
        script.write_text(
            f"#!/bin/sh\n# traces {hook} hook -- dispatches to the traces CLI.\n"
            "# Installed by: traces setup git\n"
            "command -v traces >/dev/null 2>&1 || exit 0\nexit 0\n"
        )
        _executable(script)
        target = hooks / hook
        if target.exists():
            text = target.read_text().rstrip("\n")
            target.write_text(f"{text}\n\n{block(hook)}\n")
        else:
            target.write_text(f"#!/bin/sh\n\n{block(hook)}\n")
        _executable(target)
    subprocess.run(
        ["git", "config", "--local", "--add", "notes.rewriteRef", "refs/notes/traces"],
        cwd=repo,
        check=True,
    )


def official(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [TRACES, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"traces {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def setup(repo: Path) -> None:
    """The real `traces setup git` when the binary is installed, else :func:`fake_setup`."""
    if TRACES:
        official("setup", "git", cwd=repo)
    else:
        fake_setup(repo)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}
