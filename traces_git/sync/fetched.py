"""After a fetch: merge the notes it brought and relink the commits it brought.

No hook of ours runs during ``git fetch``: git 2.39 runs ``reference-transaction``
twice per ref a non-atomic fetch moves, one process start each, so a fetch of
1,000 new tags paid seconds for a hook that had nothing to do with them. The
fetch refspec brings the notes into the tracking refs by itself; the merge and the
relink wait for the next hook (post-commit, post-merge, post-checkout,
post-rewrite, pre-push). There the dispatcher sees ``FETCH_HEAD`` newer than
``<common dir>/traces-git-fetch-seen`` (:mod:`traces_git.notes.tracking`) and starts
``traces-git hook fetched <git pid>`` in the background, which starts this
module's detached worker (``python -I -m traces_git.sync.fetched``). The worker
waits for that git command to exit (a rebase copies notes at its end), then:

1. merges every tracking notes ref that moved since the last run into ours;
2. relinks what the fetch brought when it moved an existing remote-tracking
   branch (every remote-tracking tip now, minus every tip at the last run);
3. records the refs it handled in the seen file, whose mtime becomes the
   ``FETCH_HEAD`` it handled: a fetch meanwhile leaves ``FETCH_HEAD`` newer, and the
   next hook starts it again.

``git pull`` merges at once: its post-merge hook merges the notes in the
foreground (:func:`merge_pending`), the worker relinks. Until the merge, views read
the tracking refs beside ours (:func:`traces_git.notes.tracking.reader_refs`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from traces_git.constants import NOTES_REF
from traces_git.notes import tracking

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

MAX_WAIT_S = 30 * 60
LOCK = "fetched.lock"
# The git pid the dispatcher last started a worker for (it starts one per git command).
STARTED_FILE = "traces-git-fetch-started"
# Files of the reference-transaction design before this one, removed on uninstall.
_OLD_FILES = ("traces-git-push.pid", "traces-git-head-move")
_OLD_MARKER_PREFIX = "traces-git-relink."


@dataclass
class CatchUp:
    """What one run did: ``pending`` False when no fetch was waiting."""

    pending: bool = True
    merged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    relinked: list[str] = field(default_factory=list)
    candidates: int = 0

    def detail(self) -> str:
        parts = [*self.merged, *self.failed]
        if self.candidates or self.relinked:
            parts.append(
                f"relinked {len(self.relinked)} of {self.candidates} commit(s) without a note"
            )
        return "; ".join(parts) or "nothing new"


# --- the seen file ----------------------------------------------------------------


def seen_path(common_dir: str) -> str:
    return os.path.join(common_dir, tracking.SEEN_FILE)


def read_seen(common_dir: str) -> dict[str, str] | None:
    """{ref: sha} as the last run left them; None when no run left any."""
    try:
        with open(seen_path(common_dir), encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    seen = {}
    for line in lines:
        sha, _, ref = line.partition(" ")
        if _hex(sha) and ref.startswith(("refs/remotes/", tracking.TRACKING_PREFIX)):
            seen[ref] = sha
    return seen


def write_seen(common_dir: str, refs: dict[str, str], mark_ns: int | None) -> None:
    """Replace the seen file (atomically); its mtime is ``mark_ns``, the FETCH_HEAD handled."""
    path = seen_path(common_dir)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write("".join(f"{sha} {ref}\n" for ref, sha in sorted(refs.items())))
        if mark_ns is not None:
            os.utime(tmp, ns=(_not_future(mark_ns),) * 2)
        os.replace(tmp, path)
    except OSError:
        try:  # every hook after the fetch tries again: leave no file per try
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _not_future(mark_ns: int) -> int:
    """A FETCH_HEAD dated in the future (a clock set back) is not copied: every real fetch
    until that date would look handled. (Until then each hook starts the merge again.)"""
    import time

    return min(mark_ns, time.time_ns())


def hold(repo: RepoInfo) -> None:
    """Switched off (``traces.enabled=false``): merge nothing, but mark the fetch handed
    over (the seen file's mtime alone), or every later hook would start Python for it.
    The refs it lists stay as they were: once switched on, the next fetch merges all
    that moved since."""
    mark = tracking.fetch_head_mtime(repo.git_dir)
    if mark is None:
        return
    try:
        if os.path.lexists(seen_path(repo.common_dir)):
            os.utime(seen_path(repo.common_dir), ns=(_not_future(mark),) * 2)
        else:
            write_seen(repo.common_dir, {}, mark)  # {}: as if none, every tracking ref is new
    except OSError:
        pass  # a read-only git dir: the hooks keep starting us, nothing worse


def remote_refs(cwd: str) -> dict[str, str]:
    """{ref: sha} of every remote-tracking branch and tracking notes ref (one git process)."""
    from traces_git import gitcmd

    fields = "--format=%(objectname) %(refname)"
    out = gitcmd.fast_out(["for-each-ref", fields, "refs/remotes/", tracking.TRACKING_PREFIX], cwd)
    refs = {}
    for line in out.splitlines():
        sha, _, ref = line.partition(" ")
        if ref and not ref.endswith("/HEAD"):  # a symref: the value of the branch it names
            refs[ref] = sha
    return refs


def write_baseline(repo: RepoInfo) -> None:
    """Record the remote refs as they are, when nothing is recorded yet (after a clone):
    the first fetch then relinks what it brings."""
    if read_seen(repo.common_dir) is not None:
        return
    write_seen(repo.common_dir, remote_refs(_cwd(repo)), tracking.fetch_head_mtime(repo.git_dir))


def remove_files(common_dir: str) -> None:
    """On uninstall: the seen file, and what the design before it left in the git dir."""
    for name in (tracking.SEEN_FILE, STARTED_FILE, *_OLD_FILES):
        try:
            os.unlink(os.path.join(common_dir, name))
        except OSError:
            pass
    try:
        names = os.listdir(common_dir)
    except OSError:
        return
    for name in names:
        if name.startswith(_OLD_MARKER_PREFIX) and name[len(_OLD_MARKER_PREFIX) :].isdigit():
            try:
                os.unlink(os.path.join(common_dir, name))
            except OSError:
                pass


# --- merging and relinking ----------------------------------------------------------


def _moved_notes(
    now: dict[str, str], seen: dict[str, str] | None
) -> list[tuple[str, str, str, str]]:
    """(tracking ref, remote, our ref, sha) of each tracking notes ref that moved."""
    from traces_git.sync.transfer import SYNCED_REFS

    moved = []
    for name, sha in sorted(now.items()):
        for ref in SYNCED_REFS:
            remote = tracking.tracked(name, ref)
            if remote and (seen is None or seen.get(name) != sha):
                moved.append((name, remote, ref, sha))
    return moved


def _merge(
    repo: RepoInfo, config: Config, moved: list[tuple[str, str, str, str]], result: CatchUp
) -> set[str]:
    """Merge each moved tracking ref into ours; the tracking refs that failed."""
    from traces_git.sync.transfer import merge_tracking

    failed = set()
    for name, remote, ref, sha in moved:
        what = "" if ref == NOTES_REF else f" ({ref.removeprefix('refs/notes/')})"
        try:
            merged = merge_tracking(repo, config, remote, sha, ref=ref)
        except Exception as exc:  # noqa: BLE001 - one remote's bad notes never stop the others
            from traces_git import log, safe_text

            log.write(f"merging {name} failed: {exc}", context=repo.display, exc=exc)
            result.failed.append(f"{remote}{what}: not merged: {safe_text.for_terminal(exc, 200)}")
            failed.add(name)
            continue
        result.merged.append(
            f"{remote}{what}: {merged['result']}, {merged['changed']} note(s) changed"
        )
    return failed


def merge_pending(repo: RepoInfo, config: Config) -> CatchUp:
    """The notes part alone, in the foreground (post-merge of a pull); records nothing:
    the background run that follows finds them merged."""
    if not tracking.pending(repo.git_dir, repo.common_dir):
        return CatchUp(pending=False)
    result = CatchUp()
    now = remote_refs(_cwd(repo))
    _merge(repo, config, _moved_notes(now, read_seen(repo.common_dir)), result)
    return result


def catch_up(repo: RepoInfo, config: Config) -> CatchUp:
    """Merge and relink what the fetches since the last run brought (see the module)."""
    from traces_git.sync import pushqueue

    with pushqueue._lock(repo.common_dir, LOCK):
        mark = tracking.fetch_head_mtime(repo.git_dir)
        if mark is None or not tracking.pending(repo.git_dir, repo.common_dir):
            return CatchUp(pending=False)
        cwd = _cwd(repo)
        seen = read_seen(repo.common_dir)
        now = remote_refs(cwd)
        result = CatchUp()
        failed = _merge(repo, config, _moved_notes(now, seen), result)
        if seen is not None and config.get_bool("traces.relink", True):
            try:
                _relink(repo, now, seen, result)
            except Exception as exc:  # noqa: BLE001 - the merge stands; the log tells
                from traces_git import log

                log.write(f"relink after fetch failed: {exc}", context=repo.display, exc=exc)
                result.failed.append(f"relink failed: {type(exc).__name__}")
        for name in failed:  # retried after the next fetch
            if seen is not None and name in seen:
                now[name] = seen[name]
            else:
                now.pop(name, None)
        write_seen(repo.common_dir, now, mark)
        return result


def _relink(repo: RepoInfo, now: dict[str, str], seen: dict[str, str], result: CatchUp) -> None:
    """Relink what arrived, when an existing remote-tracking branch moved (one a fetch
    only created brings nothing a relink could know of)."""
    before = {ref: sha for ref, sha in seen.items() if ref.startswith("refs/remotes/")}
    if not any(ref in now and now[ref] != sha for ref, sha in before.items()):
        return
    tips = {sha for ref, sha in now.items() if ref.startswith("refs/remotes/")}
    new = sorted(tips - set(before.values()))
    if not new:
        return
    from traces_git.repo import pygit2_can_open
    from traces_git.sync import pushqueue, relink

    if not pygit2_can_open(repo.common_dir):
        return  # relink reads with pygit2, which cannot open sha256 repositories
    specs = new + sorted({f"^{sha}" for sha in before.values()})
    with pushqueue._lock(repo.common_dir, "relink.lock"):
        found = relink.relink(_cwd(repo), specs, message="traces-git relink after fetch")
    result.relinked = list(found.written)
    result.candidates = found.candidates


# --- the hook and the worker ---------------------------------------------------------


def hook(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    """``traces-git hook fetched <git pid>`` (started in the background by the dispatcher):
    start the detached worker, which waits for that git command to exit."""
    from traces_git import procs
    from traces_git.sync import pushqueue

    if not args or not args[0].isdigit():
        return {"outcome": "skipped", "record": False}
    stat = procs.proc_stat(int(args[0]))
    start = stat[3] if stat is not None else ""
    cwd = _cwd(repo)
    pushqueue.spawn_module(cwd, "traces_git.sync.fetched", [cwd, args[0], start])
    return {"outcome": "skipped", "record": False}


def work(cwd: str, pid: int, start: str | None) -> int:
    from traces_git import log
    from traces_git.config import Config, enabled
    from traces_git.repo import RepoInfo
    from traces_git.sync.pushqueue import wait_for_exit

    repo = RepoInfo.discover(cwd)
    wait_for_exit(pid, start, timeout=MAX_WAIT_S)
    config = Config.load(cwd)
    if not enabled(config):
        hold(repo)
        return 0
    result = catch_up(repo, config)
    if result.pending:
        log.record_run(
            "fetched",
            repo.display,
            "error" if result.failed else "ok",
            result.detail(),
            commits=result.relinked,
        )
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[1].isdigit():
        return 2
    try:
        return work(argv[0], int(argv[1]), argv[2] or None)
    except Exception as exc:  # noqa: BLE001 - detached: the log is the only place to tell
        from traces_git import log

        log.write(f"after-fetch merge and relink failed: {exc}", context=argv[0], exc=exc)
        log.record_run("fetched", argv[0], "error", f"{type(exc).__name__}: {exc}")
        return 1


def _cwd(repo: RepoInfo) -> str:
    return repo.worktree or repo.common_dir


def _hex(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
