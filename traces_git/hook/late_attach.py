"""Late attach: decide a commit's traces again after refreshing the store, in the background.

The post-commit hook decides from the store as it is. When this commit's candidates may
be stale there (a session the store has not indexed, rows without events, an agent
session file written after the store read it, no store although sessions exist:
``freshness`` and ``selection``'s deferred candidates say so) and the official Traces
CLI is installed, the hook writes a pending record and starts a detached worker
(``python -I -m traces_git.hook.late_attach``). The worker refreshes the store as the official
hook does (``traces list --dir <worktree> --exact-dir --json``, then ``traces show <id>
--json`` for the traces that may have worked on the commit), runs the same selection for
the commit, writes the note through ``postcommit.write_refs`` and hands the traces to the
upload queue. Bound: :data:`TARGET_S` after the commit in the common case (each CLI run
has a timeout, see ``official_cli``); a record still pending after :data:`GIVE_UP_S` is
given up and shown in ``status``.

Records live in the repository's common git dir, ``traces-git-late-attach/``:
``pending/<commit>.json`` (waiting), ``done/<commit>.json`` (finished, kept
:data:`KEEP_DONE_S` for an amend or a rebase that races with the worker),
``failed/<commit>.json`` (the refresh failed or the commit is gone, kept a day for
status). One worker per repository (``flock`` on ``worker.lock``); the records are
moved under ``records.lock``, which post-rewrite takes too: an amend or a rebase moves a
pending record to the new commit, or copies what the worker attached to the old one.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.attribution.official_cli import Refresh
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

DIR_NAME = "traces-git-late-attach"
TARGET_S = 10.0
GIVE_UP_S = 600.0
PUSH_WAIT_S = 5.0
KEEP_DONE_S = 600.0
KEEP_FAILED_S = 24 * 3600.0
MAX_SHOWS = 20
HINT_VARIABLES = (
    "TRACES_TRACE_ID",
    "TRACES_CURRENT_TRACE_ID",
    "TRACES_CURRENT_AGENT",
    "CODEX_THREAD_ID",
    "TRACES_CURRENT_SOURCE_PATH",
    "TRACES_SOURCE_PATH",
)


def base_dir(common_dir: str) -> str:
    return os.path.join(common_dir, DIR_NAME)


def _record_path(common_dir: str, kind: str, commit: str) -> str:
    return os.path.join(base_dir(common_dir), kind, f"{commit}.json")


def cli_for(config: Config) -> str | None:
    """The official CLI when late attach may run (see :func:`official_cli.for_late_attach`)."""
    from traces_git.attribution import official_cli

    return official_cli.for_late_attach(config)


# --- the hook side ------------------------------------------------------------------


def queue(
    repo: RepoInfo, commit: str, since_ms: float, now_ms: float, automatic: bool, reasons: list[str]
) -> bool:
    """Write the pending record of ``commit`` and start the worker; False if it could not."""
    record = {
        "commit": commit,
        "worktree": repo.worktree,
        "git_dir": repo.git_dir,
        "since_ms": since_ms,
        "now_ms": now_ms,
        "automatic": automatic,
        "queued_at": time.time(),
        "reasons": reasons[:8],
        "env": {k: os.environ[k] for k in HINT_VARIABLES if os.environ.get(k)},
    }
    # not fsync'd on the commit's path: a crash loses only this refresh, never the commit
    if not _write_json(_record_path(repo.common_dir, "pending", commit), record, durable=False):
        return False
    start_worker(repo.common_dir)
    return True


def start_worker(common_dir: str) -> None:
    from traces_git.upload import handoff as upload

    upload.spawn_worker("traces_git.hook.late_attach", [os.path.realpath(common_dir)])


def _write_json(path: str, data: dict, *, durable: bool = True) -> bool:
    """Atomically (a temporary file renamed into place); False when it could not."""
    from traces_git.upload.queue import write_json

    try:
        write_json(path, data, durable=durable)
        return True
    except OSError:
        return False


def _read_json(path: str) -> dict | None:
    from traces_git.upload.queue import read_json

    return read_json(path)


def records(common_dir: str, kind: str) -> list[dict]:
    """The records of one kind (pending, done, failed), oldest first."""
    folder = os.path.join(base_dir(common_dir), kind)
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return []
    found = []
    for name in names:
        commit = name[: -len(".json")]
        if len(commit) not in (40, 64) or any(c not in "0123456789abcdef" for c in commit):
            continue  # not a record of ours: never passed to git
        data = _read_json(os.path.join(folder, name))
        if (
            data is not None
            and data.get("commit") == commit
            and isinstance(data.get("worktree"), str)
        ):
            found.append(data)
    return sorted(found, key=lambda r: r.get("queued_at") or 0)


class _Lock:
    """An exclusive ``flock`` on a file of the late-attach dir (blocking or not)."""

    def __init__(self, common_dir: str, name: str, *, wait: bool = True):
        self.path = os.path.join(base_dir(common_dir), name)
        self.wait = wait
        self.fd = -1

    def __enter__(self) -> bool:
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except OSError:
            os.close(self.fd)
            self.fd = -1
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1


# --- the worker -----------------------------------------------------------------------


def run_worker(common_dir: str) -> int:
    """Process the repository's pending records until none is left; the number processed."""
    from traces_git import log

    done = 0
    with _Lock(common_dir, "worker.lock", wait=False) as got:
        if not got:
            return 0  # another worker runs: it loops until the directory is empty
        while True:
            pending = records(common_dir, "pending")
            if not pending:
                break
            try:
                done += _process_group(common_dir, pending)
            except Exception as exc:  # noqa: BLE001 - record it, never loop on it
                log.write(f"late attach failed: {exc}", context=common_dir, exc=exc)
                for record in pending:
                    _finish(common_dir, record, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        _prune(common_dir)
    return done


def _process_group(common_dir: str, pending: list[dict]) -> int:
    """Refresh once for the worktree of the oldest record, then decide each of its records."""
    from traces_git.attribution import official_cli
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

    first = pending[0]
    worktree = first.get("worktree")
    group = [r for r in pending if r.get("worktree") == worktree]
    try:
        repo = RepoInfo.discover(worktree)
    except Exception as exc:  # noqa: BLE001 - a worktree that is gone
        for record in group:
            _finish(common_dir, record, "failed", {"error": f"worktree unusable: {exc}"})
        return len(group)
    # the hook queues records only for a worktree (attach_to_head skips a bare repository)
    assert repo.worktree is not None
    config = Config.load(repo.worktree or repo.common_dir)
    refresh = official_cli.Refresh()
    started = time.time()
    exe = official_cli.find(config.get("traces.cliPath"))
    if exe is None:
        refresh.errors.append("the official Traces CLI was not found (traces.cliPath, PATH)")
    else:
        _refresh(exe, repo.worktree, group, config, refresh)
    refresh.seconds = time.time() - started
    for record in group:
        _decide(repo, repo.worktree, config, common_dir, record, refresh)
    return len(group)


def _refresh(exe: str, worktree: str, group: list[dict], config: Config, refresh: Refresh) -> None:
    """``traces list`` for the worktree, ``traces show`` for what may concern the commits."""
    from traces_git import store
    from traces_git.attribution import official_cli

    since = min(float(r.get("since_ms") or 0) for r in group)
    official_cli.list_traces(exe, worktree, None, refresh)
    wanted: list[str] = []
    slack = 1000
    named = set()
    for record in group:
        env = record.get("env") or {}
        for key in ("TRACES_TRACE_ID", "TRACES_CURRENT_TRACE_ID", "CODEX_THREAD_ID"):
            named.update(str(env.get(key, "")).replace(",", " ").split())
    named |= _active_ids(group)
    for item in refresh.listed:
        recent = item.timestamp_ms is not None and item.timestamp_ms >= since - slack
        if not recent and item.source_path:
            try:
                recent = os.stat(item.source_path).st_mtime * 1000 >= since - slack
            except OSError:
                recent = False
        if recent or item.id in named:
            wanted.append(item.id)
    path = store.locate_path(config.get("traces.store"))
    if os.path.isfile(path):  # rows the listing did not print (another dir): their events
        try:
            with store.Store(path) as opened:
                known = opened.get(sorted(named - set(wanted)))
            wanted += [t for t in known if t not in wanted]
        except store.StoreError:
            pass
    if wanted:
        official_cli.show(exe, wanted[:MAX_SHOWS], worktree, refresh)


def _active_ids(group: list[dict]) -> set[str]:
    from traces_git.attribution import selection

    found: set[str] = set()
    for record in group:
        git_dir = record.get("git_dir")
        if isinstance(git_dir, str):
            for session in selection.active_sessions(
                git_dir, record.get("worktree") or "", float(record.get("now_ms") or 0)
            ):
                found.add(session["traceId"])
    return found


def _decide(
    repo: RepoInfo, worktree: str, config: Config, common_dir: str, record: dict, refresh: Refresh
) -> None:
    """The selection for the record's commit against the refreshed store; the note."""
    from traces_git import gitcmd, store
    from traces_git.attribution import explain_record, postcommit, selection

    with _Lock(common_dir, "records.lock"):
        current = _read_json(_record_path(common_dir, "pending", record["commit"]))
        if current is None:
            return  # moved to another commit by an amend or a rebase: decided there
        record = current
        commit = record["commit"]
        code, out = gitcmd.fast(["rev-list", "--parents", "-n", "1", commit], worktree)
        if code != 0:
            _finish(common_dir, record, "failed", {"error": "the commit no longer exists"})
            return
        parents = out.decode().split()[1:]
        changed: set[str] | None = None

        def changed_files() -> set[str]:
            nonlocal changed
            if changed is None:
                changed = postcommit.changed_files(worktree, commit, parents)
            return changed

        ctx = selection.CommitContext(
            worktree=worktree,
            git_dir=record.get("git_dir") or repo.git_dir,
            since_ms=float(record["since_ms"]),
            now_ms=float(record["now_ms"]),
            changed_files=changed_files,
        )
        hints = selection.env_hints(record.get("env") or {})
        considered = selection.Considered(worktree)
        path = store.locate_path(config.get("traces.store"))
        store_problem = ""
        opened = None
        try:
            opened = store.Store(path)
        except store.StoreError as exc:
            store_problem = str(exc)
        try:
            picked = selection.pick(
                ctx, opened, hints, considered, automatic=bool(record.get("automatic", True))
            )
        finally:
            if opened is not None:
                opened.close()
        explained: dict = {
            "commit": commit,
            "since_ms": ctx.since_ms,
            "replay": None,
            "considered": considered,
            "hints_ignored": hints.ignored,
        }
        from traces_git.notes.core import TraceRef

        def seen(old_note: str | None) -> None:
            explained["note_before"] = old_note

        written = False
        if picked:
            written = postcommit.write_refs(
                repo, config, commit, [TraceRef(p.id, p.url) for p in picked], seen
            )
        attached = [p.id for p in picked] if written else []
        late = {
            "queued_at": record.get("queued_at"),
            "done_at": round(time.time(), 3),
            "reasons": record.get("reasons") or [],
            "refresh": refresh.summary(),
            "refresh_errors": refresh.errors[:5],
        }
        explained["late"] = late
        summary = {"attached": attached, "store": store_problem}
        if not store_problem:
            summary.pop("store")
        explain_record.record(repo, "late-attach", explained, summary)
        kind = "failed" if refresh.errors and not attached else "done"
        _finish(common_dir, record, kind, {"attached": attached, **late})
    if attached:
        from traces_git.sync import push_due
        from traces_git.upload import handoff as upload

        upload.hand_off(repo, config, commit, attached)
        push_due.after_commit(repo, config)


def _finish(common_dir: str, record: dict, kind: str, result: dict) -> None:
    commit = record["commit"]
    _write_json(_record_path(common_dir, kind, commit), {**record, **result})
    try:
        os.unlink(_record_path(common_dir, "pending", commit))
    except OSError:
        pass


def _prune(common_dir: str) -> None:
    """Forget done records after :data:`KEEP_DONE_S`, failed ones after a day, pending ones
    after :data:`GIVE_UP_S` (they go to failed); remove the directory once empty."""
    now = time.time()
    for kind, keep in (("done", KEEP_DONE_S), ("failed", KEEP_FAILED_S)):
        for record in records(common_dir, kind):
            if now - float(record.get("done_at") or record.get("queued_at") or 0) > keep:
                try:
                    os.unlink(_record_path(common_dir, kind, record["commit"]))
                except OSError:
                    pass
    folder = base_dir(common_dir)
    for kind in ("pending", "done", "failed"):
        try:
            os.rmdir(os.path.join(folder, kind))
        except OSError:
            pass


# --- push and rewrite -------------------------------------------------------------------


def wait_before_push(repo: RepoInfo, config: Config, shas: list[str]) -> dict | None:
    """Wait (at most ``traces.lateAttachPushWait`` s, default :data:`PUSH_WAIT_S`) for the
    pending late attaches of the commits this push sends; None when there were none."""
    if not os.path.isdir(os.path.join(base_dir(repo.common_dir), "pending")):
        return None
    pending = [r["commit"] for r in records(repo.common_dir, "pending")]
    pushed = [c for c in pending if _reachable(repo, c, shas)]
    if not pushed:
        return None
    bound = _float(config.get("traces.lateAttachPushWait"), PUSH_WAIT_S)
    started = time.time()
    deadline = started + max(0.0, min(bound, 60.0))
    waiting = list(pushed)
    while waiting and time.time() < deadline:
        time.sleep(0.05)
        waiting = [
            c for c in waiting if os.path.exists(_record_path(repo.common_dir, "pending", c))
        ]
    return {"waited_s": round(time.time() - started, 3), "still_pending": waiting}


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default


def _reachable(repo: RepoInfo, commit: str, shas: list[str]) -> bool:
    from traces_git import gitcmd

    base = repo.worktree or repo.common_dir
    for sha in shas:
        if sha == commit:
            return True
        code, _ = gitcmd.fast(["merge-base", "--is-ancestor", commit, sha], base)
        if code == 0:
            return True
    return False


def after_rewrite(repo: RepoInfo, config: Config, stdin: bytes) -> dict | None:
    """post-rewrite (amend, rebase): move pending records to the new commits; copy what a
    late attach wrote to an old commit after git had copied its notes."""
    if not os.path.isdir(base_dir(repo.common_dir)):
        return None
    pairs = []
    for line in stdin.decode("ascii", "replace").splitlines():
        fields = line.split()
        if len(fields) >= 2 and all(len(f) in (40, 64) for f in fields[:2]):
            pairs.append((fields[0], fields[1]))
    moved: list[str] = []
    copied: list[str] = []
    restart = False
    with _Lock(repo.common_dir, "records.lock"):
        for old, new in pairs:
            record = _read_json(_record_path(repo.common_dir, "pending", old))
            if record is not None:
                record["commit"] = new
                record["rewritten_from"] = old
                if _write_json(_record_path(repo.common_dir, "pending", new), record):
                    try:
                        os.unlink(_record_path(repo.common_dir, "pending", old))
                    except OSError:
                        pass
                    moved.append(new)
                    restart = True
                continue
            done = _read_json(_record_path(repo.common_dir, "done", old))
            if done and done.get("attached"):
                from traces_git.attribution import postcommit
                from traces_git.notes.core import TraceRef

                refs = [TraceRef(t, None) for t in done["attached"] if isinstance(t, str)]
                if refs and postcommit.write_refs(repo, config, new, refs):
                    copied.append(new)
    if restart:
        start_worker(repo.common_dir)
    _prune(repo.common_dir)
    return {"moved": moved, "copied": copied}


# --- status ---------------------------------------------------------------------------


def status_section(repo: RepoInfo | None, config: Config) -> dict | None:
    """Pending and failed late attaches of this repository (None when there were none)."""
    if repo is None:
        return None
    from traces_git.attribution import official_cli

    cli = official_cli.find(config.get("traces.cliPath"))
    section: dict = {
        "enabled": config.get_bool("traces.lateAttach", True),
        "cli": cli,
        "pending": [],
        "failed": [],
        "summary": "",
    }
    now = time.time()
    for record in records(repo.common_dir, "pending"):
        age = now - float(record.get("queued_at") or now)
        section["pending"].append(
            {
                "commit": record["commit"],
                "age_s": round(age, 1),
                "reasons": record.get("reasons") or [],
            }
        )
    for record in records(repo.common_dir, "failed"):
        section["failed"].append(
            {
                "commit": record["commit"],
                "error": record.get("error") or "; ".join(record.get("refresh_errors") or []),
            }
        )
    from traces_git.attribution import freshness

    if repo.worktree:
        hour_ago = (now - 3600) * 1000
        section["agent_sessions_here"] = bool(
            freshness.recent_session_files(repo.worktree, hour_ago, now * 1000)
        )
        section["agent_hooks"] = os.path.exists(os.path.join(repo.git_dir, "traces-active.json"))
    parts = []
    if not section["enabled"]:
        parts.append("off (traces.lateAttach false)")
    elif cli is None:
        parts.append(
            "unavailable: the official Traces CLI is not installed (`traces` on PATH "
            "or traces.cliPath); stale store data is decided as it is"
        )
    else:
        parts.append(f"through {cli}")
    if section["pending"]:
        parts.append(f"{len(section['pending'])} pending")
    if section["failed"]:
        last = section["failed"][-1]
        parts.append(
            f"{len(section['failed'])} failed (last {last['commit'][:12]}: {last['error']})"
        )
    section["summary"] = "; ".join(parts)
    return section


def post_rewrite_hook(repo: RepoInfo, config: Config, args: list[str], stdin: bytes) -> dict:
    """``notes.rewriteRef`` makes git carry notes over amend and rebase; a late attach still
    pending (or finished after git copied the notes) follows the rewritten commits."""
    result = after_rewrite(repo, config, stdin)
    if not result or not (result["moved"] or result["copied"]):
        return {"outcome": "skipped", "record": False}
    return {
        "outcome": "ok",
        "detail": f"late attach: {len(result['moved'])} pending moved, "
        f"{len(result['copied'])} note(s) copied to the rewritten commits",
    }


def main(argv: list[str]) -> int:
    """The detached worker: ``python -I -m traces_git.hook.late_attach <common git dir>``."""
    if len(argv) != 1:
        return 2
    try:
        run_worker(argv[0])
    except Exception as exc:  # noqa: BLE001 - a background worker: log, never a traceback
        from traces_git import log

        log.write(f"late attach worker failed: {exc}", context=argv[0], exc=exc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
