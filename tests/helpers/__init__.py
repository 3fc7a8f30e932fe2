"""Test helpers: real repositories, remotes and trace stores in temporary dirs."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
PYTHON = sys.executable


def git(
    *args: str,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = True,
    input: bytes | None = None,
    env: dict | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run real git with the test's isolated environment."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        input=input.decode() if input else None,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def traces_git(
    *args: str,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = True,
    env: dict | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``traces-git`` command line in a subprocess."""
    proc = subprocess.run(
        [PYTHON, "-m", "traces_git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"traces-git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def init_repo(path: str | os.PathLike[str], *, branch: str = "main") -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", branch, str(path))
    return path


def commit_file(
    repo: str | os.PathLike[str],
    name: str = "file.txt",
    content: str | None = None,
    message: str | None = None,
    extra: tuple[str, ...] = (),
) -> str:
    """Write a file, commit it through real ``git commit`` (hooks fire), return HEAD."""
    target = Path(repo) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content if content is not None else f"{name} {time.time_ns()}\n")
    git("add", "--", name, cwd=repo)
    git("commit", "-q", "-m", message or f"change {name}", *extra, cwd=repo)
    return head(repo)


def head(repo: str | os.PathLike[str], rev: str = "HEAD") -> str:
    return git("rev-parse", rev, cwd=repo).stdout.strip()


def note(repo: str | os.PathLike[str], rev: str = "HEAD", ref: str = "traces") -> str | None:
    """The note as git itself shows it (None when there is none)."""
    proc = git("notes", f"--ref={ref}", "show", rev, cwd=repo, check=False)
    return proc.stdout if proc.returncode == 0 else None


def note_ids(repo: str | os.PathLike[str], rev: str = "HEAD") -> list[str]:
    text = note(repo, rev) or ""
    return [
        line.split()[0].removeprefix("traces:")
        for line in text.splitlines()
        if line.startswith("traces:")
    ]


class TraceStore:
    """A Traces store built to a real schema: 16 (CLI 0.6.31), 4 or 3."""

    def __init__(self, path: str | os.PathLike[str], version: int = 16):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.version = version
        db = sqlite3.connect(self.path)
        if version == 16:
            db.executescript((FIXTURES / "schema_v16.sql").read_text())
        else:
            url_cols = "shared_url TEXT, shared_visibility TEXT,"
            git_cols = "git_remote_url TEXT, git_branch TEXT, git_ref TEXT," if version >= 4 else ""
            db.executescript(f"""
                CREATE TABLE traces (id TEXT PRIMARY KEY, agent_id TEXT, title TEXT, preview TEXT,
                  timestamp INTEGER, directory TEXT, source_path TEXT, {url_cols} {git_cols}
                  created_at INTEGER NOT NULL);
                CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT NOT NULL,
                  event_id TEXT NOT NULL, event_json TEXT NOT NULL, created_at INTEGER NOT NULL,
                  UNIQUE(trace_id, event_id));
                CREATE INDEX events_by_trace ON events (trace_id, id);
                PRAGMA user_version = {version};
            """)
        db.execute("PRAGMA journal_mode = WAL")
        db.commit()
        db.close()
        os.chmod(self.path, 0o600)
        self._orders: dict[str, int] = {}

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits and closes (sqlite3's own context manager only commits)."""
        db = sqlite3.connect(self.path)
        try:
            with db:
                yield db
        finally:
            db.close()

    def add_trace(
        self,
        trace_id: str,
        directory: str | os.PathLike[str] | None,
        *,
        agent: str = "claude-code",
        timestamp_ms: float | None = None,
        title: str = "a trace",
        edits: list[str | os.PathLike[str]] = (),
        messages: int = 1,
        shared_url: str | None = None,
    ) -> str:
        """Insert a trace with ``messages`` user/agent exchanges and Write calls on ``edits``."""
        now = time.time() * 1000
        ts = now if timestamp_ms is None else timestamp_ms
        url_col = "remote_url" if self.version == 16 else "shared_url"
        with self.connect() as db:
            db.execute(
                "INSERT INTO traces (id, agent_id, title, timestamp, directory,"
                f" {url_col}, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    trace_id,
                    agent,
                    title,
                    ts,
                    str(directory) if directory else None,
                    shared_url,
                    int(ts),
                ),
            )
        # the events happened at the trace's time (its row's timestamp is its last activity)
        for i in range(messages):
            self.add_event(
                trace_id,
                {"type": "user_message", "content": f"please do step {i}", "timestamp": ts},
            )
            self.add_event(
                trace_id,
                {
                    "type": "agent_text",
                    "content": f"done step {i}",
                    "modelId": "claude-sonnet-4",
                    "timestamp": ts,
                },
            )
        for path in edits:
            call_id = f"call-{trace_id}-{self._orders.get(trace_id, 0)}"
            self.add_event(
                trace_id,
                {
                    "type": "tool_call",
                    "callId": call_id,
                    "toolName": "Write",
                    "args": {"file_path": str(path), "content": "x"},
                    "timestamp": ts,
                },
            )
            self.add_event(
                trace_id,
                {
                    "type": "tool_result",
                    "callId": call_id,
                    "toolName": "Write",
                    "output": "ok",
                    "status": "success",
                    "timestamp": ts,
                },
            )
        return trace_id

    def add_event(self, trace_id: str, event: dict) -> None:
        order = self._orders.get(trace_id, 0) + 1
        self._orders[trace_id] = order
        event = {
            "id": f"{trace_id}-e{order}",
            "timestamp": time.time() * 1000,
            "order": order,
            **event,
        }
        with self.connect() as db:
            db.execute(
                "INSERT INTO events (trace_id, event_id, event_json, created_at)"
                " VALUES (?, ?, ?, ?)",
                (trace_id, event["id"], json.dumps(event), int(time.time() * 1000)),
            )

    def touch(self, trace_id: str, timestamp_ms: float | None = None) -> None:
        with self.connect() as db:
            db.execute(
                "UPDATE traces SET timestamp = ? WHERE id = ?",
                (timestamp_ms or time.time() * 1000, trace_id),
            )


def write_active_sessions(git_dir: str | os.PathLike[str], sessions: list[dict]) -> None:
    Path(git_dir, "traces-active.json").write_text(json.dumps({"sessions": sessions}))


def tool_path(name: str) -> str | None:
    """A third-party npm tool that tests/run.sh installed under $TRACES_GIT_TEST_TOOLS, or None.

    Never looked up on the caller's PATH (see tests/run.sh's header): a test must not pass
    here and fail on a machine whose PATH differs.
    """
    tools = os.environ.get("TRACES_GIT_TEST_TOOLS")
    if not tools:
        return None
    modules = Path(tools) / "node_modules"
    candidates = [modules / ".bin" / name]
    if name == "traces":  # the package links no .bin/traces
        candidates.insert(0, modules / "@traces-sh" / "traces-linux-x64" / "bin" / "traces")
    for candidate in candidates:
        if candidate.exists() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None
