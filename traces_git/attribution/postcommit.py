"""The post-commit (and post-merge) work: attach this commit's traces to it.

The path where no trace matches must stay lean: git plumbing through small
subprocesses and sqlite3; pygit2 is imported only when a note is written.
"""

from __future__ import annotations

import os
import time

from traces_git import gitcmd
from traces_git.config import Config
from traces_git.errors import GitError
from traces_git.repo import RepoInfo

TYPE_CHECKING = False  # typing costs milliseconds per hook run
if TYPE_CHECKING:
    from collections.abc import Callable

    from traces_git.attribution.selection import CommitContext
    from traces_git.notes.core import TraceRef
    from traces_git.store import Store

FIRST_COMMIT_WINDOW_S = 24 * 60 * 60


_DIFF_NAMES = ("diff-tree", "-r", "-z", "--name-only")


class HeadReads:
    """The two git reads of HEAD that every post-commit needs, started at once.

    ``hooks.run`` starts them before it runs ``git config``: the three processes run
    side by side (about 3 ms of every commit that takes the full path). The diff is
    HEAD's against its first parent, right unless HEAD is a merge (then asked again).
    """

    def __init__(self, worktree: str, common_dir: str):
        from traces_git.notes.core import NOTES_REF, loose_ref

        self.worktree = worktree
        self.notes_ref = loose_ref(common_dir)
        rev = _hook_commit()
        log = ["log", "-2", "--first-parent", "--format=%H %ct %P%x09%s%x00%N%x00", rev]
        if self.notes_ref:
            log[1:1] = ["--no-notes", f"--notes={NOTES_REF}"]
        self._log = gitcmd.start(log, worktree)
        self._diff = gitcmd.start([*_DIFF_NAMES, "--root", rev], worktree)

    def head(self) -> tuple[str, list[str], float | None, int, str, tuple | None]:
        """HEAD's sha, its parents, its first parent's committer time (None if root), its
        own, its subject, and (notes ref value, HEAD's note) when the ref could be read
        first from its file: the note writer then needs no git process to read them."""
        code, out = self._log.wait()
        if code != 0:
            raise GitError(f"git log failed with exit code {code}")
        records = out.decode("utf-8", "surrogateescape").split("\0")
        head_part, _, subject = records[0].partition("\t")
        head_fields = head_part.split()
        parents = head_fields[2:]
        parent_time = None
        if len(records) > 2 and parents:
            parent_time = float(records[2].split()[1])
        known: tuple[str | None, None] | None = None
        if self.notes_ref is None:
            known = (None, None)
        elif self.notes_ref and not records[1]:
            # Only "no note" is trusted from %N: git prints a note's NUL as a newline, so
            # a note HEAD already has (an amend that recreated it) is read exactly later.
            known = (self.notes_ref, None)
        return head_fields[0], parents, parent_time, int(head_fields[1]), subject, known

    def changed_files(self, head: str, parents: list[str]) -> set[str]:
        """:func:`changed_files` of ``head``, from the diff started early when it fits."""
        if len(parents) <= 1:
            code, out = self._diff.wait()
            names = out.decode("utf-8", "surrogateescape").split("\0")
            if code == 0 and names[0] == head:  # else HEAD changed nothing, or moved meanwhile
                return _real_paths(self.worktree, names, head)
        return changed_files(self.worktree, head, parents)


def _hook_commit() -> str:
    """The commit the dispatcher read before running the chained post-commit hooks (one
    of them may have committed again since: HEAD is that commit then), else HEAD."""
    value = os.environ.get("TRACES_GIT_COMMIT", "")
    if len(value) in (40, 64) and not value.strip("0123456789abcdef"):
        return value
    return "HEAD"


def changed_files(worktree: str, commit: str, parents: list[str]) -> set[str]:
    """The files ``commit`` changed, as absolute real paths; for a merge, its own work:
    the files that differ from every parent (resolutions)."""
    if len(parents) > 1:
        args = [*_DIFF_NAMES, "--cc", "--no-commit-id", commit]
    else:
        args = [*_DIFF_NAMES, "--root", commit]
    return _real_paths(worktree, gitcmd.fast_out(args, worktree).split("\0"), commit)


def _real_paths(worktree: str, names: list[str], commit: str) -> set[str]:
    return {os.path.realpath(os.path.join(worktree, n)) for n in names if n and n != commit}


_prefetched: HeadReads | None = None


def start_head_reads(repo: RepoInfo) -> None:
    """Start HEAD's reads for the :func:`attach_to_head` this hook run will make."""
    global _prefetched
    if repo.worktree is not None:
        _prefetched = HeadReads(repo.worktree, repo.common_dir)


def preload() -> None:
    """Import what :func:`attach_to_head` needs (the store's sqlite module is the bulk)
    while the git processes :func:`start_head_reads` began are running."""
    from traces_git import store  # noqa: F401
    from traces_git.attribution import replay, selection  # noqa: F401
    from traces_git.sync import config as sync_config  # noqa: F401


