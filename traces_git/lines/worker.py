"""The detached line-attribution worker: ``python -I -m traces_git.lines.worker CWD``.

Drains the repository's job queue (see ``queue``) under a lock, one job file at a
time; a job file goes only after its records are written.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from traces_git.constants import LINES_REF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo
    from traces_git.store import Store


class Session:
    """What computing many commits' records shares: the repo, the store, the author."""

    def __init__(self, repo: RepoInfo, config: Config) -> None:
        from traces_git import store
        from traces_git.notes import core as notes

        self.repo = repo
        self.cwd = repo.worktree or repo.common_dir
        self.author = notes.parse_author(config.get("traces.notesAuthor"))
        path = store.locate_path(config.get("traces.store"))
        self.db: Store | None = None
        if os.path.isfile(path):
            try:
                self.db = store.Store(path)
            except store.StoreError:
                self.db = None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    def process(self, sha: str, olds: Sequence[str] = ()) -> str:
        """Compute and write ``sha``'s record: "written", "unchanged" or why there is none."""
        from traces_git.lines import compute
        from traces_git.notes import core as notes

        refs = notes.attached(compute.show_note(self.cwd, sha, notes.NOTES_REF))
        old_notes = {old: compute.show_note(self.cwd, old, LINES_REF) for old in olds}
        old_traced = {
            old: bool(notes.attached(compute.show_note(self.cwd, old, notes.NOTES_REF)))
            for old in olds
        }
        rec, _ = compute.derive(
            self.cwd,
            self.repo.worktree,
            sha,
            refs,
            self.db,
            olds,
            {k: v for k, v in old_notes.items() if v},
            old_traced,
        )
        if rec is None:
            return "no traces" if not refs and not olds else "no transcript in the store"
        written = compute.store_record(self.cwd, self.repo.common_dir, sha, rec, self.author)
        return "written" if written else "unchanged"


# A worker waits this long before it starts: the commits of a burst (a rebase, a script)
# share one worker, and the user's next git command does not compete with it.
SETTLE_S = 1.0


def drain(repo: RepoInfo, config: Config) -> int:
    """Work through the queue until it is empty; the number of commits processed.

    Holds the worker lock while it works; after letting it go it looks again, so a
    job queued by a hook that saw the lock taken is never stranded.
    """
    from traces_git.lines import queue
    from traces_git.notes.core import _FileLock

    os.makedirs(queue.queue_dir(repo.common_dir), exist_ok=True)
    done = 0
    for _ in range(100):
        with _FileLock(queue.lock_path(repo.common_dir)):
            done += _drain_locked(repo, config)
        if not queue.job_files(repo.common_dir):
            break
    return done


def _drain_locked(repo: RepoInfo, config: Config) -> int:
    from traces_git import log
    from traces_git.lines import queue

    done = 0
    session = None
    try:
        for _ in range(1000):
            files = queue.job_files(repo.common_dir)
            if not files:
                break
            session = session or Session(repo, config)
            for path in files:
                for sha, olds in queue.read_job(path):
                    try:
                        outcome = session.process(sha, olds)
                    except Exception as exc:  # noqa: BLE001 - one commit, not the queue
                        outcome = f"failed: {exc}"
                        log.write(
                            f"line attribution of {sha[:12]} failed: {exc}",
                            context=repo.display,
                            exc=exc,
                        )
                    log.record_run(
                        "lines",
                        repo.display,
                        "error" if outcome.startswith("failed") else "ok",
                        f"{sha[:12]}: {outcome}",
                    )
                    done += 1
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
    finally:
        if session is not None:
            session.close()
    return done


def main(argv: list[str]) -> int:
    """``CWD COMMON_DIR``: take the worker lock, settle, then drain the queue."""
    if len(argv) != 2:
        return 2
    try:
        os.nice(10)  # background work: the user's next git command comes first
    except (AttributeError, OSError):
        pass
    held = None
    try:
        import fcntl

        held = os.open(
            os.path.join(argv[1], "traces-git-lines", "worker.lock"), os.O_RDWR | os.O_CREAT, 0o644
        )
        fcntl.flock(held, fcntl.LOCK_EX)  # hooks see it taken and start no other worker
    except (ImportError, OSError):
        pass
    try:
        time.sleep(SETTLE_S)  # before any import: the commit that started us still runs
        from traces_git.config import Config
        from traces_git.repo import RepoInfo

        repo = RepoInfo.discover(argv[0])
        config = Config.load(argv[0])
        if held is not None:
            _drain_locked(repo, config)
            os.close(held)
            held = None
        drain(repo, config)  # anything queued meanwhile (or no lock could be taken)
    except Exception as exc:  # noqa: BLE001 - detached: the log is the only place to tell
        from traces_git import log

        log.write(f"line attribution worker failed: {exc}", context=argv[0], exc=exc)
        return 1
    finally:
        if held is not None:
            os.close(held)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
