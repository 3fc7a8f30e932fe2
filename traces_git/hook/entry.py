"""``traces-git hook NAME``: the work behind each hook script, and its safety net.

Nothing here may fail or slow down the user's git command for our own
reasons: every handler's failure is logged and recorded for
``traces-git status``, and the hook exits 0.
"""

from __future__ import annotations

import os
import sys
import time

from traces_git.config import Config, enabled
from traces_git.repo import RepoInfo

TYPE_CHECKING = False  # the typing and collections modules cost milliseconds per hook run
if TYPE_CHECKING:
    from collections.abc import Callable

# hook name -> "module:function"; each handler takes (repo, config, args, stdin)
# and returns a summary dict with at least "outcome".
HANDLERS = {
    "post-commit": "traces_git.hook.entry:post_commit",
    "post-merge": "traces_git.hook.entry:post_merge",
    "pre-push": "traces_git.hook.entry:pre_push",
    "post-rewrite": "traces_git.hook.entry:post_rewrite",
    # Only when a fetch is not merged yet (the dispatcher tells): merge before the rebase.
    "pre-rebase": "traces_git.hook.entry:pre_rebase",
    # Only right after a clone (the dispatcher passes $1 = null sha): configure, fetch notes.
    "post-checkout": "traces_git.hook.entry:post_checkout",
    # Not a git hook: started in the background by the dispatcher of the first hook after
    # a fetch ($1 = that git's pid), to merge the notes and relink what it brought.
    "fetched": "traces_git.sync.fetched:hook",
}
HOOKS_WITH_STDIN = frozenset({"pre-push", "post-rewrite"})
STARTED = 0.0


def _handler(name: str) -> Callable:
    module_name, _, function = HANDLERS[name].partition(":")
    # __import__, not importlib.import_module: importlib (and warnings) cost ~0.6 ms per run
    return getattr(__import__(module_name, fromlist=[function]), function)


def run(name: str, args: list[str], stdin: bytes = b"") -> int:
    """Run our part of hook ``name``; always returns 0."""
    global STARTED
    STARTED = time.time()  # before anything is read: the post-commit stamp's reference time
    repo_label = os.getcwd()
    try:
        if name not in HANDLERS:
            return 0
        repo = RepoInfo.from_hook()
        repo_label = repo.display
        origins = name in ("post-commit", "post-merge")  # the stamp lists the config files
        if name == "post-commit":
            from traces_git.attribution import postcommit

            postcommit.start_head_reads(repo)  # three git processes side by side, and
            config_read = Config.start(repo.worktree or repo.common_dir, origins=origins)
            postcommit.preload()  # our imports meanwhile
            config = config_read.wait()
        else:
            config = Config.load(repo.worktree or repo.common_dir, origins=origins)
        if not enabled(config):
            if name == "post-commit":  # (post-merge: HEAD may be an old commit)
                from traces_git.attribution import explain_record as explain

                explain.record_opted_out(repo, name)
            elif name == "fetched":
                from traces_git.sync import fetched

                fetched.hold(repo)
            return 0
        if name in ("post-commit", "post-merge", "pre-push", "post-checkout"):
            _configure_sync(repo, config)
        summary = _handler(name)(repo, config, args, stdin) or {"outcome": "ok"}
        from traces_git import log

        if summary.get("record", True):
            summary.pop("record", None)
            outcome = summary.pop("outcome", "ok")
            detail = summary.pop("detail", "")
            log.record_run(name, repo_label, outcome, detail, **summary)
    except Exception as exc:  # noqa: BLE001 - a hook must never fail the git command
        from traces_git import log

        log.write(f"{name} failed: {exc}", context=repo_label, exc=exc)
        log.record_run(name, repo_label, "error", f"{type(exc).__name__}: {exc}")
    return 0


def main(argv: list[str]) -> int:
    """Entry for ``traces-git hook NAME [ARGS...]`` without loading the CLI framework."""
    if not argv:
        return 0
    name, args = argv[0], argv[1:]
    stdin = b""
    if name in HOOKS_WITH_STDIN:
        try:
            stdin = sys.stdin.buffer.read()
        except (OSError, ValueError):
            stdin = b""
    return run(name, args, stdin)


def end_process(code: int) -> None:
    """End the hook's process now, without the interpreter's teardown (~2 ms of every
    commit that runs Python: finalizing every module and object). Nothing is lost: each
    of our writes opens and closes its own file, the store is closed, and no thread or
    atexit handler of ours is left to run; only stdio may still hold buffered output."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


def post_commit(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    from traces_git.attribution import postcommit

    summary = postcommit.attach_to_head(repo, config)
    _explain(repo, "post-commit", summary)
    _hand_off(repo, config, summary)
    _write_queued(repo, config, summary)
    _late_attach(repo, summary)
    _stamp(repo, config, summary)
    return summary


def post_merge(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    from traces_git.attribution import postcommit

    squash = bool(args and args[0] == "1")
    fetched = None if squash else _merge_fetched(repo, config)  # a pull: before it returns
    if squash or not postcommit.is_user_merge():
        if not squash:  # `git pull <remote> <branch>` fetched no notes
            from traces_git.sync import transfer as sync

            sync.after_pull(repo, config, os.environ.get("GIT_REFLOG_ACTION", ""))
        return fetched or {"outcome": "skipped", "record": False}
    summary = postcommit.attach_to_head(repo, config, merges_only=True)
    _explain(repo, "post-merge", summary)
    _hand_off(repo, config, summary)
    _write_queued(repo, config, summary)
    _late_attach(repo, summary)
    _stamp(repo, config, summary)
    if fetched:
        summary["fetched"] = fetched["detail"]
    return summary


def post_checkout(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    from traces_git.sync import fetched
    from traces_git.sync import transfer as sync

    summary = sync.post_checkout_hook(repo, config, args, stdin)
    if args and args[0] in sync.ZERO_SHA:  # a new clone: its first fetch relinks what it brings
        fetched.write_baseline(repo)
    return summary


def pre_rebase(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    """A rebase (``git pull --rebase``, or after ``git fetch``) copies the notes of the commits
    it rewrites when it ends: merge the fetched notes first, so that a teammate's lines on a
    commit of ours go along with it (the background run after it relinks)."""
    return _merge_fetched(repo, config) or {"outcome": "skipped", "record": False}


def _merge_fetched(repo: RepoInfo, config: Config) -> dict | None:
    """Merge the notes the pull's fetch brought (the background run after it relinks)."""
    from traces_git.sync import fetched

    merged = fetched.merge_pending(repo, config)
    if not (merged.pending and (merged.merged or merged.failed)):
        return None
    return {"outcome": "error" if merged.failed else "ok", "detail": merged.detail()}


