"""Benchmark: what notes sync adds to git push, git fetch and git commit.

Runs in a throwaway HOME (traces-git installed there, global core.hooksPath),
against a bare remote on local disk, so the figures are our overhead and not
network time:

- ``git push`` with our hooks (pre-push queues the notes push and starts the
  detached worker) against the same push with no hooks at all; and how long
  after the push returned the note was on the remote;
- ``git fetch`` that brings new notes against the same fetch without hooks, and a
  fetch with nothing new (no hook of ours runs in a fetch: the next hook merges);
- ``git fetch`` that moves a remote-tracking branch and brings no notes, against
  the same fetch without hooks;
- ``git commit`` right after a fetch (its dispatcher starts the background merge and
  relink) and ``git commit`` with our hooks against no hooks.

Usage: python bench/sync.py [--rounds N]   (prints a Markdown table)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def git(*args: str, cwd: Path | None = None, env: dict | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def wait_for(predicate, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out waiting for the notes push")
        time.sleep(0.005)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds

    root = Path(tempfile.mkdtemp(prefix="traces-git-bench-sync-"))
    home = root / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "XDG_", "TRACES_"))}
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(home / "state"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        TRACES_EVENTSTORE=str(root / "none.db"),
        GIT_AUTHOR_NAME="B",
        GIT_AUTHOR_EMAIL="b@e",
        GIT_COMMITTER_NAME="B",
        GIT_COMMITTER_EMAIL="b@e",
    )
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    os.environ.clear()
    os.environ.update(env)
    # cwd outside any repository: a global install also configures the repo it runs in
    subprocess.run(
        [sys.executable, "-m", "traces_git", "install"], check=True, capture_output=True, cwd=root
    )
    without_hooks = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(root / "no-hooks"),
    }

    remote = root / "remote.git"
    git("init", "-q", "--bare", str(remote))
    a = root / "a"
    b = root / "b"
    git("clone", "-q", str(remote), str(a))
    for i in range(3):
        (a / f"seed{i}").write_text(str(i))
        git("add", ".", cwd=a)
        git("commit", "-q", "-m", f"seed {i}", cwd=a)
    git("push", "-q", "-u", "origin", "main", cwd=a, env={**env, **without_hooks})
    git("clone", "-q", str(remote), str(b))
    git("commit", "-q", "--allow-empty", "-m", "configure", cwd=b)  # hooks configure b

    def commit(repo: Path, i: int, extra_env: dict | None = None, trace: bool = True) -> None:
        (repo / "f.txt").write_text(f"{i} {time.time_ns()}\n")
        git("add", "f.txt", cwd=repo)
        cenv = {**env, **(extra_env or {})}
        if trace:
            cenv["TRACES_TRACE_ID"] = f"bench-{i}"
        git("commit", "-q", "-m", f"c{i}", cwd=repo, env=cenv)

    def remote_notes() -> str | None:
        proc = subprocess.run(
            ["git", "--git-dir", str(remote), "rev-parse", "-q", "--verify", "refs/notes/traces"],
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip() or None

    push_plain, push_ours, delivered = [], [], []
    fetch_plain, fetch_ours, fetch_idle = [], [], []
    fetch_relink, fetch_moved_plain, commit_after_fetch = [], [], []
    for i in range(rounds):
        commit(a, i, without_hooks, trace=False)
        push_plain.append(timed(lambda: git("push", "-q", cwd=a, env={**env, **without_hooks})))
        # a fetch that moves origin/main and brings no notes
        fetch_relink.append(timed(lambda: git("fetch", "-q", cwd=b, env=env)))
        # the next hook starts the background merge and relink
        commit_after_fetch.append(timed(lambda n=i: commit(b, 5000 + n, trace=False)))
        git("update-ref", "refs/remotes/origin/main", "origin/main~1", cwd=b)
        fetch_moved_plain.append(
            timed(lambda: git("fetch", "-q", cwd=b, env={**env, **without_hooks}))
        )
        time.sleep(0.3)  # let the relink worker finish
        commit(a, 1000 + i)
        local_notes = git("rev-parse", "refs/notes/traces", cwd=a)
        push_ours.append(timed(lambda: git("push", "-q", cwd=a, env=env)))
        delivered.append(wait_for(lambda want=local_notes: remote_notes() == want))
        time.sleep(0.3)  # let the worker exit before the next round
        fetch_ours.append(timed(lambda: git("fetch", "-q", cwd=b, env=env)))
        fetch_idle.append(timed(lambda: git("fetch", "-q", cwd=b, env=env)))
        # the same fetch of new commits and notes, without hooks, into a fresh ref
        git("update-ref", "-d", "refs/notes/remotes/origin/traces", cwd=b)
        git("update-ref", "refs/remotes/origin/main", "origin/main~1", cwd=b)
        fetch_plain.append(timed(lambda: git("fetch", "-q", cwd=b, env={**env, **without_hooks})))

    commit_full, commit_plain = [], []
    for i in range(rounds):
        commit_full.append(timed(lambda n=i: commit(b, 2000 + n, trace=False)))
        commit_plain.append(timed(lambda n=i: commit(b, 4000 + n, without_hooks, trace=False)))

    def row(label: str, values: list[float]) -> str:
        return (
            f"| {label} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} |"
        )

    print(
        f"git {git('--version').split()[-1]}, Python {sys.version.split()[0]}, "
        f"{rounds} rounds, local bare remote; times in ms\n"
    )
    print("| operation | median | min | max |")
    print("|---|---:|---:|---:|")
    print(row("git push, no hooks", push_plain))
    print(row("git push, traces-git hooks (note queued)", push_ours))
    print(row("note on the remote, after the push returned", delivered))
    print(row("git fetch of new commits + notes, no hooks", fetch_plain))
    print(row("git fetch of new commits + notes, traces-git (no hook runs)", fetch_ours))
    print(row("git fetch, nothing new, traces-git", fetch_idle))
    print(row("git fetch moving origin/main, no notes, no hooks", fetch_moved_plain))
    print(row("git fetch moving origin/main, no notes, traces-git", fetch_relink))
    print(row("git commit, no hooks", commit_plain))
    print(row("git commit, traces-git hooks", commit_full))
    print(row("git commit right after a fetch (background merge started)", commit_after_fetch))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