def _head_reads(worktree: str, common_dir: str) -> HeadReads:
    global _prefetched
    reads, _prefetched = _prefetched, None
    if reads is not None and reads.worktree == worktree:
        return reads
    return HeadReads(worktree, common_dir)


def attach_to_head(repo: RepoInfo, config: Config, *, merges_only: bool = False) -> dict:
    """Pick HEAD's traces and write them into its note. Returns a summary for the run record.

    ``merges_only`` (post-merge): do nothing unless HEAD is a merge commit; a
    fast-forward made no commit of ours.
    """
    from traces_git import store
    from traces_git.attribution import replay, selection

    if repo.worktree is None:
        return {"outcome": "skipped", "detail": "bare repository"}
    if replay.rebase_state(repo.git_dir) == "replaying":
        # Rebased commits keep their notes through notes.rewriteRef; today's
        # traces do not belong to them. (A commit made at a stop is new work.)
        return {
            "outcome": "skipped",
            "detail": "rebase in progress",
            "explain": {"commit": replay.head_sha(repo.git_dir), "replay": "rebase"},
        }
    reads = _head_reads(repo.worktree, repo.common_dir)
    head, parents, parent_time, head_time, subject, known = reads.head()
    if merges_only and len(parents) < 2:
        return {"outcome": "skipped", "record": False}

    picked_source = _cherry_pick_source(repo.git_dir)
    if picked_source:
        return _copy_note(repo, config, head, picked_source)
    replayed = None
    if replay.revert_in_progress(repo.git_dir):
        replayed = "revert"
    elif subject.startswith(replay.REVERT_SUBJECT):
        message = gitcmd.fast_out(["show", "-s", "--format=%B", head], repo.worktree)
        replayed = "revert" if replay.is_revert_message(message) else None

    now = time.time()
    window = config.get_int("traces.firstCommitWindow", FIRST_COMMIT_WINDOW_S)
    since_s = parent_time if parent_time is not None else now - window
    changed: set[str] | None = None

    def changed_files() -> set[str]:
        nonlocal changed
        if changed is None:
            changed = reads.changed_files(head, parents)
        return changed

    from traces_git.attribution import official_cli

    late_cli = official_cli.for_late_attach(config)
    ctx = selection.CommitContext(
        worktree=repo.worktree,
        git_dir=repo.git_dir,
        since_ms=since_s * 1000,
        now_ms=now * 1000,
        changed_files=changed_files,
        defer_stale=late_cli is not None,
    )
    hints = selection.env_hints(os.environ)
    if hints.ignored:
        from traces_git import log

        for item in hints.ignored:
            log.write(f"{item['variable']} ignored: {item['why']}", context=repo.display)
    considered = selection.Considered(repo.worktree)
    store_path = store.locate_path(config.get("traces.store"))
    store_problem = ""
    opened = None
    if os.path.isfile(store_path):
        try:
            opened = store.Store(store_path)
        except store.StoreError as exc:
            store_problem = str(exc)
    else:
        store_problem = f"no Traces store at {store_path}"
    stale: list[str] = []
    try:
        try:
            picked = selection.pick(ctx, opened, hints, considered, automatic=not replayed)
        except store.StoreError as exc:
            store_problem = str(exc)
            considered = selection.Considered(repo.worktree)
            picked = selection.pick(ctx, None, hints, considered, automatic=not replayed)
        if late_cli is not None:
            stale = _stale(ctx, opened, store_path, replayed)
    finally:
        if opened is not None:
            opened.close()

    # head_time: for the post-commit stamp (hooks._stamp), not kept in the run record
    summary: dict = {"outcome": "ok", "commit": head, "attached": [], "head_time": head_time}
    summary["explain"] = explained = {
        "commit": head,
        "since_ms": ctx.since_ms,
        "replay": replayed,
        "considered": considered,
        "hints_ignored": hints.ignored,
    }
    if store_problem:
        summary["store"] = store_problem
        if os.path.exists(store_path):  # present but unreadable: worth a warning in status
            from traces_git import log

            summary["outcome"] = "warning"
            log.write(store_problem, context=repo.display)
    if stale:
        # decided again in the background once the official CLI refreshed the store
        summary["late"] = {
            "reasons": stale,
            "since_ms": ctx.since_ms,
            "now_ms": ctx.now_ms,
            "automatic": not replayed,
        }
        explained["late_pending"] = stale
    if not picked:
        summary["detail"] = "no matching trace" + (", late attach queued" if stale else "")
        return summary

    from traces_git.notes.core import TraceRef

    def seen(old_note: str | None) -> None:
        explained["note_before"] = old_note

    written = write_or_queue(
        repo, config, head, [TraceRef(p.id, p.url) for p in picked], seen, known
    )
    summary["attached"] = [p.id for p in picked] if written else []
    summary["lines_job"] = (head, [])  # line attribution, in the detached worker
    if isinstance(written, Queued):
        summary["outcome"] = "warning"
        summary["detail"] = f"note of {len(picked)} trace(s) queued: {written.reason}"
        summary["queued"] = True
    else:
        summary["detail"] = (
            f"attached {len(picked)} trace(s)" if written else "note already had them"
        )
    return summary


