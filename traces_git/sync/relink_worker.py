"""Relink after a fetch, in the background (``python -I -m traces_git.sync.relink_worker``).

``git fetch`` commits each ref it updates in a transaction of its own, so
``reference-transaction`` may fire once per moved branch. The first call for a
``git fetch`` process (or ``git pull``'s fetch) creates the marker
``<common dir>/traces-git-relink.<pid>`` holding the remote-tracking refs as
they were before that fetch (the refs not yet moved, and the moved ones' old
values), and starts one detached worker; while the marker exists the
dispatcher starts no Python for that process's later ref updates. The worker
waits for the fetch to exit (its notes are merged by then), relinks what the
fetch brought (every remote-tracking branch now, minus the tips from before),
and removes the marker. ``git fetch`` itself never waits for the matching.
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
MARKER_PREFIX = "traces-git-relink."
PUSH_PID_FILE = "traces-git-push.pid"  # written by the dispatcher's pre-push


def moved_branches(stdin_lines: list[list[str]]) -> dict[str, str]:
    """{ref: old sha} of each existing remote-tracking branch a ``committed`` transaction
    moved (one it created, as in a clone, brings nothing a relink could know of)."""
    moved = {}
    for fields in stdin_lines:
        if len(fields) != 3:
            continue
        old, new, ref = fields
        if (
            ref.startswith("refs/remotes/")
            and not ref.endswith("/HEAD")
            and new not in ZERO_SHA
            and old not in ZERO_SHA
            and _hex(new)
            and _hex(old)
        ):
            moved[ref] = old
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
    skip = False
    for raw in argv[1:]:
        word = raw.decode("utf-8", "replace")
        if skip:
            skip = False
        elif word in ("-c", "-C", "--git-dir", "--work-tree", "--namespace"):
            skip = True
        elif word and not word.startswith("-"):
            return word
    return None


def marker_path(common_dir: str, pid: int) -> str:
    return os.path.join(common_dir, f"{MARKER_PREFIX}{pid}")


def after_fetch(repo: RepoInfo, config: Config, moved: dict[str, str]) -> dict | None:
    """Start the one background relink for this fetch; a summary, or None."""
    if not moved or not config.get_bool("traces.relink", True):
        return None
    # The hook's parent is the git process that runs the transaction (the dispatcher is
    # sh, exec'd by git): the same $PPID the dispatcher checks the marker with.
    from traces_git import gitcmd
    from traces_git.sync import pushqueue

    process = pushqueue.git_push_process()  # the nearest `git` ancestor
    git_pid = int(process["pid"])
    sweep(repo.common_dir)
    marker = marker_path(repo.common_dir, git_pid)
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None  # this fetch's worker is already on its way
    if git_command(git_pid) in _NOT_A_FETCH:
        os.close(fd)  # the marker alone: no Python for this process's other refs
        return None
    code, out = gitcmd.fast(
        ["for-each-ref", "--format=%(objectname) %(refname)", "refs/remotes/"],
        repo.worktree or repo.common_dir,
    )
    before = {}
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        sha, _, ref = line.partition(" ")
        if not ref.endswith("/HEAD"):  # a symref: already the new value of what it names
            before[ref] = sha
    before.update(moved)  # these moved already: their old values
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            "".join(f"{sha} {ref}\n" for ref, sha in before.items() if sha not in ZERO_SHA)
        )
    start = str(process.get("start") or "")
    cwd = repo.worktree or repo.common_dir
    pushqueue.spawn_module(cwd, "traces_git.sync.relink_worker", [cwd, str(git_pid), start])
    return {"relink": f"started after {git_command(git_pid) or 'a fetch'}"}


def sweep(common_dir: str) -> None:
    """Remove the markers of git processes that are gone (their worker never ran)."""
    from traces_git.sync.pushqueue import process_alive

    try:
        names = os.listdir(common_dir)
    except OSError:
        return
    for name in names:
        pid = name[len(MARKER_PREFIX) :] if name.startswith(MARKER_PREFIX) else ""
        if pid.isdigit() and not process_alive(int(pid)):
            try:
                os.unlink(os.path.join(common_dir, name))
            except OSError:
                pass


def remove_files(common_dir: str) -> None:
    """On uninstall: the push pid file and the markers of finished git processes."""
    sweep(common_dir)
    try:
        os.unlink(os.path.join(common_dir, PUSH_PID_FILE))
    except OSError:
        pass


def read_marker(path: str) -> dict[str, str]:
    before = {}
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            for line in handle:
                sha, _, ref = line.strip().partition(" ")
                if _hex(sha) and ref.startswith("refs/remotes/"):
                    before[ref] = sha
    except OSError:
        pass
    return before


def specs_since(cwd: str, before: dict[str, str]) -> list[str]:
    """rev-list arguments for what arrived: each remote-tracking tip now, minus every tip before."""
    from traces_git import gitcmd

    now = {}
    for line in gitcmd.out(
        ["for-each-ref", "--format=%(objectname) %(refname)", "refs/remotes/"], cwd
    ).splitlines():
        sha, _, ref = line.partition(" ")
        if not ref.endswith("/HEAD"):
            now[ref] = sha
    new = sorted({sha for ref, sha in now.items() if before.get(ref) != sha})
    if not new:
        return []
    return new + sorted({f"^{sha}" for sha in before.values()})


def work(cwd: str, pid: int, start: str | None) -> int:
    from traces_git import log
    from traces_git.repo import RepoInfo
    from traces_git.sync import relink
    from traces_git.sync.pushqueue import _lock, wait_for_exit

    repo = RepoInfo.discover(cwd)
    marker = marker_path(repo.common_dir, pid)
    try:
        wait_for_exit(pid, start, timeout=MAX_WAIT_S)
        specs = specs_since(cwd, read_marker(marker))
        with _lock(repo.common_dir, "relink.lock"):
            result = (
                relink.relink(cwd, specs, message="traces-git relink after fetch")
                if specs
                else relink.Result()
            )
    finally:
        try:
            os.unlink(marker)
        except FileNotFoundError:
            pass
    log.record_run(
        "relink",
        repo.display,
        "ok",
        f"relinked {len(result.written)} of {result.candidates} commit(s) without a note",
        commits=result.written,
    )
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[1].isdigit():
        return 2
    try:
        return work(argv[0], int(argv[1]), argv[2] or None)
    except Exception as exc:  # noqa: BLE001 - detached: the log is the only place to tell
        from traces_git import log

        log.write(f"relink after fetch failed: {exc}", context=argv[0], exc=exc)
        log.record_run("relink", argv[0], "error", f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