def _explain(repo: RepoInfo, hook: str, summary: dict) -> None:
    """Record what the selection considered, for ``traces-git explain`` (never raises)."""
    explained = summary.pop("explain", None)
    if explained is None:
        return
    try:
        from traces_git.attribution import explain_record as explain

        explain.record(repo, hook, explained, summary)
    except Exception as exc:  # noqa: BLE001 - explain is a diagnostic, never in the way
        from traces_git import log

        log.write(f"recording the explain data failed: {exc}", context=repo.display, exc=exc)


def _hand_off(repo: RepoInfo, config: Config, summary: dict) -> None:
    """After a note is written: queue the uploads and any pending notes push."""
    lines_job = summary.pop("lines_job", None)
    if lines_job is not None and config.get_bool("traces.lines", True):
        from traces_git.lines import queue

        queue.hand_off(repo, *lines_job)
    if summary.get("attached"):
        from traces_git.upload import handoff as upload

        upload.hand_off(repo, config, summary["commit"], summary["attached"])
    from traces_git.sync import push_due

    push_due.after_commit(repo, config)


def _write_queued(repo: RepoInfo, config: Config, summary: dict) -> None:
    """Write the notes an earlier run queued (one listdir when there are none); while
    some stay queued the shortcut must not skip the next post-commit."""
    from traces_git.notes import pending as pending_notes

    if not pending_notes.has_pending(repo.common_dir):
        return
    if not summary.pop("queued", False):  # this run found the ref busy: not again now
        try:
            # bounded: a busy lock or a long queue waits for the next run
            drained = pending_notes.drain(repo, config, budget_s=0.2, max_s=0.3)
            if drained.written:
                summary["queued_written"] = drained.written
        except Exception as exc:  # noqa: BLE001 - they stay queued for the next run
            from traces_git import log

            log.write(f"writing queued notes failed: {exc}", context=repo.display, exc=exc)
    summary["pending"] = pending_notes.has_pending(repo.common_dir)


def _late_attach(repo: RepoInfo, summary: dict) -> None:
    """Hand the commit to the late-attach worker when its store data may be stale."""
    late = summary.pop("late", None)
    if not late:
        return
    from traces_git.hook import late_attach

    if late_attach.queue(
        repo,
        summary["commit"],
        late["since_ms"],
        late["now_ms"],
        late["automatic"],
        late["reasons"],
    ):
        summary["late_attach"] = "queued"


def _stamp(repo: RepoInfo, config: Config, summary: dict) -> None:
    """Let the dispatcher skip Python on the next commit when this run proved it may."""
    from traces_git.hook import shortcut

    selected = "head_time" in summary  # the selection ran (not a rebase, a cherry-pick, ...)
    head_time = summary.pop("head_time", None)
    try:
        if (
            selected
            and not summary.get("attached")
            and not summary.get("late_attach")
            and summary.get("outcome") != "error"
            and not summary.pop("pending", False)
        ):
            shortcut.write(repo, config, STARTED, summary["commit"], head_time)
        else:
            shortcut.discard(repo.git_dir)
    except Exception as exc:  # noqa: BLE001 - the next commit merely takes the full path
        from traces_git import log

        shortcut.discard(repo.git_dir)
        log.write(f"writing the post-commit stamp failed: {exc}", context=repo.display, exc=exc)


def _configure_sync(repo: RepoInfo, config: Config) -> None:
    """Lazily add the notes fetch refspecs and notes.rewriteRef (free once done)."""
    try:
        from traces_git.sync import config as sync_config

        sync_config.ensure_configured(repo, config)
    except Exception as exc:  # noqa: BLE001 - never in the way of the hook's own work
        from traces_git import log

        log.write(f"configuring notes sync failed: {exc}", context=repo.display, exc=exc)


def pre_push(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    """Push the notes after the user's push; a late attach about to write a pushed
    commit's note is waited for first (bounded), so that note goes with this push."""
    from traces_git.hook import late_attach
    from traces_git.sync import transfer

    return transfer.pre_push_hook(
        repo, config, args, stdin, before_push=late_attach.wait_before_push
    )


def post_rewrite(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    """After amend and rebase (``notes.rewriteRef`` makes git carry the notes): a pending
    late attach follows the rewritten commits, and their line records are re-derived."""
    from traces_git.hook import late_attach

    results = [late_attach.post_rewrite_hook(repo, config, args, stdin)]
    if config.get_bool("traces.lines", True):
        from traces_git.lines import hooks as lines_hooks

        results.append(lines_hooks.post_rewrite(repo, stdin))
    done = [r for r in results if r.get("outcome") != "skipped"]
    if not done:
        return {"outcome": "skipped", "record": False}
    return {"outcome": "ok", "detail": "; ".join(str(r.get("detail", "")) for r in done)}