class Queued:
    """The note could not be written in time and waits in :mod:`traces_git.notes.pending`
    (truthy: for the caller the traces are attached, later)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def write_or_queue(
    repo: RepoInfo,
    config: Config,
    commit: str,
    refs: list[TraceRef],
    seen: Callable[[str | None], None] | None = None,
    known: tuple | None = None,
) -> bool | Queued:
    """:func:`write_refs`, or the edit queued durably when the notes ref is busy."""
    from traces_git.errors import GitError, NotesError

    try:
        return write_refs(repo, config, commit, refs, seen, known)
    except (NotesError, GitError) as exc:  # busy, or git could not write (read-only refs)
        from traces_git import log
        from traces_git.notes import pending as pending_notes

        try:
            pending_notes.enqueue(
                repo.common_dir, commit, [("add", r.id, r.url) for r in refs], str(exc)
            )
        except OSError:
            raise exc from None
        log.write(f"note for {commit[:12]} queued: {exc}", context=repo.display)
        return Queued(str(exc))


def _stale(
    ctx: CommitContext, opened: Store | None, store_path: str, replayed: str | None
) -> list[str]:
    """Why this commit's store data may be stale: its deferred candidates, and the agents'
    session files of this worktree written since the previous commit that the store has
    not read (``freshness``). Empty when the store is current."""
    reasons = [f"{trace_id}: {why}" for trace_id, why in ctx.deferred]
    if replayed:  # a revert: only the hints count, and they were deferred above if stale
        return reasons
    from traces_git.attribution import freshness

    try:
        found = freshness.check(opened, store_path, ctx.worktree, ctx.since_ms, ctx.now_ms)
    except Exception:  # noqa: BLE001 - a store read failing here: refresh to be sure
        return reasons + ["the store could not be compared with the session files"]
    return reasons + [r for r in found.reasons if r not in reasons]


def write_refs(
    repo: RepoInfo,
    config: Config,
    commit: str,
    refs: list[TraceRef],
    seen: Callable[[str | None], None] | None = None,
    known: tuple | None = None,
) -> bool:
    """Add trace lines to one commit's note; False when the note already had them.

    ``seen(old_note)`` is told the note the lines were added to (for explain).
    ``known``: (notes ref value, the commit's note) as read just before, if at all.
    """
    from traces_git.notes import core as notes

    def edit(old: str | None) -> str | None:
        if seen is not None:
            seen(old)
        return notes.with_traces(old, refs)

    changed = notes.update_one_with_git(
        repo.worktree or repo.common_dir,
        commit,
        edit,
        message=f"traces-git: attach {len(refs)} trace(s) to {commit[:12]}",
        author=notes.parse_author(config.get("traces.notesAuthor")),
        lock_path=os.path.join(repo.common_dir, "traces-git-notes.lock"),
        common_dir=repo.common_dir,
        known=known,
    )
    return changed is not None


def _cherry_pick_source(git_dir: str) -> str | None:
    try:
        with open(os.path.join(git_dir, "CHERRY_PICK_HEAD"), encoding="ascii") as handle:
            value = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value if len(value) in (40, 64) else None


def _copy_note(repo: RepoInfo, config: Config, head: str, source: str) -> dict:
    from traces_git.notes import batch as notes_batch
    from traces_git.notes import core as notes

    assert repo.worktree is not None  # attach_to_head returned early in a bare repository
    # with the fetched notes not merged yet: `git fetch && git cherry-pick origin/topic`
    refs = notes.attached(notes_batch.read_for_view(repo.worktree, [source]).get(source))
    explained = {
        "commit": head,
        "replay": "cherry-pick",
        "picked_from": source,
        "copied": [r.id for r in refs],
    }
    if not refs:
        return {
            "outcome": "ok",
            "commit": head,
            "detail": "cherry-pick of a commit without traces",
            "explain": explained,
        }
    written = write_or_queue(repo, config, head, refs)
    queued = isinstance(written, Queued)
    return {
        "outcome": "warning" if queued else "ok",
        "commit": head,
        "lines_job": (head, [source]),
        "attached": [r.id for r in refs] if written else [],
        "detail": f"copied {len(refs)} trace(s) from cherry-picked {source[:12]}"
        + (f" (queued: {written.reason})" if isinstance(written, Queued) else ""),
        "explain": explained,
        **({"queued": True} if queued else {}),
    }


def is_user_merge() -> bool:
    """In post-merge: was this a merge the user made, rather than a pull?"""
    action = os.environ.get("GIT_REFLOG_ACTION", "")
    return not action.startswith("pull")
