"""The committing session's hints in the environment, and git replays (revert, rebase stops)."""

from __future__ import annotations

import os

import pytest

from tests.helpers import commit_file, git, head, note, note_ids


def _set_source_path(store, trace_id: str, path: str) -> None:
    with store.connect() as db:
        db.execute("UPDATE traces SET source_path = ? WHERE id = ?", (path, trace_id))


@pytest.mark.parametrize("agent", ["claude-code", "codex", "opencode", "pi"])
def test_current_trace_id_of_a_trusted_agent_is_attached_before_the_store_knows_it(
    repo, store, monkeypatch, agent
):
    monkeypatch.setenv("TRACES_CURRENT_TRACE_ID", "live-session")
    monkeypatch.setenv("TRACES_CURRENT_AGENT", agent)
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["live-session"]


@pytest.mark.parametrize("agent", [None, "cursor", "someone"])
def test_current_trace_id_without_a_trusted_agent_is_ignored(repo, store, monkeypatch, agent):
    monkeypatch.setenv("TRACES_CURRENT_TRACE_ID", "live-session")
    if agent:
        monkeypatch.setenv("TRACES_CURRENT_AGENT", agent)
    commit_file(repo, "app.py")
    assert note(repo) is None


def test_hinted_trace_with_edits_elsewhere_is_dropped_by_the_overlap_rule(repo, store, monkeypatch):
    store.add_trace("hinted", repo, edits=[repo / "other.py"], shared_url="https://t.example/s/h")
    monkeypatch.setenv("TRACES_CURRENT_TRACE_ID", "hinted")
    monkeypatch.setenv("TRACES_CURRENT_AGENT", "claude-code")
    commit_file(repo, "app.py")
    assert note(repo) is None
    commit_file(repo, "other.py")
    assert note(repo) == "traces:hinted https://t.example/s/h\n"


def test_codex_thread_id_is_attached(repo, store, monkeypatch):
    monkeypatch.setenv("CODEX_THREAD_ID", "codex-thread-1")
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["codex-thread-1"]


def test_codex_thread_id_agreeing_with_current_trace_id_gives_one_line(repo, store, monkeypatch):
    monkeypatch.setenv("CODEX_THREAD_ID", "codex-thread-1")
    monkeypatch.setenv("TRACES_CURRENT_TRACE_ID", "codex-thread-1")
    monkeypatch.setenv("TRACES_CURRENT_AGENT", "codex")
    commit_file(repo, "app.py")
    assert note(repo) == "traces:codex-thread-1\n"


def test_codex_thread_id_disagreeing_with_current_trace_id_is_ignored(repo, store, monkeypatch):
    # Claude Code started from a Codex shell inherits CODEX_THREAD_ID.
    monkeypatch.setenv("CODEX_THREAD_ID", "codex-thread-1")
    monkeypatch.setenv("TRACES_CURRENT_TRACE_ID", "claude-session")
    monkeypatch.setenv("TRACES_CURRENT_AGENT", "claude-code")
    commit_file(repo, "app.py")
    assert note_ids(repo) == ["claude-session"]


def test_codex_thread_id_of_another_agent_is_ignored(repo, store, monkeypatch):
    monkeypatch.setenv("CODEX_THREAD_ID", "codex-thread-1")
    monkeypatch.setenv("TRACES_CURRENT_AGENT", "cursor")
    commit_file(repo, "app.py")
    assert note(repo) is None


@pytest.mark.parametrize("variable", ["TRACES_CURRENT_SOURCE_PATH", "TRACES_SOURCE_PATH"])
def test_source_path_finds_the_trace_in_the_store(repo, store, tmp_path, monkeypatch, variable):
    session_file = tmp_path / "sessions" / "abc.jsonl"
    session_file.parent.mkdir()
    session_file.write_text("{}\n")
    # Not found by directory (another one) nor by time: only the hint names it.
    store.add_trace(
        "by-file", tmp_path / "elsewhere", timestamp_ms=1000, shared_url="https://t/s/f"
    )
    _set_source_path(store, "by-file", str(session_file))
    store.add_trace("other-file", tmp_path / "elsewhere", timestamp_ms=1000)
    _set_source_path(store, "other-file", str(tmp_path / "sessions" / "zzz.jsonl"))
    monkeypatch.setenv(variable, str(session_file))
    commit_file(repo, "app.py")
    assert note(repo) == "traces:by-file https://t/s/f\n"


