"""The post-commit hook attaches the right traces, end to end through real git commits."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.helpers import (
    TraceStore,
    commit_file,
    git,
    head,
    note,
    note_ids,
    traces_git,
    write_active_sessions,
)


def test_agent_edited_file_is_attached(repo, store):
    store.add_trace("trace-edit", repo, edits=[repo / "app.py"], shared_url="https://t.example/s/1")
    sha = commit_file(repo, "app.py")
    assert note(repo) == "traces:trace-edit https://t.example/s/1\n"
    shown = json.loads(traces_git("show", "--json", cwd=repo).stdout)
    assert shown == {
        "commit": sha,
        "traces": [{"id": "trace-edit", "url": "https://t.example/s/1"}],
    }


def test_unrelated_stale_sibling_and_chat_traces_are_not_attached(repo, store, tmp_path):
    sibling = tmp_path / "work tree-old"
    sibling.mkdir()
    store.add_trace("unrelated-file", repo, edits=[repo / "other.py"])
    store.add_trace(
        "stale", repo, edits=[repo / "app.py"], timestamp_ms=(time.time() - 7200) * 1000
    )
    store.add_trace("sibling", sibling, edits=[repo / "app.py"])
    store.add_trace("chat-only", repo, edits=[])
    store.add_trace("elsewhere", tmp_path, edits=[repo / "app.py"])
    commit_file(repo, "app.py")
    assert note(repo) is None


def test_trace_in_a_subdirectory_is_attached(repo, store):
    sub = repo / "pkg" / "sub"
    sub.mkdir(parents=True)
    store.add_trace("in-sub", sub, edits=["mod.py"])  # relative to the trace's directory
    commit_file(repo, "pkg/sub/mod.py")
    assert note_ids(repo) == ["in-sub"]


def test_symlinked_trace_directory_is_resolved(repo, store, tmp_path):
    link = tmp_path / "link-to-repo"
    link.symlink_to(repo)
    store.add_trace("via-link", link, edits=[link / "app.py"])
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["via-link"]


def test_active_session_is_attached(repo, store):
    now = time.time() * 1000
    write_active_sessions(
        repo / ".git",
        [
            {
                "agentId": "claude-code",
                "agentSessionId": "sess-1",
                "traceId": "active-1",
                "dir": str(repo),
                "startedAt": now - 1000,
                "lastInteractionAt": now,
            }
        ],
    )
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["active-1"]


def test_idle_active_session_is_not_attached(repo, store):
    old = (time.time() - 3 * 3600) * 1000
    write_active_sessions(
        repo / ".git",
        [
            {
                "agentId": "claude-code",
                "traceId": "idle-1",
                "dir": str(repo),
                "startedAt": old,
                "lastInteractionAt": old,
            }
        ],
    )
    commit_file(repo, "app.py")
    assert note(repo) is None


def test_traces_trace_id_override(repo, monkeypatch):
    monkeypatch.setenv("TRACES_TRACE_ID", "agent-a, agent-b")
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["agent-a", "agent-b"]


def test_detached_trace_is_hidden_and_not_reattached(repo, store):
    store.add_trace("t1", repo, edits=[repo / "app.py"])
    store.add_trace("t2", repo, edits=[repo / "app.py"])
    sha = commit_file(repo, "app.py")
    traces_git("detach", "t2", cwd=repo)
    assert "traces-detach:t2" in note(repo)
    shown = json.loads(traces_git("show", "--json", cwd=repo).stdout)
    assert [t["id"] for t in shown["traces"]] == ["t1"]
    # the hook must not attach a detached trace again (e.g. on amend)
    from traces_git.hook import entry as hooks

    cwd = os.getcwd()
    os.chdir(repo)
    try:
        hooks.run("post-commit", [])
    finally:
        os.chdir(cwd)
    assert [
        t["id"] for t in json.loads(traces_git("show", "--json", sha, cwd=repo).stdout)["traces"]
    ] == ["t1"]


def test_attach_command_and_log(repo):
    first = head(repo)
    second = commit_file(repo, "b.txt")
    traces_git("attach", "manual-1", first, cwd=repo)
    traces_git("attach", "manual-2", "--url", "https://t.example/s/2", cwd=repo)
    listed = json.loads(traces_git("log", "--json", cwd=repo).stdout)
    assert [(c["sha"], [t["id"] for t in c["traces"]]) for c in listed["commits"]] == [
        (second, ["manual-2"]),
        (first, ["manual-1"]),
    ]
    assert "manual-1" in git("log", "--notes=traces", "-1", first, cwd=repo).stdout


def test_attach_rejects_a_bad_id(repo):
    proc = traces_git("attach", "bad id!", cwd=repo, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "not a trace ID" in proc.stderr


@pytest.mark.parametrize("version", [3, 4])
def test_older_store_schemas(repo, tmp_path, monkeypatch, version):
    path = tmp_path / f"v{version}.db"
    old = TraceStore(path, version=version)
    old.add_trace("old-schema", repo, edits=[repo / "app.py"], shared_url="https://t.example/s/o")
    git("config", "traces.store", str(path), cwd=repo)
    commit_file(repo, "app.py")
    assert note(repo) == "traces:old-schema https://t.example/s/o\n"


def test_float_timestamps(repo, store):
    store.add_trace(
        "float-ts", repo, edits=[repo / "app.py"], timestamp_ms=time.time() * 1000 + 0.5
    )
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["float-ts"]


def test_disabled_by_env_and_config(repo, store, monkeypatch):
    store.add_trace("t", repo, edits=[repo / "a.py", repo / "b.py"])
    monkeypatch.setenv("TRACES_GIT", "0")
    commit_file(repo, "a.py")
    assert note(repo) is None
    monkeypatch.delenv("TRACES_GIT")
    git("config", "traces.enabled", "false", cwd=repo)
    store.touch("t")
    commit_file(repo, "b.py")
    assert note(repo) is None


def test_hook_notes_commit_author_and_message(repo, store):
    git("config", "traces.notesAuthor", "Notes Bot <bot@example.com>", cwd=repo)
    store.add_trace("authored", repo, edits=[repo / "app.py"])
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["authored"]
    logged = git("log", "-1", "--format=%an <%ae>|%cn|%s", "refs/notes/traces", cwd=repo).stdout
    assert logged.strip() == "Notes Bot <bot@example.com>|Notes Bot|Notes added by 'git notes add'"
