"""Is the store's picture of this worktree's agent sessions current? (a few ``stat`` calls)

The Traces CLI indexes agent sessions only when it runs (``traces list`` writes the rows,
``traces show`` the events). Before the post-commit hook decides from the store, it asks
here whether the agents wrote to their session files after the store last read them, for
the sessions that can matter to this commit. Where the adapters of the official CLI
0.6.31 look (under HOME):

- Claude Code: ``~/.claude/projects/<cwd, every non-alphanumeric as '->/<session>.jsonl``;
- Codex: ``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`` (the cwd in
  its first line, ``session_meta``);
- OpenCode: ``$XDG_DATA_HOME/opencode/storage/{project,session,message}/...``;
- Pi ``~/.pi/agent/sessions``, Copilot CLI ``~/.copilot/session-state``, Cursor
  ``~/.cursor/projects``: their paths do not say the project, so any session file there
  written since counts unless the store has it, fresh, for another directory
  (:data:`MAX_OTHER_FILES` entries at most).

Only files modified since the previous commit are looked at, and a Codex day directory
only for the days since then (at most :data:`MAX_DAYS`). Everything here is os calls on
the hook path: no json, no re.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs milliseconds per hook run
if TYPE_CHECKING:
    from traces_git.store import Store, Trace

MAX_DAYS = 3  # Codex day directories looked at, counting back from today
MAX_FILES = 5000  # entries read per directory at most (a bound on a pathological HOME)
SLACK_MS = 1000  # mtime granularity, and the CLI writing the store right after reading


class Stale:
    """Why the store may not show this commit's sessions, or nothing (falsy)."""

    __slots__ = ("reasons",)

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.reasons)

    def add(self, reason: str) -> None:
        if reason not in self.reasons and len(self.reasons) < 8:
            self.reasons.append(reason)


def home() -> str:
    return os.path.expanduser("~")


def data_home() -> str:
    value = os.environ.get("XDG_DATA_HOME", "")
    return value if os.path.isabs(value) else os.path.join(home(), ".local", "share")


def claude_projects() -> str:
    return os.path.join(home(), ".claude", "projects")


def codex_sessions() -> str:
    return os.path.join(home(), ".codex", "sessions")


def opencode_storage() -> str:
    return os.path.join(data_home(), "opencode", "storage")


def other_roots() -> list[str]:
    """Session locations of agents whose files do not say the project in their path
    (Pi, Copilot CLI, Cursor's agent): any session file written since counts, unless
    the store has it, fresh, for another directory."""
    base = home()
    return [
        os.path.join(base, ".pi", "agent", "sessions"),
        os.path.join(base, ".copilot", "session-state"),
        os.path.join(base, ".cursor", "projects"),
    ]


MAX_OTHER_FILES = 2000  # files looked at under other_roots(), in all
SESSION_SUFFIXES = (".jsonl", ".json", ".txt")


def _walk_recent(root: str, since: float, found: list[str], depth: int = 3) -> int:
    """Add the session files under ``root`` (``depth`` levels) modified at or after ``since``;
    returns how many entries were looked at."""
    seen = 0
    stack = [(root, 0)]
    while stack and seen < MAX_OTHER_FILES:
        folder, level = stack.pop()
        for entry in _entries(folder):
            seen += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    if level < depth:
                        stack.append((entry.path, level + 1))
                elif entry.name.endswith(SESSION_SUFFIXES) and _modified(entry) >= since:
                    found.append(entry.path)
            except OSError:
                continue
    return seen


def claude_dir_name(cwd: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in cwd)


def session_roots() -> list[str]:
    """The agents' session locations that exist on this machine."""
    return [
        p
        for p in (claude_projects(), codex_sessions(), opencode_storage(), *other_roots())
        if os.path.isdir(p)
    ]


