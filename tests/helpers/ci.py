"""Helpers for the ``traces-git ci`` tests: remotes with notes, shallow CI checkouts, events."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import git, head

ZEROS = "0" * 40


def bare_remote(path: Path) -> tuple[Path, str]:
    """An empty bare repository and its file:// URL (``--depth`` is ignored for plain paths)."""
    git("init", "-q", "--bare", "-b", "main", str(path))
    return path, path.resolve().as_uri()


def fast_import_commits(
    repo: Path,
    branch: str,
    count: int,
    *,
    parent: str | None = None,
    prefix: str = "c",
    notes_every: int = 0,
    note_line=None,
    start_time: int = 1_700_000_000,
) -> list[str]:
    """``count`` linear commits on ``branch`` in one ``git fast-import``; returns their shas.

    With ``notes_every`` N, every Nth commit (1-based) gets a note on
    refs/notes/traces with ``note_line(i)`` (default ``traces:<prefix>-<i>``),
    written in the same stream on top of the existing notes ref.
    """
    note_line = note_line or (lambda i: f"traces:{prefix}-{i}")
    chunks: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        chunks.append(b"data %d\n" % len(raw) + raw + b"\n")

    for i in range(1, count + 1):
        chunks.append(f"commit refs/heads/{branch}\nmark :{i}\n".encode())
        chunks.append(f"committer T <t@example.com> {start_time + i} +0000\n".encode())
        data(f"{prefix} {i}\n")
        if i == 1 and parent:
            chunks.append(f"from {parent}\n".encode())
        chunks.append(f"M 100644 inline {prefix}.txt\n".encode())
        data(f"{prefix} {i}\n")
    if notes_every:
        notes_parent = git(
            "rev-parse", "--verify", "--quiet", "refs/notes/traces", cwd=repo, check=False
        ).stdout.strip()
        chunks.append(b"commit refs/notes/traces\n")
        chunks.append(f"committer T <t@example.com> {start_time + count + 1} +0000\n".encode())
        data("notes\n")
        if notes_parent:
            chunks.append(f"from {notes_parent}\n".encode())
        for i in range(notes_every, count + 1, notes_every):
            chunks.append(f"N inline :{i}\n".encode())
            data(note_line(i) + "\n")
    chunks.append(b"done\n")
    git("fast-import", "--quiet", "--done", input=b"".join(chunks), cwd=repo)
    listed = git("rev-list", "--reverse", f"-{count}", f"refs/heads/{branch}", cwd=repo)
    return listed.stdout.split()


def shallow_checkout(path: Path, url: str, sha: str) -> Path:
    """What actions/checkout does: init, add origin, fetch ONE commit, check it out."""
    git("init", "-q", str(path))
    git("remote", "add", "origin", url, cwd=path)
    git("fetch", "-q", "--no-tags", "--depth=1", "origin", sha, cwd=path)
    git("checkout", "-q", "--detach", "FETCH_HEAD", cwd=path)
    assert git("rev-parse", "--is-shallow-repository", cwd=path).stdout.strip() == "true"
    return path


def pull_request_event(
    path: Path,
    base: str,
    head_sha: str,
    *,
    commits: int | None = None,
    merged: bool = False,
    merge_commit: str | None = None,
) -> Path:
    pr: dict = {
        "number": 1,
        "base": {"sha": base, "ref": "main"},
        "head": {"sha": head_sha, "ref": "feature"},
        "merged": merged,
        "merge_commit_sha": merge_commit,
    }
    if commits is not None:
        pr["commits"] = commits
    path.write_text(
        json.dumps(
            {"action": "synchronize" if not merged else "closed", "number": 1, "pull_request": pr}
        )
    )
    return path


def push_event(
    path: Path, before: str, after: str, ref: str = "refs/heads/main", default_branch: str = "main"
) -> Path:
    path.write_text(
        json.dumps(
            {
                "ref": ref,
                "before": before,
                "after": after,
                "created": before == ZEROS,
                "deleted": after == ZEROS,
                "commits": [],
                "repository": {"default_branch": default_branch},
            }
        )
    )
    return path


def github_env(tmp: Path, event: Path | None, name: str = "pull_request") -> dict[str, str]:
    """The variables a GitHub Actions step sees, with fresh summary and output files."""
    summary = tmp / "step_summary.md"
    output = tmp / "github_output.txt"
    summary.write_text("")
    output.write_text("")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": name,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }
    if event is not None:
        env["GITHUB_EVENT_PATH"] = str(event)
    return env


def note_count(repo: Path, ref: str) -> int:
    proc = git("notes", f"--ref={ref}", "list", cwd=repo, check=False)
    return len(proc.stdout.split()) // 2 if proc.returncode == 0 else 0


def remote_note(remote: Path, sha: str) -> str | None:
    proc = git(f"--git-dir={os.fspath(remote)}", "notes", "--ref=traces", "show", sha, check=False)
    return proc.stdout if proc.returncode == 0 else None


__all__ = [
    "ZEROS",
    "bare_remote",
    "fast_import_commits",
    "shallow_checkout",
    "pull_request_event",
    "push_event",
    "github_env",
    "note_count",
    "remote_note",
    "head",
]
