"""The detached notes-push worker (``python -I -m traces_git.sync.push_worker CWD REMOTE``).

It owns both sides: the queue (``pushqueue``) and the transfer (``sync``); neither of
those imports the other's worker code, so there is no import cycle.
"""

from __future__ import annotations

import sys

from traces_git.sync.pushqueue import GUARD_ENV, _lock, quote, read_entry, settle, wait_for_exit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.repo import RepoInfo


def _refs_moved(repo: RepoInfo, remote: str, triggers: list[dict]) -> bool:
    """Did any ref these pushes sent change on the remote? (No for dry runs and rejections.)

    "Changed" rather than "is the pushed sha": when someone else pushed over
    the user's ref in the meantime we would rather send notes for nothing than
    hold back the notes of a push that happened.
    """
    from traces_git import gitcmd

    before: dict[str, set[str]] = {}
    for trigger in triggers:
        for item in trigger.get("refs", []):
            remote_ref, old = item[0], item[2] if len(item) > 2 else None
            before.setdefault(remote_ref, set()).add(old or "")
    if not before:
        return False
    proc = gitcmd.run(
        ["ls-remote", remote, *sorted(before)],
        repo.worktree or repo.common_dir,
        check=False,
        env={GUARD_ENV: "1", "GIT_TERMINAL_PROMPT": "0"},
        timeout=120,
    )
    if proc.returncode != 0:
        from traces_git.errors import GitError

        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"cannot list {remote}'s refs: {lines[-1] if lines else 'ls-remote failed'}")
    now: dict[str, str] = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        sha, _, ref = line.partition("\t")
        now[ref] = sha
    zero = {"", "0" * 40, "0" * 64}
    for ref, olds in before.items():
        current = now.get(ref, "")
        if not any(current == old or (current == "" and old in zero) for old in olds):
            return True
    return False


# How long a notes push waits for pending line records (traces_git.lines) to be written.
LINES_WAIT_S = 20.0


def work(cwd: str, remote: str) -> int:
    """The worker: handle ``remote``'s queue entry until it is empty or only a retry is left."""
    from traces_git import log
    from traces_git.config import Config
    from traces_git.errors import TracesGitError
    from traces_git.repo import RepoInfo
    from traces_git.sync import transfer as sync

    repo = RepoInfo.discover(cwd)
    common = repo.common_dir
    lock_name = f"push-{quote(remote, safe='')}.lock"
    with _lock(common, lock_name):
        for _ in range(100):  # each round handles the triggers queued so far
            entry = read_entry(common, remote)
            if entry is None:
                return 0
            triggers = list(entry.get("triggers", []))
            for trigger in triggers:
                wait_for_exit(int(trigger.get("pid", 0)), trigger.get("start"))
            error: str | None = None
            try:
                needed = entry.get("retry", False) or _refs_moved(repo, remote, triggers)
                if needed:  # a commit pushed right away: its line record is seconds away
                    from traces_git.lines import queue as lines_queue

                    lines_queue.wait_idle(common, LINES_WAIT_S)
                if needed:
                    config = Config.load(cwd)
                    result = sync.transfer(
                        repo, config, remote, fetch_first=False, attempts=8, background=True
                    )
                    log.record_run(
                        "notes-push",
                        repo.display,
                        "ok",
                        f"{remote}: {result['outcome']}",
                        remote=remote,
                    )
                else:
                    log.record_run(
                        "notes-push",
                        repo.display,
                        "skipped",
                        f"{remote}: pushed refs did not move (dry run or rejected)",
                        remote=remote,
                    )
            except (TracesGitError, OSError) as exc:
                error = str(exc)
                log.write(f"notes push to {remote} failed: {error}", context=repo.display)
                log.record_run(
                    "notes-push", repo.display, "error", f"{remote}: {error}", remote=remote
                )
            if settle(common, remote, entry.get("generation"), triggers, error):
                return 0
            if error is not None:
                entry = read_entry(common, remote)
                if not entry or not entry.get("triggers"):
                    return 1  # stays queued for the next push, commit or sync
    return 0


def fetch_only(cwd: str, remote: str) -> int:
    """Fetch ``remote``'s notes and merge them in (no push)."""
    from traces_git import log
    from traces_git.config import Config
    from traces_git.repo import RepoInfo
    from traces_git.sync import transfer as sync

    repo = RepoInfo.discover(cwd)
    # The push worker's lock: two of our fetches into the same ref would collide.
    with _lock(repo.common_dir, f"push-{quote(remote, safe='')}.lock"):
        for ref in sync.SYNCED_REFS:
            oid = sync.fetch_notes(repo, remote, background=True, ref=ref)
            if oid is not None:
                result = sync.merge_tracking(repo, Config.load(cwd), remote, oid, ref=ref)
                what = "" if ref == sync.NOTES_REF else f" ({ref.removeprefix('refs/notes/')})"
                log.record_run(
                    "notes-fetch",
                    repo.display,
                    "ok",
                    f"{remote}{what}: {result['result']}, {result['changed']} note(s) changed",
                    remote=remote,
                )
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[2] == "--fetch-only":
        runner = fetch_only
    elif len(argv) == 2:
        runner = work
    else:
        return 2
    try:
        return runner(argv[0], argv[1])
    except Exception as exc:  # noqa: BLE001 - detached: the log is the only place to tell
        from traces_git import log

        log.write(f"notes push worker failed: {exc}", context=argv[0], exc=exc)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