def test_source_path_unknown_to_the_store_attaches_nothing(repo, store, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACES_CURRENT_SOURCE_PATH", str(tmp_path / "nowhere.jsonl"))
    commit_file(repo, "app.py")
    assert note(repo) is None


def _agent_commit_then_revert(repo, store):
    store.add_trace("author", repo, edits=[repo / "app.py"])
    sha = commit_file(repo, "app.py", "v2\n")
    assert note_ids(repo) == ["author"]
    return sha


def test_revert_gets_no_trace_from_sessions_or_store(repo, store):
    sha = _agent_commit_then_revert(repo, store)
    git("revert", "--no-edit", sha, cwd=repo)
    assert git("log", "-1", "--format=%s", cwd=repo).stdout.startswith('Revert "')
    assert note(repo) is None


def test_revert_gets_what_a_hint_or_an_explicit_id_names(repo, store, monkeypatch):
    sha = _agent_commit_then_revert(repo, store)
    monkeypatch.setenv("TRACES_CURRENT_TRACE_ID", "reverting-agent")
    monkeypatch.setenv("TRACES_CURRENT_AGENT", "claude-code")
    git("revert", "--no-edit", sha, cwd=repo)
    assert note_ids(repo) == ["reverting-agent"]
    monkeypatch.delenv("TRACES_CURRENT_TRACE_ID")
    monkeypatch.setenv("TRACES_TRACE_ID", "named-one")
    git("revert", "--no-edit", "HEAD", cwd=repo)
    assert note_ids(repo) == ["named-one"]


def test_revert_with_a_conflict_keeps_git_s_message_and_gets_no_store_trace(repo, store):
    sha = _agent_commit_then_revert(repo, store)
    commit_file(repo, "app.py", "v3\n")
    assert git("revert", "--no-edit", sha, cwd=repo, check=False).returncode != 0
    assert os.path.exists(repo / ".git" / "REVERT_HEAD")
    (repo / "app.py").write_text("resolved\n")
    git("add", "app.py", cwd=repo)
    git("commit", "-q", "--no-edit", cwd=repo)
    assert git("log", "-1", "--format=%s", cwd=repo).stdout.startswith('Revert "')
    assert note(repo) is None


def test_a_message_that_only_looks_like_a_revert_is_attributed(repo, store):
    store.add_trace("worker", repo, edits=[repo / "app.py"])
    commit_file(repo, "app.py", message='Revert "the thing" partially, by hand')
    assert note_ids(repo) == ["worker"]


def test_rebase_edit_stop_attributes_new_work_but_not_the_replayed_picks(repo, store):
    git("config", "notes.rewriteRef", "refs/notes/traces", cwd=repo)
    store.add_trace("early", repo, edits=[repo / "one.txt"])
    commit_file(repo, "one.txt")
    commit_file(repo, "two.txt")
    three = commit_file(repo, "three.txt")
    assert note(repo, three) is None  # "early" only edited one.txt
    env = {"GIT_SEQUENCE_EDITOR": "sed -i '1s/^pick/edit/'"}
    git("rebase", "-q", "-i", "HEAD~3", cwd=repo, env=env)
    assert (repo / ".git" / "rebase-merge" / "stopped-sha").exists()
    # At the stop an agent adds work: a new commit of its own.
    store.add_trace("at-stop", repo, edits=[repo / "fix.txt", repo / "two.txt", repo / "three.txt"])
    new = commit_file(repo, "fix.txt")
    assert note_ids(repo, new) == ["at-stop"]
    git("rebase", "--continue", cwd=repo)
    assert not (repo / ".git" / "rebase-merge").exists()
    # The picks replayed after the stop changed two.txt and three.txt, which the
    # live "at-stop" trace edited: still nothing new on them.
    replayed = git("rev-list", f"{new}..HEAD", cwd=repo).stdout.split()
    assert len(replayed) == 2
    for sha in replayed:
        assert note(repo, sha) is None
    assert note_ids(repo, "HEAD~3") == ["early"]
    assert head(repo) != three
