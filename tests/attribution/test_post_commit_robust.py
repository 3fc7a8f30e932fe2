"""Bad input never fails a commit, never loses a note, and is visible afterwards."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    PYTHON,
    commit_file,
    git,
    head,
    init_repo,
    note,
    note_ids,
)
from traces_git import log


def _last_run() -> dict:
    runs = [r for r in log.recent_runs(50) if r["hook"] == "post-commit"]
    assert runs, "the post-commit hook left no run record"
    return runs[-1]


def test_missing_store(repo, monkeypatch):
    monkeypatch.setenv("TRACES_TRACE_ID", "still-attached")
    commit_file(repo, "a.txt")
    assert note_ids(repo) == ["still-attached"]
    assert "no Traces store" in _last_run()["store"]


def test_corrupt_store(repo, monkeypatch):
    path = Path(os.environ["TRACES_EVENTSTORE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not sqlite" * 200)
    monkeypatch.setenv("TRACES_TRACE_ID", "still-attached")
    proc = git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo)
    assert proc.stderr == ""
    assert note_ids(repo) == ["still-attached"]
    run = _last_run()
    assert run["outcome"] == "warning" and "cannot read the Traces store" in run["store"]


def test_unknown_schema(repo, monkeypatch):
    path = Path(os.environ["TRACES_EVENTSTORE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sessions (uuid TEXT)")
        db.execute("PRAGMA user_version = 99")
    commit_file(repo, "a.txt")
    assert note(repo) is None
    assert "unknown Traces store schema (user_version 99)" in _last_run()["store"]


_HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode = EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE")
db.execute("INSERT INTO store_metadata VALUES ('k', 'v')")
print("locked", flush=True)
sys.stdin.read()
"""


