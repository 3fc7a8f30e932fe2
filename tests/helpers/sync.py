"""Helpers for the notes-sync tests: bare remotes, clones, waiting for the background pusher."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.helpers import commit_file, git, init_repo
from traces_git import log
from traces_git.sync import pushqueue


def make_remote(tmp_path: Path, name: str = "remote.git") -> Path:
    """A bare remote with one commit on main (pushed without notes)."""
    remote = tmp_path / name
    git("init", "-q", "--bare", "-b", "main", str(remote))
    seed = init_repo(tmp_path / f"seed-{name}")
    commit_file(seed, "README.md", "seed\n", "seed")
    git("push", "-q", str(remote), "main", cwd=seed, env={"TRACES_GIT": "0"})
    return remote


def clone(remote: Path, path: Path, *extra: str) -> Path:
    git("clone", "-q", *extra, str(remote), str(path))
    return Path(os.path.realpath(path))


def commit_with_trace(repo: Path, trace_id: str, name: str | None = None) -> str:
    """A real commit whose post-commit hook attaches ``trace_id`` (TRACES_TRACE_ID)."""
    name = name or f"{trace_id}.txt"
    target = Path(repo) / name
    target.write_text(f"{trace_id} {time.time_ns()}\n")
    git("add", "--", name, cwd=repo)
    git("commit", "-q", "-m", f"work for {trace_id}", cwd=repo, env={"TRACES_TRACE_ID": trace_id})
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def common_dir(repo: Path) -> str:
    out = git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=repo).stdout.strip()
    return os.path.normpath(out)


def wait_settled(*repos: Path, timeout: float = 60.0) -> None:
    """Wait until no notes-push worker of these repositories is pending or running."""
    deadline = time.monotonic() + timeout
    for repo in repos:
        common = common_dir(repo)
        while not pushqueue.settled(common):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"notes push of {repo} still running after {timeout} s: "
                    f"{pushqueue.entries(common)}"
                )
            time.sleep(0.05)


def queued(repo: Path) -> list[dict]:
    return pushqueue.entries(common_dir(repo))


def remote_note_lines(remote: Path, sha: str) -> list[str]:
    """The lines of ``sha``'s note on the bare remote ([] when none)."""
    proc = git("--git-dir", str(remote), "notes", "--ref=traces", "show", sha, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else []


def note_lines(repo: Path, sha: str) -> list[str]:
    proc = git("notes", "--ref=traces", "show", sha, cwd=repo, check=False)
    if proc.returncode != 0:
        return []
    return [line for line in proc.stdout.splitlines() if line.strip()]


def ref(repo: Path, name: str) -> str | None:
    proc = git("rev-parse", "--verify", "-q", name, cwd=repo, check=False)
    return proc.stdout.strip() or None


def remote_ref(remote: Path, name: str) -> str | None:
    proc = git("--git-dir", str(remote), "rev-parse", "--verify", "-q", name, check=False)
    return proc.stdout.strip() or None


def runs(hook: str | None = None) -> list[dict]:
    found = log.recent_runs(limit=10_000)
    return [r for r in found if hook is None or r.get("hook") == hook]


def read_queue_file(repo: Path, remote: str = "origin") -> tuple[Path, dict]:
    path = Path(pushqueue._entry_path(common_dir(repo), remote))
    return path, json.loads(path.read_text())


def wait_fetched(repo: Path, timeout: float = 60.0) -> None:
    """Wait until the background merge and relink after the last fetch are done: the seen
    file carries the mtime of the FETCH_HEAD it handled (traces_git.sync.fetched)."""
    from traces_git.notes import tracking

    git_dir = git("rev-parse", "--absolute-git-dir", cwd=repo).stdout.strip()
    deadline = time.monotonic() + timeout
    while tracking.pending(git_dir, common_dir(repo)):
        if time.monotonic() > deadline:
            raise AssertionError(f"the fetch in {repo} was not merged after {timeout} s")
        time.sleep(0.05)


def fetch_then_hook(repo: Path, *fetch_args: str) -> None:
    """A user's plain `git fetch` (no hook of ours runs in it), then the next hook that
    runs (a `git checkout` of the current HEAD: post-checkout); wait for what it started."""
    git("fetch", "-q", *fetch_args, cwd=repo)
    git("checkout", "-q", "HEAD", cwd=repo)
    wait_fetched(repo)
