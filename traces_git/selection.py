"""Decide which traces belong to a commit.

In order: ``TRACES_TRACE_ID`` (an agent committing names its own traces);
sessions in ``traces-active.json`` of this worktree; traces in the store whose
directory is this worktree (or inside it) and that were active since the
previous commit. For agents that record their file edits, a trace must have
edited one of the files the commit changed: a chat that touched nothing is
not attached. IDs the note already has, or has detached, are skipped when the
note is written (`notes.with_traces`).
"""

from __future__ import annotations

import os

from traces_git.store import Store, Trace

TYPE_CHECKING = False  # typing, collections and re cost milliseconds per hook run
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

# Agents whose traces record tool calls with file paths. A trace of one of
# these agents with no recorded edit is a chat; other agents are kept on
# directory and time alone.
EDIT_RECORDING_AGENTS = frozenset(
    {"claude-code", "codex", "cursor", "opencode", "gemini-cli", "pi", "copilot", "cline", "amp"}
)
ACTIVE_SESSION_IDLE_MS = 2 * 60 * 60 * 1000
_PATH_KEYS = ("file_path", "filePath", "notebook_path", "path", "target_file", "filename")
_PATCH_FILE = r"^\*\*\* (?:Add|Update|Delete) File: (.+)$"


class Picked:
    __slots__ = ("id", "url", "source")

    def __init__(self, id: str, url: str | None, source: str):
        self.id = id
        self.url = url
        self.source = source  # "env", "active" or "store"

    def __repr__(self) -> str:
        return f"Picked({self.id!r}, {self.url!r}, {self.source!r})"


class CommitContext:
    def __init__(
        self,
        worktree: str,
        git_dir: str,
        since_ms: float,
        now_ms: float,
        changed_files: Callable[[], set[str]],
    ):
        self.worktree = worktree  # realpath of the worktree root
        self.git_dir = git_dir  # per-worktree git dir
        self.since_ms = since_ms  # previous commit's time, or now minus the first-commit window
        self.now_ms = now_ms
        self.changed_files = changed_files  # realpaths of the files the commit changed


def env_trace_ids(value: str | None) -> list[str]:
    if not value:
        return []
    from traces_git.notes import is_trace_id

    parts = value.replace(",", " ").split()
    return [part for part in parts if is_trace_id(part)]


def inside(path: str | None, root: str) -> bool:
    """True when ``path`` is ``root`` or below it, after resolving symlinks."""
    if not path:
        return False
    resolved = os.path.realpath(path)
    return resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)


def active_sessions(git_dir: str, root: str, now_ms: float) -> list[dict]:
    """Sessions of ``traces-active.json`` for this worktree, not idle too long."""
    try:
        with open(os.path.join(git_dir, "traces-active.json"), "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    import json  # only when there is a file: json costs ~7 ms per hook run

    try:
        data = json.loads(raw)
    except ValueError:
        return []
    sessions = data.get("sessions") if isinstance(data, dict) else None
    if not isinstance(sessions, list):
        return []
    kept = []
    for session in sessions:
        if not isinstance(session, dict):
            continue
        trace_id = session.get("traceId") or session.get("agentSessionId")
        if not isinstance(trace_id, str) or not trace_id:
            continue
        last = session.get("lastInteractionAt") or session.get("startedAt") or 0
        if not isinstance(last, (int, float)) or now_ms - last > ACTIVE_SESSION_IDLE_MS:
            continue
        directory = session.get("dir")
        if directory and not inside(directory, root):
            continue
        kept.append({**session, "traceId": trace_id})
    return kept


def edited_paths(tool_calls: Iterable[dict], base_dir: str | None) -> set[str]:
    """Realpaths of the files a trace's tool calls name."""
    found: set[str] = set()
    for call in tool_calls:
        args = call.get("args")
        if isinstance(args, str):
            import json  # only for args recorded as a JSON string: ~5 ms on the hook path

            try:
                args = json.loads(args)
            except ValueError:
                args = {"patch": args}
        if not isinstance(args, dict):
            continue
        names = [args[key] for key in _PATH_KEYS if isinstance(args.get(key), str)]
        for value in args.values():
            if isinstance(value, str) and "*** " in value:
                import re

                names.extend(re.findall(_PATCH_FILE, value, re.MULTILINE))
        for name in names:
            name = name.strip()
            if not name:
                continue
            if not os.path.isabs(name):
                if not base_dir:
                    continue
                name = os.path.join(base_dir, name)
            found.add(os.path.realpath(name))
    return found


def pick(ctx: CommitContext, store: Store | None, env_ids: list[str]) -> list[Picked]:
    """The traces to attach to the commit described by ``ctx``."""
    picked: dict[str, Picked] = {}

    def add(trace_id: str, url: str | None, source: str) -> None:
        if trace_id not in picked:
            picked[trace_id] = Picked(trace_id, url, source)

    for trace_id in env_ids:
        add(trace_id, None, "env")

    sessions = active_sessions(ctx.git_dir, ctx.worktree, ctx.now_ms)
    session_ids = [s["traceId"] for s in sessions]
    known_traces: dict[str, Trace] = store.get(session_ids) if store and session_ids else {}
    for session in sessions:
        trace_id = session["traceId"]
        last = session.get("lastInteractionAt") or session.get("startedAt") or 0
        if last < ctx.since_ms:
            continue
        trace = known_traces.get(trace_id)
        # The store may not have indexed a live session yet: trust the agent's
        # lifecycle hook unless the store shows edits elsewhere.
        if trace is not None and not _touches_commit(ctx, store, trace, require_edits=False):
            continue
        add(trace_id, trace.shared_url if trace else None, "active")

    if store is not None:
        for trace in store.active_since(ctx.since_ms):
            if trace.id in picked:
                continue
            if not inside(trace.directory, ctx.worktree):
                continue
            if not _touches_commit(ctx, store, trace, require_edits=True):
                continue
            add(trace.id, trace.shared_url, "store")
    return list(picked.values())


def _touches_commit(ctx: CommitContext, store: Store, trace: Trace, *, require_edits: bool) -> bool:
    if trace.agent_id not in EDIT_RECORDING_AGENTS:
        return True
    edits = edited_paths(store.tool_calls(trace.id), trace.directory)
    if not edits:
        return not require_edits
    return bool(edits & ctx.changed_files())