def test_store_locked_by_a_writer(repo, store, monkeypatch):
    store.add_trace("would-match", repo, edits=[repo / "a.txt"])
    holder = subprocess.Popen(
        [PYTHON, "-c", _HOLD_LOCK, str(store.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("TRACES_TRACE_ID", "env-trace")
        commit_file(repo, "a.txt")
        assert note_ids(repo) == ["env-trace"]
        assert "locked" in _last_run()["store"]
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    # once the writer is gone, the next commit reads the store again
    monkeypatch.delenv("TRACES_TRACE_ID")
    store.touch("would-match")
    commit_file(repo, "a.txt")
    assert note_ids(repo) == ["would-match"]


def test_reader_is_read_only_and_never_blocks_the_writer(repo, store):
    from traces_git.store import Store

    store.add_trace("t", repo, edits=[repo / "a.txt"])
    with Store(store.path) as reader:
        assert [t.id for t in reader.active_since(0)] == ["t"]
        with pytest.raises(sqlite3.OperationalError):
            reader._db.execute("UPDATE traces SET title = 'x'")
        with sqlite3.connect(store.path, timeout=0) as db:  # no waiting allowed
            db.execute("UPDATE traces SET title = 'changed'")
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT title FROM traces").fetchone() == ("changed",)


def test_odd_repository_paths(tmp_path, installed, store):
    odd = tmp_path / "wörk \"quoted\" 'single' dir"
    repo = Path(os.path.realpath(init_repo(odd)))
    commit_file(repo, "first.txt")
    name = "sub dir/naïve file.txt"
    store.add_trace("odd-path", repo, edits=[repo / name])
    commit_file(repo, name)
    assert note_ids(repo) == ["odd-path"]


def test_changed_file_with_newline_in_name(repo, store):
    name = "line\nbreak.txt"
    store.add_trace("newline", repo, edits=[repo / name])
    commit_file(repo, name)
    assert note_ids(repo) == ["newline"]


def test_hook_writer_keeps_a_malformed_note_line_for_line(repo):
    """The post-commit writer (git's notes code) on a commit whose note a teammate mangled."""
    from traces_git.notes import core as notes

    sha = head(repo)
    mangled = "traces:\n:::\n# not a comment\n  indented line\ntraces:ok-1 not a url at all\n"
    git("notes", "--ref=traces", "add", "-m", mangled, sha, cwd=repo)
    written = notes.update_one_with_git(
        str(repo),
        sha,
        lambda old: notes.with_traces(old, [notes.TraceRef("new-1")]),
        message="test",
        lock_path=str(repo / ".git" / "traces-git-notes.lock"),
    )
    assert written is not None
    shown = git("notes", "--ref=traces", "show", sha, cwd=repo).stdout
    assert shown == mangled + "traces:new-1\n"


def test_bad_config_and_active_file_are_ignored(repo, store):
    git("config", "traces.firstCommitWindow", "not-a-number", cwd=repo)
    Path(repo, ".git", "traces-active.json").write_text("{not json")
    store.add_trace("t", repo, edits=[repo / "a.txt"])
    commit_file(repo, "a.txt")
    assert note_ids(repo) == ["t"]


def test_hook_failure_is_logged_not_shown(repo, monkeypatch):
    """An unexpected failure inside our hook leaves git's output clean, exit 0, and a record."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=b"not a notes commit").stdout.strip()
    git("update-ref", "refs/notes/traces", blob, cwd=repo)
    monkeypatch.setenv("TRACES_TRACE_ID", "t1")
    proc = git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""
    run = _last_run()
    assert run["outcome"] == "error"
    assert (
        "post-commit failed"
        in Path(os.environ["XDG_STATE_HOME"], "traces-git", "traces-git.log").read_text()
    )
    assert (
        git("cat-file", "-t", "refs/notes/traces", cwd=repo).stdout.strip() == "blob"
    )  # untouched


def test_edits_read_with_sqlite_json_match_python_parsing(store, tmp_path):
    """store.tool_calls lets SQLite parse the events (no json import in the hook)."""
    from traces_git.attribution import selection
    from traces_git.store import Store

    base = tmp_path / "proj"
    store.add_trace("mixed", base, edits=[base / "a.py"])
    store.add_event(
        "mixed",
        {
            "type": "tool_call",
            "toolName": "Edit",
            "args": {"filePath": "rel/b.py", "limit": 3, "nested": {"x": 1}},
        },
    )
    store.add_event("mixed", {"type": "tool_call", "toolName": "Edit", "args": '{"path": "c.py"}'})
    # a Codex custom tool's input as the store keeps it (args.raw, CLI 0.6.31)
    store.add_event(
        "mixed",
        {
            "type": "tool_call",
            "toolName": "apply_patch",
            "args": {"raw": "*** Begin Patch\n*** Update File: d.py\n@@\n*** Add File: e.py\n"},
        },
    )
    store.add_event("mixed", {"type": "tool_result", "args": {"file_path": "not-an-edit.py"}})
    with store.connect() as db:
        db.execute(
            "INSERT INTO events (trace_id, event_id, event_json, created_at)"
            " VALUES ('mixed', 'broken', '{\"type\": \"tool_call\", ', 0)"
        )
    with Store(store.path) as opened:
        fast = selection.edited_paths(opened.tool_calls("mixed"), str(base))
        parsed = selection.edited_paths(opened._tool_calls_parsed("mixed"), str(base))
    assert fast == parsed
    assert {p.rsplit("/", 1)[-1] for p in fast} == {"a.py", "b.py", "c.py", "d.py", "e.py"}


def test_the_hook_reads_the_store_without_loading_functools(repo, store, monkeypatch):
    """The hook's store module loads sqlite with a stand-in for functools (~2.5 ms): the
    trace is still found and attached, and functools imported afterwards is the real one."""
    from traces_git.setup.install import hook_entry

    commit_file(repo, "first.py")  # the first run in a repository also configures it
    store.add_trace("t-lean", repo, edits=[repo / "lean.py"])
    monkeypatch.setenv("TRACES_GIT", "0")
    sha = commit_file(repo, "lean.py")
    monkeypatch.delenv("TRACES_GIT")
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-I", "-S", "-c", hook_entry(PYTHON), "hook", "post-commit"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "TRACES_GIT_HOOK_GIT_DIR": str(repo / ".git")},
    )
    # importtime lists a module after the modules it imported: those up to the store's
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "traces_git.store" in imported, proc.stderr
    up_to_store = imported[: imported.index("traces_git.store") + 1]
    assert "_sqlite3" in up_to_store
    assert "functools" not in up_to_store and "collections" not in up_to_store, proc.stderr
    assert note_ids(repo, sha) == ["t-lean"]

    # Many distinct statements (past the statement cache's 128 slots), then functools.
    code = (
        f"{hook_entry(PYTHON).split(chr(10))[0]}\n"
        "from traces_git import store\n"
        "assert 'functools' not in sys.modules\n"
        f"db = store.sqlite3.connect({str(store.path)!r})\n"
        "def one(sql): return db.execute(sql).fetchone()[0]\n"
        "rows = [one(f'SELECT {i} + count(*) FROM traces') for i in range(300)]\n"
        "rows += [one('SELECT 7 + count(*) FROM traces') for _ in range(3)]\n"
        "import functools\n"
        "print(rows[0], rows[299], rows[-1], functools.reduce(lambda a, b: a + b, [1, 2]))\n"
    )
    checked = subprocess.run([PYTHON, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.split() == ["1", "300", "8", "3"]
