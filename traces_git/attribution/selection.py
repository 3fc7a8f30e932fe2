"""Decide which traces belong to a commit.

In order: ``TRACES_TRACE_ID`` (an agent committing names its own traces);
the committing session's own hints (``TRACES_CURRENT_TRACE_ID``,
``CODEX_THREAD_ID``, ``TRACES_CURRENT_SOURCE_PATH``/``TRACES_SOURCE_PATH``);
sessions in ``traces-active.json`` of this worktree; traces in the store whose
directory is this worktree (or inside it) and that were active since the
previous commit. For agents that record their file edits, a trace must have
edited one of the files the commit changed: a chat that touched nothing is
not attached. IDs the note already has, or has detached, are skipped when the
note is written (`notes.with_traces`).

Every candidate considered, kept or dropped, can be reported with its reason
(``considered``): the hook records them for ``traces-git explain``.
"""

from __future__ import annotations

import os

from traces_git.store import Store, Trace

TYPE_CHECKING = False  # typing, collections and re cost milliseconds per hook run
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

# Agents whose traces record tool calls with file paths. A trace of one of
# these agents with no recorded edit is a chat; other agents are kept on
# directory and time alone.
EDIT_RECORDING_AGENTS = frozenset(
    {"claude-code", "codex", "cursor", "opencode", "gemini-cli", "pi", "copilot", "cline", "amp"}
)
ACTIVE_SESSION_IDLE_MS = 2 * 60 * 60 * 1000
# Agents whose TRACES_CURRENT_TRACE_ID the official hook trusts (CLI 0.6.31).
HINT_AGENTS = frozenset({"claude-code", "codex", "opencode", "pi"})
SOURCE_PATH_VARIABLES = ("TRACES_CURRENT_SOURCE_PATH", "TRACES_SOURCE_PATH")
# At most this many candidates (and files per side) go into an explain record.
MAX_CONSIDERED = 40
MAX_OUTSIDE = 10  # traces of other directories: the machine's other work, a few are enough
MAX_FILES = 12


class Picked:
    __slots__ = ("id", "url", "source")

    def __init__(self, id: str, url: str | None, source: str):
        self.id = id
        self.url = url
        self.source = source  # "env", "hint", "active" or "store"

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
        defer_stale: bool = False,
    ):
        self.worktree = worktree  # realpath of the worktree root
        self.git_dir = git_dir  # per-worktree git dir
        self.since_ms = since_ms  # previous commit's time, or now minus the first-commit window
        self.now_ms = now_ms
        self.changed_files = changed_files  # realpaths of the files the commit changed
        # Late attach is possible (the official CLI can refresh the store): a candidate
        # whose store data may be stale is left to it instead of being decided now.
        self.defer_stale = defer_stale
        self.deferred: list[tuple[str, str]] = []  # (trace id, why its data may be stale)


# TRACES_TRACE_ID names the committing agent's own traces: a handful. More than this
# many are ignored (docs/safety.md), so a runaway variable costs microseconds, not seconds.
MAX_ENV_IDS = 32


def env_trace_ids(value: str | None, ignored: list[dict] | None = None) -> list[str]:
    """The distinct trace IDs of ``TRACES_TRACE_ID`` (comma or space separated), at most
    :data:`MAX_ENV_IDS`; what is dropped (not an ID, too long, over the cap) is told to
    ``ignored`` (shown by explain, logged by the hook)."""
    if not value:
        return []
    from traces_git.notes.core import is_trace_id

    found: list[str] = []
    bad = 0
    parts = value.replace(",", " ").split()
    for part in parts:
        if not is_trace_id(part):
            bad += 1
        elif part not in found:
            if len(found) == MAX_ENV_IDS:
                break
            found.append(part)
    over = len(parts) - bad - len(found) if len(found) == MAX_ENV_IDS else 0
    if ignored is not None and (bad or over > 0):
        why = []
        if bad:
            why.append(f"{bad} value(s) not a trace ID (1-128 of A-Z a-z 0-9 _ -)")
        if over > 0:
            why.append(f"more than {MAX_ENV_IDS} IDs: the rest ignored")
        ignored.append(
            {"variable": "TRACES_TRACE_ID", "value": _safe(value[:200]), "why": "; ".join(why)}
        )
    return found


def inside(path: str | None, root: str) -> bool:
    """True when ``path`` is ``root`` or below it, after resolving symlinks."""
    if not path:
        return False
    resolved = os.path.realpath(path)
    return resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)


