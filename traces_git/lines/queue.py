"""The hand-off from the hooks to the line-attribution worker: job files and a detached spawn.

Imported on the post-commit path: os and sys only. A job file is written
atomically (tmp + rename) and removed only after its records are written, so a
SIGKILL at any point leaves either no job (nothing asked yet) or a job that the
next worker (or ``traces-git lines backfill``) does again; writing a record is
idempotent.
"""

from __future__ import annotations

import os
import sys

from traces_git import paths

TYPE_CHECKING = False  # typing costs milliseconds on the post-commit path
if TYPE_CHECKING:
    from traces_git.repo import RepoInfo


def queue_dir(common_dir: str) -> str:
    """Beside the repository's other traces-git bookkeeping in its git dir (the notes lock):
    the state dir's per-repository key needs hashlib, ~5 ms to import on every commit."""
    return os.path.join(common_dir, "traces-git-lines")


def enqueue(common_dir: str, jobs: list[tuple[str, list[str]]]) -> str | None:
    """Queue (commit, [rewritten-from commits]) jobs; the job file's path."""
    lines = [
        " ".join([sha, *olds])
        for sha, olds in jobs
        if _is_sha(sha) and all(_is_sha(old) for old in olds)
    ]
    if not lines:
        return None
    directory = queue_dir(common_dir)
    os.makedirs(directory, exist_ok=True)
    import time

    name = f"{time.time_ns()}-{os.getpid()}.job"
    tmp = os.path.join(directory, f".{name}.tmp")
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(directory, name))
    return os.path.join(directory, name)


def read_job(path: str) -> list[tuple[str, list[str]]]:
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read(10_000_000)
    except (OSError, UnicodeDecodeError):
        return []
    jobs = []
    for line in text.splitlines():
        fields = line.split()
        if fields and all(_is_sha(f) for f in fields):
            jobs.append((fields[0].lower(), [f.lower() for f in fields[1:]]))
    return jobs


def job_files(common_dir: str) -> list[str]:
    directory = queue_dir(common_dir)
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".job"))
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names]


def _is_sha(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdefABCDEF" for c in value)


def spawn(cwd: str, common_dir: str) -> None:
    """Start ``python -I -m traces_git.lines.worker CWD COMMON_DIR`` detached (own session,
    no pipes)."""
    from traces_git import gitcmd

    cmd = [sys.executable, "-I", "-m", "traces_git.lines.worker", cwd, common_dir]
    log_path = paths.location("state", "lines-worker.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    from traces_git import detach

    detach.spawn(cmd, gitcmd.clean_env(), cwd=cwd, output=log_path)


def lock_path(common_dir: str) -> str:
    return os.path.join(queue_dir(common_dir), "worker.lock")


def worker_running(common_dir: str) -> bool:
    """Does a worker hold the lock? (It looks at the queue again before it exits.)"""
    from traces_git import procs

    return procs.lock_held(lock_path(common_dir), create=True)


def hand_off(repo: RepoInfo, commit: str, rewritten_from: list[str] | None = None) -> None:
    """From a hook: queue ``commit`` and start a worker unless one runs. Never raises."""
    try:
        if enqueue(repo.common_dir, [(commit, list(rewritten_from or []))]) and not worker_running(
            repo.common_dir
        ):
            spawn(repo.worktree or repo.common_dir, repo.common_dir)
    except Exception as exc:  # noqa: BLE001 - attribution is never in the way of a commit
        from traces_git import log

        log.write(f"queueing line attribution failed: {exc}", context=repo.display, exc=exc)


def wait_idle(common_dir: str, timeout: float) -> bool:
    """Wait until no job is queued and no worker runs (the notes push worker, so that a push
    right after a commit carries its line record); False on timeout."""
    import time

    deadline = time.monotonic() + timeout
    while job_files(common_dir) or worker_running(common_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
