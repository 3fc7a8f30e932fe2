"""Queued notes pushes, and the detached process that makes them.

Git has no post-push hook. ``pre-push`` queues a *trigger* (the pid of the
``git push`` and the refs it sends) and starts a detached worker
(``python -m traces_git.pushqueue``). The worker waits for that ``git push``
to exit, asks the remote whether the pushed refs moved (they did not for a
``--dry-run`` or a rejected push: then no notes go out), and pushes the notes.
A notes push that fails (offline, no permission, protected ref) leaves a
*retry* entry that the next push, commit or ``traces-git sync`` picks up.

State per repository and remote, under the state dir (never in a work tree)::

    <repo state>/sync/queue/<remote>.json   pending triggers / retry, last error
    <repo state>/sync/push-<remote>.lock    held by the worker while it works
    <repo state>/sync/last.json             last notes push result per remote
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

from traces_git import paths

GUARD_ENV = "TRACES_GIT_SYNC"  # set for every git we start: our hooks stand aside
MAX_WAIT_FOR_PUSH_S = 2 * 60 * 60
RETRY_BACKOFF_S = (60, 300, 900, 3600)


def sync_dir(common_dir: str) -> Path:
    return paths.repo_state_dir(common_dir) / "sync"


def queue_dir(common_dir: str) -> Path:
    return sync_dir(common_dir) / "queue"


def _pending_marker(common_dir: str) -> str:
    """One empty file per repository with queued work, in a dir shared by all of them.

    ``sync.after_commit`` lists that dir: with nothing queued anywhere it costs
    one failed ``listdir``, without hashing the repository's path.
    """
    return paths.location("state", "sync-pending", paths.repo_key(common_dir))


def _mark_pending(common_dir: str) -> None:
    marker = _pending_marker(common_dir)
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    with open(marker, "a", encoding="utf-8"):
        pass


def _clear_pending_if_empty(common_dir: str) -> None:
    try:
        names = os.listdir(queue_dir(common_dir))
        if any(n.endswith(".json") and not n.startswith(".") for n in names):
            return
    except FileNotFoundError:
        pass
    try:
        os.unlink(_pending_marker(common_dir))
    except FileNotFoundError:
        pass


def _entry_path(common_dir: str, remote: str) -> Path:
    return queue_dir(common_dir) / f"{quote(remote, safe='')}.json"


def _lock(common_dir: str, name: str):
    from traces_git.notes import _FileLock

    path = sync_dir(common_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return _FileLock(str(path))


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), "utf-8")
    os.replace(tmp, path)


def read_entry(common_dir: str, remote: str) -> dict | None:
    return _read(_entry_path(common_dir, remote))


def entries(common_dir: str) -> list[dict]:
    """Every queue entry of this repository (cheap: no subprocess)."""
    try:
        names = os.listdir(queue_dir(common_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in sorted(names):
        if name.endswith(".json") and not name.startswith("."):
            entry = _read(queue_dir(common_dir) / name)
            if entry and isinstance(entry.get("remote"), str):
                found.append(entry)
    return found


def enqueue(common_dir: str, remote: str, *, trigger: dict | None = None,
            retry: bool = False) -> None:
    """Add a push trigger and/or a retry request for ``remote``."""
    with _lock(common_dir, "queue.lock"):
        path = _entry_path(common_dir, remote)
        entry = _read(path) or {"remote": remote, "triggers": [], "retry": False, "attempts": 0}
        entry["generation"] = entry.get("generation", 0) + 1
        if trigger is not None:
            entry.setdefault("triggers", []).append(trigger)
        if retry:
            entry["retry"] = True
            entry["next_attempt"] = 0
        _mark_pending(common_dir)  # before the entry: a commit must never miss it
        _write(path, entry)


def settle(common_dir: str, remote: str, generation: int | None, handled: list[dict],
           error: str | None) -> bool:
    """Record the outcome of work on ``handled`` triggers; True when the entry is gone.

    An entry that gained triggers meanwhile (its generation moved) keeps them.
    """
    with _lock(common_dir, "queue.lock"):
        path = _entry_path(common_dir, remote)
        entry = _read(path)
        if entry is None:
            if error is None:
                _clear_pending_if_empty(common_dir)
                return True
            entry = {"remote": remote, "triggers": [], "attempts": 0, "generation": 0}
        moved = generation is not None and entry.get("generation") != generation
        handled_ids = {t.get("id") for t in handled}
        entry["triggers"] = [t for t in entry.get("triggers", []) if t.get("id") not in handled_ids]
        _mark_pending(common_dir)
        if error is None:
            entry["retry"] = False
            entry["attempts"] = 0
            entry.pop("last_error", None)
            if not moved and not entry["triggers"]:
                path.unlink(missing_ok=True)
                _clear_pending_if_empty(common_dir)
                return True
        else:
            attempts = int(entry.get("attempts", 0)) + 1
            entry.update(retry=True, attempts=attempts, last_error=error, failed_at=time.time())
            delay = RETRY_BACKOFF_S[min(attempts, len(RETRY_BACKOFF_S)) - 1]
            entry["next_attempt"] = time.time() + delay
        _write(path, entry)
        return False


def record_result(common_dir: str, remote: str, result: dict) -> None:
    """Remember the last notes push to ``remote`` (for ``traces-git status``)."""
    try:
        with _lock(common_dir, "queue.lock"):
            path = sync_dir(common_dir) / "last.json"
            data = _read(path) or {}
            data[remote] = {"time": time.time(), **result}
            _write(path, data)
    except OSError:
        pass


def last_results(common_dir: str) -> dict:
    return _read(sync_dir(common_dir) / "last.json") or {}


def worker_running(common_dir: str, remote: str) -> bool:
    """True while a worker holds ``remote``'s push lock."""
    try:
        import fcntl
    except ImportError:
        return False
    path = sync_dir(common_dir) / f"push-{quote(remote, safe='')}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also releases a lock we just took
    return False


