"""The durable upload queue and its bookkeeping, under the platformdirs state dir.

Layout (``<state>/upload/``)::

    queue/<trace>.<repo crc>.<commit>.json   one entry per (trace, repo, commit) hand-off
    progress/<endpoint key>/<trace>.json     last event row sent for that trace to that API
    status.json                              last success, last error, auth state
    worker.lock                              flock held by the running worker (holds its pid)

Every file is written to a temporary name and moved into place with
``os.replace``, so a crash or a reboot leaves either the old or the new
content, never half of it. The hook only *creates* entry files (one per
commit), so concurrent hooks never need to merge anything; the worker deletes
an entry once its trace is uploaded. Nothing here imports httpx or pygit2:
the post-commit hook uses this module.

No secret goes into these files: entries name a repository path, a trace ID
and a commit; remote URLs and tokens are computed by the worker when it sends.
"""

from __future__ import annotations

import os
import time
import zlib

from traces_git import paths

# On the post-commit path: json, re and typing cost ~8 ms of imports per attaching commit.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Safe:
    """``re.compile(r"[^A-Za-z0-9_-]").sub`` without importing re."""

    @staticmethod
    def sub(replacement: str, text: str) -> str:
        return "".join(c if c in _SAFE_CHARS else replacement for c in text)


_SAFE = _Safe()


def upload_dir() -> Path:
    return paths.state_dir() / "upload"


def queue_dir() -> Path:
    return upload_dir() / "queue"


def status_file() -> Path:
    return upload_dir() / "status.json"


def lock_file() -> Path:
    return upload_dir() / "worker.lock"


def write_json(path: Path | str, data: object, mode: int = 0o600, *, durable: bool = True) -> None:
    """Atomically replace ``path`` with ``data`` as JSON (fsync'd unless not ``durable``,
    then renamed)."""
    directory, name = os.path.split(os.fspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, _dumps(data).encode("utf-8"))
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _dumps(data: object) -> str:
    """JSON text; the hook's plain values go through log's encoder (no json import)."""
    from traces_git.log import _dumps as plain

    if isinstance(data, dict) and all(
        v is None or isinstance(v, (str, int, float, bool)) for v in data.values()
    ):
        return plain(dict(sorted(data.items())))
    import json

    return json.dumps(data, sort_keys=True)


def read_json(path: str | os.PathLike[str]) -> dict | None:
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --- queue entries -----------------------------------------------------------


_ENTRY_FIELDS = (
    "trace_id", "common_dir", "worktree", "commit", "branch", "queued_at",
    "attempts", "hold_until", "last_error", "waiting_since",
)  # fmt: skip


class Entry:
    """One queued (trace, repository, commit). A plain class: a dataclass costs an
    exec at import time, and this module is on the hook path."""

    def __init__(
        self,
        trace_id: str,
        common_dir: str,  # the repository the trace was attached in
        worktree: str | None,  # the worktree whose commit attached it (privacy check)
        commit: str,
        branch: str | None = None,
        queued_at: float | None = None,
        attempts: int = 0,
        hold_until: float = 0.0,  # hook-started workers skip the entry until then
        last_error: str | None = None,
        waiting_since: float | None = None,  # first time the store lacked the trace
    ):
        self.trace_id = trace_id
        self.common_dir = common_dir
        self.worktree = worktree
        self.commit = commit
        self.branch = branch
        self.queued_at = time.time() if queued_at is None else queued_at
        self.attempts = attempts
        self.hold_until = hold_until
        self.last_error = last_error
        self.waiting_since = waiting_since
        self.path: Path | None = None  # where the entry lives (not serialised)

    def as_json(self) -> dict:
        return {name: getattr(self, name) for name in _ENTRY_FIELDS}

    @classmethod
    def from_json(cls, data: dict, path: Path) -> Entry | None:
        try:
            entry = cls(
                trace_id=str(data["trace_id"]),
                common_dir=str(data["common_dir"]),
                worktree=data.get("worktree"),
                commit=str(data["commit"]),
                branch=data.get("branch"),
                queued_at=float(data.get("queued_at") or 0),
                attempts=int(data.get("attempts") or 0),
                hold_until=float(data.get("hold_until") or 0),
                last_error=data.get("last_error"),
                waiting_since=data.get("waiting_since"),
            )
        except (KeyError, TypeError, ValueError):
            return None
        entry.path = path
        return entry

    @property
    def group(self) -> tuple[str, str]:
        return (self.common_dir, self.trace_id)