def active_sessions(
    git_dir: str, root: str, now_ms: float, considered: Considered | None = None
) -> list[dict]:
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
            if considered is not None and _is_id(trace_id):
                considered.add(
                    trace_id,
                    "active",
                    False,
                    "idle",
                    idle_over_ms=ACTIVE_SESSION_IDLE_MS,
                    agent=_agent(session),
                )
            continue
        directory = session.get("dir")
        if directory and not inside(directory, root):
            if considered is not None and _is_id(trace_id):
                considered.add(
                    trace_id,
                    "active",
                    False,
                    "outside-worktree",
                    agent=_agent(session),
                    directory=str(directory),
                )
            continue
        kept.append({**session, "traceId": trace_id})
    return kept


def edited_paths(tool_calls: Iterable[dict], base_dir: str | None) -> set[str]:
    """Realpaths of the files a trace's tool calls edited (``edit_tools`` decides which
    calls edit); relative paths are joined to ``base_dir``."""
    from traces_git import edit_tools

    found: set[str] = set()
    for call in tool_calls:
        found |= edit_tools.resolve_all(edit_tools.event_files(call), base_dir)
    return found


def read_paths(tool_calls: Iterable[dict], base_dir: str | None) -> set[str]:
    """Realpaths of the files a trace's read-only tool calls named (for explain)."""
    from traces_git import edit_tools

    found: set[str] = set()
    for call in tool_calls:
        if call.get("type") == "tool_call":
            names = edit_tools.read_files(call.get("toolName"), call.get("args"))
            found |= edit_tools.resolve_all(names, base_dir)
    return found


class Hints:
    """What the committing session says about itself through the environment."""

    __slots__ = ("explicit", "trace_ids", "source_paths", "ignored")

    def __init__(self) -> None:
        self.explicit: list[str] = []  # TRACES_TRACE_ID: attached as named
        self.trace_ids: list[tuple[str, str]] = []  # (trace id, variable)
        self.source_paths: list[tuple[str, str]] = []  # (session file, variable)
        self.ignored: list[dict] = []  # hints set but not used, with the reason

    def __bool__(self) -> bool:
        return bool(self.explicit or self.trace_ids or self.source_paths)


def env_hints(environ: Mapping[str, str]) -> Hints:
    """Read the committing session's hints from ``environ`` (``os.environ``).

    ``TRACES_CURRENT_TRACE_ID`` counts when ``TRACES_CURRENT_AGENT`` is one of
    :data:`HINT_AGENTS`. ``CODEX_THREAD_ID`` is Codex's trace ID; it is ignored
    when the session says it is another agent or names another trace (a shell
    started from Codex running some other agent inherits it).
    """
    hints = Hints()
    hints.explicit = env_trace_ids(environ.get("TRACES_TRACE_ID"), hints.ignored)
    current = (environ.get("TRACES_CURRENT_TRACE_ID") or "").strip()
    agent = (environ.get("TRACES_CURRENT_AGENT") or "").strip()
    codex = (environ.get("CODEX_THREAD_ID") or "").strip()
    if current:
        if agent in HINT_AGENTS and _is_id(current):
            hints.trace_ids.append((current, "TRACES_CURRENT_TRACE_ID"))
        else:
            why = f"TRACES_CURRENT_AGENT is {agent!r}" if agent else "TRACES_CURRENT_AGENT is unset"
            if agent in HINT_AGENTS:
                why = "not a trace ID"
            hints.ignored.append(
                {"variable": "TRACES_CURRENT_TRACE_ID", "value": _safe(current), "why": why}
            )
    if codex:
        if agent and agent != "codex":
            hints.ignored.append(
                {
                    "variable": "CODEX_THREAD_ID",
                    "value": _safe(codex),
                    "why": f"the committing agent is {agent}, not codex",
                }
            )
        elif current and current != codex:
            hints.ignored.append(
                {
                    "variable": "CODEX_THREAD_ID",
                    "value": _safe(codex),
                    "why": "it disagrees with TRACES_CURRENT_TRACE_ID",
                }
            )
        elif not _is_id(codex):
            hints.ignored.append(
                {"variable": "CODEX_THREAD_ID", "value": _safe(codex), "why": "not a trace ID"}
            )
        elif codex != current:
            hints.trace_ids.append((codex, "CODEX_THREAD_ID"))
    for variable in SOURCE_PATH_VARIABLES:
        value = (environ.get(variable) or "").strip()
        if value and all(value != path for path, _ in hints.source_paths):
            hints.source_paths.append((value, variable))
    return hints