def settled(common_dir: str) -> bool:
    """No trigger or due retry waiting and no worker running (later retries may be queued)."""
    now = time.time()
    for entry in entries(common_dir):
        if entry.get("triggers") or worker_running(common_dir, entry["remote"]):
            return False
        if entry.get("retry") and entry.get("next_attempt", 0) <= now:
            return False
    try:
        names = os.listdir(sync_dir(common_dir))
    except FileNotFoundError:
        return True
    return not any(
        name.startswith("push-") and worker_running(common_dir, _unquote_lock(name))
        for name in names
    )


def _unquote_lock(name: str) -> str:
    from urllib.parse import unquote

    return unquote(name[len("push-") : -len(".lock")])


def due(common_dir: str, now: float | None = None) -> list[str]:
    """Remotes with work a commit should start: stranded triggers, or a retry whose time came."""
    now = time.time() if now is None else now
    remotes = []
    for entry in entries(common_dir):
        if entry.get("triggers") or (entry.get("retry") and entry.get("next_attempt", 0) <= now):
            remotes.append(entry["remote"])
    return remotes


# --- the push's pid: whose exit the worker waits for ------------------------


def _proc_stat(pid: int) -> tuple[str, str, int, str] | None:
    """(comm, state, ppid, starttime) from /proc (Linux); None elsewhere or when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, fields[0], int(fields[1]), fields[19]


def _ps_parent(pid: int) -> tuple[str, int] | None:
    import subprocess

    try:
        out = subprocess.run(["ps", "-o", "ppid=,comm=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        ppid, _, comm = out.partition(" ")
        return os.path.basename(comm.strip()), int(ppid)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def git_push_process() -> dict:
    """{"pid", "start"} of the ``git`` process running this hook (nearest ``git`` ancestor)."""
    pid = os.getppid()
    for _ in range(8):
        if pid <= 1:
            break
        stat = _proc_stat(pid)
        if stat is not None:
            comm, _state, ppid, start = stat
            if comm == "git":
                return {"pid": pid, "start": start}
        else:
            found = _ps_parent(pid)
            if found is None:
                break
            comm, ppid = found
            if comm == "git":
                return {"pid": pid, "start": None}
        pid = ppid
    return {"pid": os.getppid(), "start": None}


def process_alive(pid: int, start: str | None = None) -> bool:
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[1] not in ("Z", "X") and (start is None or stat[3] == start)
    if os.path.isdir("/proc"):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_exit(pid: int, start: str | None, timeout: float = MAX_WAIT_FOR_PUSH_S) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while process_alive(pid, start):
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    return True


# --- starting the worker ------------------------------------------------------


def spawn(cwd: str, remote: str, *, fetch_only: bool = False) -> None:
    """Start a detached worker for ``remote``: own session, no inherited pipes or GIT_* vars.

    ``fetch_only``: fetch and merge the remote's notes (after a ``git pull
    <remote> <branch>``, which fetched no notes), push nothing.
    """
    from traces_git import gitcmd

    log_path = paths.state_dir() / "sync-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-I", "-m", "traces_git.pushqueue", cwd, remote]
    if fetch_only:
        cmd.append("--fetch-only")
    kwargs: dict = {}
    if os.name == "nt":  # not tested here: no setsid on Windows
        import subprocess

        flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        kwargs["creationflags"] = flags | 0x01000000  # CREATE_BREAKAWAY_FROM_JOB
    else:
        kwargs["start_new_session"] = True
    env = gitcmd.clean_env({GUARD_ENV: "1"})
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    if hasattr(os, "posix_spawn"):
        # pre-push runs on every push: posix_spawn spares it subprocess's ~10 ms
        # of imports. setsid: the worker outlives the hook's process group.
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            os.posix_spawn(
                sys.executable,
                cmd,
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, fd, 1),
                    (os.POSIX_SPAWN_DUP2, fd, 2),
                ],
                setsid=True,
            )
        finally:
            os.close(devnull)
            os.close(fd)
        return
    import subprocess

    try:
        try:
            subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                             env=env, close_fds=True, **kwargs)
        except OSError:
            if os.name != "nt":
                raise
            kwargs["creationflags"] &= ~0x01000000  # breakaway denied by the job object
            subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                             env=env, close_fds=True, **kwargs)
    finally:
        os.close(fd)


# --- the worker -----------------------------------------------------------------


def _refs_moved(repo, remote: str, triggers: list[dict]) -> bool:
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
    proc = gitcmd.run(["ls-remote", remote, *sorted(before)], repo.worktree or repo.common_dir,
                      check=False, env={GUARD_ENV: "1", "GIT_TERMINAL_PROMPT": "0"}, timeout=120)
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


def work(cwd: str, remote: str) -> int:
    """The worker: handle ``remote``'s queue entry until it is empty or only a retry is left."""
    from traces_git import log, sync
    from traces_git.config import Config
    from traces_git.errors import TracesGitError
    from traces_git.repo import RepoInfo

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
                if needed:
                    config = Config.load(cwd)
                    result = sync.transfer(repo, config, remote, fetch_first=False, attempts=8,
                                           background=True)
                    log.record_run("notes-push", repo.display, "ok",
                                   f"{remote}: {result['outcome']}", remote=remote)
                else:
                    log.record_run("notes-push", repo.display, "skipped",
                                   f"{remote}: pushed refs did not move (dry run or rejected)",
                                   remote=remote)
            except (TracesGitError, OSError) as exc:
                error = str(exc)
                log.write(f"notes push to {remote} failed: {error}", context=repo.display)
                log.record_run("notes-push", repo.display, "error", f"{remote}: {error}",
                               remote=remote)
            if settle(common, remote, entry.get("generation"), triggers, error):
                return 0
            if error is not None:
                entry = read_entry(common, remote)
                if not entry or not entry.get("triggers"):
                    return 1  # stays queued for the next push, commit or sync
    return 0


def fetch_only(cwd: str, remote: str) -> int:
    """Fetch ``remote``'s notes and merge them in (no push)."""
    from traces_git import log, sync
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

    repo = RepoInfo.discover(cwd)
    # The push worker's lock: two of our fetches into the same ref would collide.
    with _lock(repo.common_dir, f"push-{quote(remote, safe='')}.lock"):
        oid = sync.fetch_notes(repo, remote, background=True)
        if oid is not None:
            result = sync.merge_tracking(repo, Config.load(cwd), remote, oid)
            log.record_run("notes-fetch", repo.display, "ok",
                           f"{remote}: {result['result']}, {result['changed']} note(s) changed",
                           remote=remote)
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
