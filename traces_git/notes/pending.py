"""Note edits that could not be written in time: queued durably, written later.

A note write that cannot take its lock within its budget (another writer, a lock
file git left behind, a broken notes ref: :class:`~traces_git.errors.NotesBusy`)
must not block the user's git command. The edit is written instead as one small
file in the repository's common git dir (``traces-git-pending-notes/``): beside
the refs it is about, so it moves with the repository, and writable whenever the
commit itself was. The file is complete or absent (written to a temporary name,
fsynced, renamed); the next post-commit, ``traces-git attach``/``detach`` and
``traces-git sync`` write what is queued once the ref can be moved; ``status``
and ``doctor`` show it meanwhile.

An edit is a list of operations, applied in order to the commit's note:

- ``add ID [URL]``: what post-commit does (a detached ID stays detached);
- ``attach ID [URL]``: ``traces-git attach`` (re-attaches a detached ID);
- ``detach ID``: ``traces-git detach``.

All three are idempotent, so writing an entry twice (two drains at once) is harmless.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.notes.core import Edit
    from traces_git.repo import RepoInfo

QUEUE_DIR = "traces-git-pending-notes"
OPS = ("add", "attach", "detach")


def queue_dir(common_dir: str) -> str:
    return os.path.join(common_dir, QUEUE_DIR)


def has_pending(common_dir: str) -> bool:
    """One ``listdir`` (or failed stat) of the queue dir."""
    try:
        return any(name.endswith(".json") for name in os.listdir(queue_dir(common_dir)))
    except OSError:
        return False


def enqueue(
    common_dir: str, commit: str, ops: list[tuple[str, str, str | None]], reason: str
) -> str:
    """Queue ``ops`` for ``commit``'s note; returns the entry's path. Durable on return."""
    import json

    folder = queue_dir(common_dir)
    os.makedirs(folder, exist_ok=True)
    name = f"{commit}.{time.time_ns()}.{os.getpid()}.json"
    path = os.path.join(folder, name)
    tmp = os.path.join(folder, f".{name}.tmp")
    data = {
        "commit": commit,
        "ops": [list(op) for op in ops],
        "reason": reason,
        "time": time.time(),
    }
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, json.dumps(data).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:  # the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def entries(common_dir: str, *, set_aside: bool = False) -> list[dict]:
    """Every queued entry, oldest first, with its ``path``; unreadable files are skipped
    (a temporary file of a writer killed before its rename is not an entry). With
    ``set_aside`` an entry file that is not valid (it was renamed complete, so it never
    will be) is renamed ``*.invalid``: kept for a look, no longer pending."""
    import json

    folder = queue_dir(common_dir)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            data = None
        if _valid(data):
            data["path"] = path
            found.append(data)
        elif set_aside:
            try:
                os.replace(path, path + ".invalid")
            except OSError:
                pass
    return found


def _valid(data: object) -> bool:
    from traces_git.notes.core import is_trace_id

    if not isinstance(data, dict) or not isinstance(data.get("commit"), str):
        return False
    commit = data["commit"]
    if len(commit) not in (40, 64) or set(commit) - set("0123456789abcdef"):
        return False
    ops = data.get("ops")
    return isinstance(ops, list) and all(
        isinstance(op, list)
        and len(op) == 3
        and op[0] in OPS
        and isinstance(op[1], str)
        and is_trace_id(op[1])
        and (op[2] is None or isinstance(op[2], str))
        for op in ops
    )


def edit_for(ops: list) -> Edit:
    """The note edit (old text -> new text or None) that applies ``ops`` in order."""
    from traces_git.notes import core as notes

    def edit(old: str | None) -> str | None:
        text = old
        for op, trace_id, url in ops:
            if op == "detach":
                new = notes.with_detached(text, trace_id)
            elif op == "attach":
                base = notes.without_detach(text, trace_id)
                base = base if base is not None else text
                added = notes.with_traces(base, [notes.TraceRef(trace_id, url)])
                new = added if added is not None else base
            else:
                new = notes.with_traces(text, [notes.TraceRef(trace_id, url)])
            if new is not None:
                text = new
        return text if text != old else None

    return edit


class Drained:
    __slots__ = ("written", "left", "error")

    def __init__(self, written: int, left: int, error: str | None):
        self.written = written
        self.left = left
        self.error = error


def drain(
    repo: RepoInfo, config: Config, budget_s: float | None = None, max_s: float | None = None
) -> Drained:
    """Write every queued entry that can be written now; stop at the first busy lock,
    or (``max_s``: a hook, which must not hold git up) once that much time has passed."""
    from traces_git.errors import NotesBusy, TracesGitError
    from traces_git.notes import core as notes

    started = time.monotonic()
    queued = entries(repo.common_dir, set_aside=True)
    written = 0
    error = None
    author = notes.parse_author(config.get("traces.notesAuthor"))
    for position, entry in enumerate(queued):
        if max_s is not None and time.monotonic() - started > max_s:
            return Drained(written, len(queued) - position, None)
        try:
            notes.update_one_with_git(
                repo.worktree or repo.common_dir,
                entry["commit"],
                edit_for(entry["ops"]),
                message=f"traces-git: queued note for {entry['commit'][:12]}",
                author=author,
                lock_path=os.path.join(repo.common_dir, "traces-git-notes.lock"),
                common_dir=repo.common_dir,
                budget_s=budget_s if budget_s is not None else notes.WRITE_BUDGET_S,
            )
        except NotesBusy as exc:
            return Drained(written, len(queued) - position, str(exc))
        except TracesGitError as exc:  # e.g. the commit is gone: keep it, say so in status
            error = f"{entry['commit'][:12]}: {exc}"
            continue
        try:
            os.unlink(entry["path"])
        except FileNotFoundError:
            pass
        written += 1
    return Drained(written, len(entries(repo.common_dir)), error)


def status_section(info: RepoInfo | None, config: Config) -> dict | None:
    """Queued notes, git's stale locks, dead writers' scratch refs (with fixes)."""
    if info is None:
        return None
    from traces_git.notes import core as notes

    queued = entries(info.common_dir)
    problems = []
    section: dict = {"queued": len(queued), "commits": sorted({e["commit"] for e in queued})}
    if queued:
        section["reason"] = queued[-1].get("reason")
        problems.append(
            {
                "id": "notes-queued",
                "message": f"{len(queued)} note edit(s) queued, not yet in {notes.NOTES_REF} "
                f"({queued[-1].get('reason')})",
                "fix": "traces-git sync (writes them once the notes ref can be moved)",
            }
        )
    problem = notes.git_lock_problem(info.common_dir, packed=True)
    if problem is not None and problem.blocks:
        section["git_lock"] = problem.path
        problems.append(
            {"id": f"notes-{problem.kind}", "message": problem.message, "fix": problem.fix}
        )
    folder = os.path.join(info.common_dir, notes.SCRATCH_PREFIX.rstrip("/"))
    try:
        leftovers = sorted(os.listdir(folder))
    except OSError:
        leftovers = []
    if leftovers:
        section["scratch_refs"] = leftovers
    parts = [f"{len(queued)} queued note edit(s)" if queued else "no queued notes"]
    if problem is not None and problem.blocks:
        parts.append(problem.message)
    section["summary"] = "; ".join(parts)
    section["problems"] = problems
    return section
