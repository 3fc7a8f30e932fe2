"""Queued notes pushes, and the detached process that makes them.

Git has no post-push hook. ``pre-push`` queues a *trigger* (the pid of the
``git push`` and the refs it sends) and starts a detached worker
(``python -m traces_git.sync.push_worker``). The worker waits for that ``git push``
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

import os
import sys
import time

from traces_git import paths, procs
from traces_git.constants import GUARD_ENV

# pre-push imports this module on every push: no json, pathlib or urllib at import
# time (~10 ms together). It knows nothing of sync (push_worker uses both).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.notes.core import _FileLock

MAX_WAIT_FOR_PUSH_S = 2 * 60 * 60
RETRY_BACKOFF_S = (60, 300, 900, 3600)


def quote(text: str, safe: str = "") -> str:
    """``urllib.parse.quote`` for file names (same output), without importing urllib."""
    keep = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~" + safe)
    return "".join(
        c if c in keep else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text
    )


def sync_dir(common_dir: str) -> str:
    return paths.location("state", "repos", paths.repo_key(common_dir), "sync")


def queue_dir(common_dir: str) -> str:
    return os.path.join(sync_dir(common_dir), "queue")


def _pending_marker(common_dir: str) -> str:
    """One empty file per repository with queued work, in a dir shared by all of them.

    ``push_due.after_commit`` lists that dir: with nothing queued anywhere it costs
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


def _entry_path(common_dir: str, remote: str) -> str:
    return os.path.join(queue_dir(common_dir), f"{quote(remote, safe='')}.json")


def _lock(common_dir: str, name: str) -> _FileLock:
    from traces_git.notes.core import _FileLock

    os.makedirs(sync_dir(common_dir), exist_ok=True)
    return _FileLock(os.path.join(sync_dir(common_dir), name))


def _read(path: str) -> dict | None:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    import json  # only when there is a file to read

    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _write(path: str, data: dict) -> None:
    from traces_git.log import _dumps  # plain values; json would cost pre-push ~5 ms

    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(_dumps(data))
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
            entry = _read(os.path.join(queue_dir(common_dir), name))
            if entry and isinstance(entry.get("remote"), str):
                found.append(entry)
    return found


def enqueue(
    common_dir: str, remote: str, *, trigger: dict | None = None, retry: bool = False
) -> None:
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


def settle(
    common_dir: str, remote: str, generation: int | None, handled: list[dict], error: str | None
) -> bool:
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
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
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
            path = os.path.join(sync_dir(common_dir), "last.json")
            data = _read(path) or {}
            data[remote] = {"time": time.time(), **result}
            _write(path, data)
    except OSError:
        pass


def last_results(common_dir: str) -> dict:
    return _read(os.path.join(sync_dir(common_dir), "last.json")) or {}


def worker_running(common_dir: str, remote: str) -> bool:
    """True while a worker holds ``remote``'s push lock."""
    path = os.path.join(sync_dir(common_dir), f"push-{quote(remote, safe='')}.lock")
    return procs.lock_held(path)


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


def _ps_parent(pid: int) -> tuple[str, int] | None:
    import subprocess

    try:
        out = subprocess.run(
            ["ps", "-o", "ppid=,comm=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        ).stdout.strip()
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
        stat = procs.proc_stat(pid)
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
    stat = procs.proc_stat(pid)
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
    spawn_module(
        cwd, "traces_git.sync.push_worker", [cwd, remote, *(["--fetch-only"] if fetch_only else [])]
    )


def spawn_module(cwd: str, module: str, args: list[str]) -> None:
    """Start ``python -I -m MODULE ARGS`` detached, logging to sync-worker.log."""
    from traces_git import detach, gitcmd

    log_path = paths.location("state", "sync-worker.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    cmd = [sys.executable, "-I", "-m", module, *args]
    detach.spawn(cmd, gitcmd.clean_env({GUARD_ENV: "1"}), cwd=cwd, output=log_path)