def _is_id(value: str) -> bool:
    from traces_git.notes.core import is_trace_id

    return is_trace_id(value)


def _safe(value: str) -> str:
    """A hint value fit for a record: short, one line."""
    value = value.replace("\n", " ")
    return value if len(value) <= 120 else value[:117] + "..."


class Considered:
    """The candidates a selection looked at, each with why it was kept or dropped."""

    __slots__ = ("items", "worktree", "truncated", "outside")

    def __init__(self, worktree: str):
        self.items: list[dict] = []
        self.worktree = worktree
        self.truncated = 0
        self.outside = 0

    def add(self, trace_id: str, source: str, kept: bool, reason: str, **extra: object) -> None:
        if reason == "outside-worktree":
            self.outside += 1
            if self.outside > MAX_OUTSIDE:
                self.truncated += 1
                return
        if len(self.items) >= MAX_CONSIDERED:
            self.truncated += 1
            return
        item = {"id": trace_id, "source": source, "kept": kept, "reason": reason}
        item.update({k: v for k, v in extra.items() if v is not None})
        self.items.append(item)

    def files(self, paths: Iterable[str]) -> list[str]:
        """Up to :data:`MAX_FILES` paths, relative to the worktree when inside it."""
        root = self.worktree.rstrip(os.sep) + os.sep
        shown = sorted(p[len(root) :] if p.startswith(root) else p for p in paths)
        return shown[:MAX_FILES]


def pick(
    ctx: CommitContext,
    store: Store | None,
    env_ids: list[str] | Hints,
    considered: Considered | None = None,
    *,
    automatic: bool = True,
) -> list[Picked]:
    """The traces to attach to the commit described by ``ctx``.

    ``env_ids`` is either the list of IDs of ``TRACES_TRACE_ID`` or all the
    :class:`Hints`. ``automatic=False`` (a revert) keeps only what the hints
    name: no active session and no store trace is looked at.
    """
    if isinstance(env_ids, Hints):
        hints = env_ids
    else:
        hints = Hints()
        hints.explicit = list(env_ids)
    picked: dict[str, Picked] = {}

    def add(trace_id: str, url: str | None, source: str) -> None:
        # An ID from the store or a session file is foreign text: one that fails the
        # note format's check is never attached, uploaded or reported as attached.
        if trace_id not in picked and _is_id(trace_id):
            picked[trace_id] = Picked(trace_id, url, source)

    def note(trace_id: str, source: str, kept: bool, reason: str, **extra: object) -> None:
        if kept and not _is_id(trace_id):
            kept, reason = False, "invalid-id"
        if reason == "deferred":
            ctx.deferred.append((trace_id, str(extra.get("stale"))))
        if considered is not None:
            considered.add(trace_id, source, kept, reason, **extra)

    for trace_id in hints.explicit:
        if trace_id not in picked:
            add(trace_id, None, "env")
            note(trace_id, "TRACES_TRACE_ID", True, "named")

    # The committing session: a candidate even before the store indexed it;
    # when the store shows its edits, they must overlap the commit's files.
    hinted: list[tuple[str, str, Trace | None]] = []
    if hints.trace_ids:
        known = store.get([t for t, _ in hints.trace_ids]) if store is not None else {}
        hinted.extend((t, var, known.get(t)) for t, var in hints.trace_ids)
    for path, variable in hints.source_paths:
        trace = store.by_source_path(path) if store is not None else None
        if trace is None:
            if ctx.defer_stale:  # the store may not have read the session file yet
                note(
                    "",
                    variable,
                    False,
                    "deferred",
                    source_path=_safe(path),
                    stale="session file not in the store",
                )
            else:
                note("", variable, False, "no-store-match", source_path=_safe(path))
            continue
        hinted.append((trace.id, variable, trace))
    for trace_id, variable, trace in hinted:
        if trace_id in picked:
            continue
        kept, reason, extra = _session_verdict(ctx, store, trace, considered)
        note(trace_id, variable, kept, reason, agent=trace.agent_id if trace else None, **extra)
        if kept:
            add(trace_id, trace.shared_url if trace else None, "hint")

    if not automatic:
        return list(picked.values())

    sessions = active_sessions(ctx.git_dir, ctx.worktree, ctx.now_ms, considered)
    session_ids = [s["traceId"] for s in sessions if s["traceId"] not in picked]
    known_traces: dict[str, Trace] = store.get(session_ids) if store and session_ids else {}
    for session in sessions:
        trace_id = session["traceId"]
        if trace_id in picked:
            continue
        last = session.get("lastInteractionAt") or session.get("startedAt") or 0
        if last < ctx.since_ms:
            note(trace_id, "active", False, "idle", last_activity_ms=last, agent=_agent(session))
            continue
        trace = known_traces.get(trace_id)
        # The store may not have indexed a live session yet: trust the agent's
        # lifecycle hook unless the store shows edits elsewhere.
        kept, reason, extra = _session_verdict(ctx, store, trace, considered)
        note(trace_id, "active", kept, reason, agent=_agent(session), **extra)
        if kept:
            add(trace_id, trace.shared_url if trace else None, "active")

    if store is not None:
        for trace in _store_candidates(ctx, store, considered):
            if trace.id in picked:
                continue
            if not inside(trace.directory, ctx.worktree):
                if considered is not None and trace.directory:
                    note(
                        trace.id,
                        "store",
                        False,
                        "outside-worktree",
                        agent=trace.agent_id,
                        directory=trace.directory,
                    )
                continue
            kept, reason, extra = _verdict(ctx, store, trace, considered, require_edits=True)
            note(trace.id, "store", kept, reason, agent=trace.agent_id, **extra)
            if kept:
                add(trace.id, trace.shared_url, "store")
    return list(picked.values())