def _mtime_ms(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime * 1000
    except OSError:
        return None


def _entries(path: str) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            out = []
            for entry in it:
                out.append(entry)
                if len(out) > MAX_FILES:
                    break
            return out
    except OSError:
        return []


def _modified(entry: os.DirEntry) -> float:
    try:
        return entry.stat().st_mtime * 1000
    except OSError:
        return 0.0


def recent_session_files(worktree: str, since_ms: float, now_ms: float) -> list[tuple[str, str]]:
    """(agent, session file) of this worktree's sessions written at or after ``since_ms``."""
    found: list[tuple[str, str]] = []
    since = since_ms - SLACK_MS
    # Claude Code: the worktree's own directory and those of its subdirectories.
    prefix = claude_dir_name(worktree)
    for project in _entries(claude_projects()):
        name = project.name
        if name != prefix and not name.startswith(prefix + "-"):
            continue
        if project.is_dir() and _mtime_ms(project.path) is not None:
            for entry in _entries(project.path):
                if entry.name.endswith(".jsonl") and _modified(entry) >= since:
                    # "-a-b-c" is /a/b/c or /a/b-c: a subdirectory's session names its cwd
                    if name == prefix or _cwd_inside(entry.path, worktree):
                        found.append(("claude-code", entry.path))
    # Codex: the day directories since the previous commit.
    import time

    day_s = 86400
    first = max(since_ms / 1000, now_ms / 1000 - MAX_DAYS * day_s)
    days = {
        time.strftime("%Y/%m/%d", time.gmtime(t))
        for t in (first, *range(int(first) + day_s, int(now_ms / 1000) + day_s, day_s))
    }
    days |= {time.strftime("%Y/%m/%d", time.localtime(now_ms / 1000))}
    for day in sorted(days):
        for entry in _entries(os.path.join(codex_sessions(), *day.split("/"))):
            if entry.name.startswith("rollout-") and _modified(entry) >= since:
                if _cwd_inside(entry.path, worktree):
                    found.append(("codex", entry.path))
    # OpenCode: the sessions of projects whose worktree is this one.
    storage = opencode_storage()
    for project_id in _opencode_projects(storage, worktree):
        for entry in _entries(os.path.join(storage, "session", project_id)):
            if not entry.name.endswith(".json"):
                continue
            session = entry.name[: -len(".json")]
            messages = os.path.join(storage, "message", session)
            newest = max(_modified(entry), _mtime_ms(messages) or 0.0)
            if newest >= since:
                found.append(("opencode", entry.path))
    for root in other_roots():
        recent: list[str] = []
        _walk_recent(root, since, recent)
        found += [("agent", path) for path in recent]
    return found


def _cwd_inside(path: str, worktree: str) -> bool:
    """Does the session file's first ``"cwd":`` (Codex: its ``session_meta`` line; Claude
    Code: every line) name a directory in ``worktree``? Unclear (no cwd in the first 64 KiB,
    escapes): True, a refresh costs nothing in the foreground; unreadable: False."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536).decode("utf-8", "replace")
    except OSError:
        return False
    marker = '"cwd":'
    at = head.find(marker)
    if at < 0:
        return True
    rest = head[at + len(marker) :].lstrip()
    end = rest.find('"', 1)
    if not rest.startswith('"') or end < 0:
        return True
    cwd = rest[1:end]
    if "\\" in cwd or not cwd:
        return True
    return _inside(cwd, worktree)


def _inside(path: str, root: str) -> bool:
    resolved = os.path.realpath(path)
    root = root.rstrip(os.sep)
    return resolved == root or resolved.startswith(root + os.sep)


def _opencode_projects(storage: str, worktree: str) -> list[str]:
    found = []
    root = worktree.rstrip(os.sep)
    for entry in _entries(os.path.join(storage, "project")):
        if not entry.name.endswith(".json"):
            continue
        try:
            with open(entry.path, "rb") as handle:
                text = handle.read(65536).decode("utf-8", "replace")
        except OSError:
            continue
        # `"worktree": "<path>"`: the path as JSON writes it; escapes are rare in paths
        for quoted in (f'"worktree": "{root}"', f'"worktree":"{root}"'):
            if quoted in text:
                found.append(entry.name[: -len(".json")])
                break
    return found


MAX_WATCHED = 300


def watch_paths(worktree: str, now_ms: float) -> tuple[list[str], list[str]] | None:
    """(existing, absent) paths whose change is the only way :func:`recent_session_files`
    could find something for this worktree later: the directories a new session file
    would appear in and the session files that could grow. For the post-commit stamp
    (``shortcut``); None when there are more than :data:`MAX_WATCHED`."""
    import time

    existing: list[str] = []
    absent: list[str] = []

    def watch(path: str) -> None:
        (existing if os.path.lexists(path) else absent).append(path)

    projects = claude_projects()
    watch(projects)
    prefix = claude_dir_name(worktree)
    for project in _entries(projects):
        if project.name == prefix or project.name.startswith(prefix + "-"):
            existing.append(project.path)
            existing += [e.path for e in _entries(project.path) if e.name.endswith(".jsonl")]
    sessions = codex_sessions()
    watch(sessions)
    today = time.gmtime(now_ms / 1000)
    watch(os.path.join(sessions, time.strftime("%Y", today)))
    watch(os.path.join(sessions, time.strftime("%Y", today), time.strftime("%m", today)))
    for back in range(MAX_DAYS + 1):
        day = time.strftime("%Y/%m/%d", time.gmtime(now_ms / 1000 - back * 86400))
        folder = os.path.join(sessions, *day.split("/"))
        watch(folder)
        existing += [e.path for e in _entries(folder) if e.name.startswith("rollout-")]
    storage = opencode_storage()
    watch(os.path.join(storage, "project"))
    for project_id in _opencode_projects(storage, worktree):
        folder = os.path.join(storage, "session", project_id)
        watch(folder)
        for entry in _entries(folder):
            if entry.name.endswith(".json"):
                existing.append(entry.path)
                watch(os.path.join(storage, "message", entry.name[: -len(".json")]))
    for root in other_roots():
        if os.path.lexists(root):
            return None  # their files do not say whose they are: only a full run can tell
        absent.append(root)
    if len(existing) + len(absent) > MAX_WATCHED:
        return None
    return existing, absent


def trace_stale(store: Store, trace: Trace) -> str | None:
    """Why the store's events of ``trace`` may be out of date, or None."""
    source, last_written_ms = store.index_state(trace.id)
    if last_written_ms is None:
        return "no events indexed"
    if source:
        modified = _mtime_ms(source)
        if modified is not None and modified > last_written_ms + SLACK_MS:
            return "session file changed after the store read it"
    return None


def check(
    store: Store | None, store_path: str, worktree: str, since_ms: float, now_ms: float
) -> Stale:
    """Is any session of this worktree, written since the previous commit, missing from
    the store or newer there than its events?"""
    stale = Stale()
    recent = recent_session_files(worktree, since_ms, now_ms)
    if not recent:
        return stale
    if store is None:
        stale.add(f"no Traces store yet ({store_path}) although agent sessions exist")
        return stale
    for agent, path in recent:
        trace = store.by_source_path(path)
        if trace is None:
            stale.add(f"{agent} session not in the store: {path}")
            continue
        if agent == "agent" and trace.directory and not _inside(trace.directory, worktree):
            continue  # another project's session (its path does not say whose it is)
        why = trace_stale(store, trace)
        if why:
            stale.add(f"{agent} session {trace.id}: {why}")
    return stale
