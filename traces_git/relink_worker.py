"""Relink after a fetch, in the background (``python -I -m traces_git.relink_worker``).

``reference-transaction`` calls :func:`after_fetch` when a fetch or pull moved
remote-tracking branches. That costs the fetch one look at the git process's
command line and a detached spawn; the worker waits for the ``git fetch`` to
exit (its notes are merged by then), and relinks the commits the fetch brought.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

ZERO_SHA = frozenset({"0" * 40, "0" * 64})
# Git commands whose remote-tracking updates bring no commits to relink.
_NOT_A_FETCH = frozenset({"push", "clone", "send-pack"})
MAX_WAIT_S = 30 * 60


def moved_branches(stdin_lines: list[list[str]]) -> list[tuple[str, str]]:
    """(old, new) of each remote-tracking branch a ``committed`` transaction moved forward."""
    moved = []
    for fields in stdin_lines:
        if len(fields) != 3:
            continue
        old, new, ref = fields
        if (ref.startswith("refs/remotes/") and not ref.endswith("/HEAD")
                and new not in ZERO_SHA and _hex(new) and _hex(old)):
            moved.append((old, new))
    return moved


def _hex(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)


def git_command(pid: int) -> str | None:
    """The subcommand of git process ``pid`` ("fetch", "pull", "push"), where /proc tells."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return None
    words = [a.decode("utf-8", "replace") for a in argv[1:] if a]
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("-c", "-C", "--git-dir", "--work-tree", "--namespace"):
            skip = True
            continue
        if not word.startswith("-"):
            return word
    return None


def after_fetch(repo: RepoInfo, config: Config, moved: list[tuple[str, str]]) -> dict | None:
    """Start the background relink for the commits behind ``moved``; a summary, or None."""
    if not moved or not config.get_bool("traces.relink", True):
        return None
    from traces_git import pushqueue

    process = pushqueue.git_push_process()  # the nearest git ancestor, whatever it runs
    if git_command(int(process["pid"])) in _NOT_A_FETCH:
        return None
    specs = []
    for old, new in moved:
        specs.append(new)
        if old not in ZERO_SHA:
            specs.append(f"^{old}")
    cwd = repo.worktree or repo.common_dir
    pushqueue.spawn_module(cwd, "traces_git.relink_worker",
                           [cwd, str(process["pid"]), str(process.get("start") or ""), *specs])
    return {"relink": f"started for {len(moved)} branch(es)"}


def work(cwd: str, pid: int, start: str | None, specs: list[str]) -> int:
    from traces_git import log, relink
    from traces_git.pushqueue import _lock, wait_for_exit
    from traces_git.repo import RepoInfo

    wait_for_exit(pid, start, timeout=MAX_WAIT_S)
    repo = RepoInfo.discover(cwd)
    with _lock(repo.common_dir, "relink.lock"):
        result = relink.relink(cwd, specs, message="traces-git relink after fetch")
    log.record_run("relink", repo.display, "ok",
                   f"relinked {len(result.written)} of {result.candidates} commit(s) "
                   "without a note", commits=result.written)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 4 or not argv[1].isdigit():
        return 2
    try:
        return work(argv[0], int(argv[1]), argv[2] or None, argv[3:])
    except Exception as exc:  # noqa: BLE001 - detached: the log is the only place to tell
        from traces_git import log

        log.write(f"relink after fetch failed: {exc}", context=argv[0], exc=exc)
        log.record_run("relink", argv[0], "error", f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