def _store_candidates(
    ctx: CommitContext, store: Store, considered: Considered | None
) -> list[Trace]:
    """Store traces active since the previous commit: by the row's timestamp, or for a
    trace of this worktree whose row is older, by its last event's (a Codex row keeps the
    session's start)."""
    found = store.active_since(ctx.since_ms)
    known = {t.id for t in found}
    for trace, last_event_ms in store.in_directory_before([ctx.worktree], ctx.since_ms):
        if trace.id in known or last_event_ms is None or last_event_ms < ctx.since_ms:
            continue
        if not inside(trace.directory, ctx.worktree):
            continue
        trace.timestamp_ms = last_event_ms
        found.append(trace)
    return found


def _agent(session: dict) -> str | None:
    agent = session.get("agentId")
    return agent if isinstance(agent, str) else None


def _session_verdict(
    ctx: CommitContext, store: Store | None, trace: Trace | None, considered: Considered | None
) -> tuple[bool, str, dict]:
    if trace is None:
        if ctx.defer_stale:
            return _defer(ctx, None, "not indexed")
        return True, "not-indexed", {}
    assert store is not None  # the trace was read from it
    return _verdict(ctx, store, trace, considered, require_edits=False)


def _defer(ctx: CommitContext, trace: Trace | None, why: str) -> tuple[bool, str, dict]:
    """Not decided now: the late attach refreshes the store and decides (``pick`` lists it
    in ``ctx.deferred``)."""
    return False, "deferred", {"stale": why}


def _verdict(
    ctx: CommitContext,
    store: Store,
    trace: Trace,
    considered: Considered | None,
    *,
    require_edits: bool,
) -> tuple[bool, str, dict]:
    """(kept, reason, details) of the file-overlap rule for one trace."""
    if trace.agent_id not in EDIT_RECORDING_AGENTS:
        return True, "agent-records-no-edits", {}
    if ctx.defer_stale:
        from traces_git.attribution import freshness

        why = freshness.trace_stale(store, trace)
        if why:
            return _defer(ctx, trace, why)
    calls = list(store.tool_calls(trace.id))
    base = trace.directory or ctx.worktree
    edits = edited_paths(calls, base)
    if not edits:
        if require_edits:
            if not calls and not store.has_events([trace.id]):
                return False, "no-events", {}  # rows only (`traces list`): nothing to compare
            reads = read_paths(calls, base)
            if reads:  # shown: the commit's files it read, else all it read
                shown = (reads & ctx.changed_files()) or reads
                extra = {"read_files": considered.files(shown)} if considered is not None else {}
                return False, "only-read", extra
            return False, "edited-nothing", {}
        return True, "no-edits-recorded", {}
    overlap = edits & ctx.changed_files()
    if overlap:
        extra = {"overlap": considered.files(overlap)} if considered is not None else {}
        return True, "file-overlap", extra
    extra = _files(considered, edits, ctx)
    if considered is not None:
        read = read_paths(calls, base) & ctx.changed_files()
        if read:  # it read the commit's files without editing them
            extra["read_files"] = considered.files(read)
    return False, "no-file-overlap", extra


def _files(considered: Considered | None, edits: set[str], ctx: CommitContext) -> dict:
    if considered is None:
        return {}
    return {
        "trace_files": considered.files(edits),
        "commit_files": considered.files(ctx.changed_files()),
    }