def entry_name(trace_id: str, common_dir: str, commit: str) -> str:
    # crc32 rather than hashlib (~3 ms to import on the hook path); the commit
    # sha already makes the name unique, the repo part only separates clones.
    repo = zlib.crc32(os.path.realpath(common_dir).encode("utf-8", "surrogateescape"))
    return f"{_SAFE.sub('_', trace_id)}.{repo:08x}.{_SAFE.sub('_', commit)}.json"


def enqueue(entry: Entry) -> Path:
    """Add (or refresh) the entry for one (trace, repo, commit): one atomic file write."""
    from pathlib import Path

    entry.path = Path(enqueue_from_hook(entry))
    return entry.path


def enqueue_from_hook(entry: Entry) -> str:
    """:func:`enqueue` without pathlib (~5 ms of imports on the post-commit path).

    Not fsync'd: that cost 0.5 ms here, and far more on a busy laptop disk, on every
    commit with a trace. A power cut right after the commit can lose the entry (never
    the note); ``traces-git upload --all-in-repo`` queues such traces again.
    """
    name = entry_name(entry.trace_id, entry.common_dir, entry.commit)
    path = paths.location("state", "upload", "queue", name)
    write_json(path, entry.as_json(), durable=False)
    return path


def save(entry: Entry) -> None:
    if entry.path is not None and entry.path.exists():
        write_json(entry.path, entry.as_json())


def remove(entry: Entry) -> None:
    if entry.path is not None:
        try:
            entry.path.unlink()
        except FileNotFoundError:
            pass


def entries() -> list[Entry]:
    """Every queued entry, oldest first; unreadable files are skipped (and left alone)."""
    found = []
    try:
        names = os.listdir(queue_dir())
    except FileNotFoundError:
        return []
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        path = queue_dir() / name
        data = read_json(path)
        entry = Entry.from_json(data, path) if data is not None else None
        if entry is not None:
            found.append(entry)
    found.sort(key=lambda e: (e.queued_at, e.path.name if e.path else ""))
    return found


def has_entries() -> bool:
    try:
        return any(n.endswith(".json") and not n.startswith(".") for n in os.listdir(queue_dir()))
    except FileNotFoundError:
        return False


# --- per-trace progress --------------------------------------------------------


def endpoint_key(base_url: str) -> str:
    import hashlib

    return hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]


def progress_file(base_url: str, trace_id: str) -> Path:
    return upload_dir() / "progress" / endpoint_key(base_url) / f"{_SAFE.sub('_', trace_id)}.json"


def read_progress(base_url: str, trace_id: str) -> dict:
    return read_json(progress_file(base_url, trace_id)) or {}


def write_progress(base_url: str, trace_id: str, progress: dict) -> None:
    write_json(progress_file(base_url, trace_id), progress)


# --- status ----------------------------------------------------------------------


def status_says_not_logged_in() -> bool:
    """A substring test of status.json, for the hook (parsing it imports json, ~5 ms);
    False sends the caller to :func:`read_status`."""
    try:
        with open(paths.location("state", "upload", "status.json"), "rb") as handle:
            return b'"auth": "not logged in"' in handle.read()
    except OSError:
        return False


def read_status() -> dict:
    return read_json(paths.location("state", "upload", "status.json")) or {}  # no pathlib


def update_status(**changes: object) -> None:
    """Merge ``changes`` into status.json (last writer wins; the worker is the main writer)."""
    status = read_status()
    status.update(changes)
    try:
        write_json(status_file(), status)
    except OSError:
        pass


# --- the one-worker lock -----------------------------------------------------------


class WorkerLock:
    """A non-blocking exclusive flock: only one upload worker runs at a time."""

    def __init__(self) -> None:
        self.fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        path = lock_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return True

    def acquire_soon(self, tries: int = 5, pause: float = 0.05) -> bool:
        """Try a few times: a hook's :func:`lock_free` probe holds the lock for an instant."""
        for attempt in range(tries):
            if self.acquire():
                return True
            if attempt + 1 < tries:
                time.sleep(pause)
        return False

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:
                pass
            os.close(self.fd)  # closing releases the flock
            self.fd = None


def lock_free() -> bool:
    """True when no worker holds the lock (probes it for an instant)."""
    import fcntl

    try:
        fd = os.open(paths.location("state", "upload", "worker.lock"), os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def worker_pid() -> int | None:
    """The running worker's pid (read without touching the lock), or None."""
    try:
        raw = lock_file().read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not raw.isdigit():
        return None
    pid = int(raw)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def iter_groups(items: list[Entry]) -> Iterator[tuple[tuple[str, str], list[Entry]]]:
    """Entries grouped by (repository, trace), in queue order."""
    groups: dict[tuple[str, str], list[Entry]] = {}
    for entry in items:
        groups.setdefault(entry.group, []).append(entry)
    yield from groups.items()
