"""The freshness check's reading of the agents' session locations (real files, a real store)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.helpers import agent_sessions as agents
from traces_git.attribution import freshness
from traces_git.store import Store


def test_recent_files_of_this_worktree_only(tmp_path, isolated):
    repo = tmp_path / "repo"
    other = tmp_path / "repo-other"
    repo.mkdir()
    other.mkdir()
    since = time.time() * 1000 - 60_000
    claude = agents.claude_session(repo, [("Write", {"file_path": str(repo / "a")})])
    agents.claude_session(other, [("Write", {"file_path": str(other / "a")})])
    codex = agents.codex_session(
        repo,
        "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\n",
        start_ms=time.time() * 1000 - 20_000,
    )
    agents.codex_session(other, "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\n")
    opencode = agents.opencode_session(repo, [("write", {"filePath": str(repo / "a")})])
    agents.opencode_session(other, [("write", {"filePath": str(other / "a")})])
    found = freshness.recent_session_files(str(repo), since, time.time() * 1000)
    names = sorted((agent, Path(path).stem) for agent, path in found)
    assert [a for a, _ in names] == ["claude-code", "codex", "opencode"]
    assert names[0][1] == claude and codex in names[1][1] and names[2][1] == opencode
    # nothing written since a later time
    assert (
        freshness.recent_session_files(str(repo), time.time() * 1000 + 5000, time.time() * 1000)
        == []
    )


def test_no_store_but_sessions_and_other_agents(tmp_path, isolated):
    repo = tmp_path / "repo"
    repo.mkdir()
    since = time.time() * 1000 - 60_000
    assert not freshness.check(None, "/nowhere/traces.db", str(repo), since, time.time() * 1000)
    pi = Path(os.environ["HOME"], ".pi", "agent", "sessions", "--x--", "s.jsonl")
    pi.parent.mkdir(parents=True)
    pi.write_text("{}\n")
    stale = freshness.check(None, "/nowhere/traces.db", str(repo), since, time.time() * 1000)
    assert stale.reasons == [
        "no Traces store yet (/nowhere/traces.db) although agent sessions exist"
    ]
    assert freshness.watch_paths(str(repo), time.time() * 1000) is None  # no stamp with Pi


def test_a_hostile_home_is_bounded(tmp_path, isolated):
    projects = Path(os.environ["HOME"], ".claude", "projects")
    weird = projects / ("-" + "x" * 200)
    weird.mkdir(parents=True)
    (weird / "\x1b[31m.jsonl").write_text("not json\n")
    (projects / "loop").symlink_to(projects)
    rollouts = Path(
        os.environ["HOME"], ".codex", "sessions", time.strftime("%Y/%m/%d", time.gmtime())
    )
    rollouts.mkdir(parents=True)
    (rollouts / "rollout-x.jsonl").write_bytes(b'{"payload": {"cwd": "' + b"a" * 100_000)
    repo = tmp_path / "repo"
    repo.mkdir()
    started = time.perf_counter()
    found = freshness.recent_session_files(str(repo), 0, time.time() * 1000)
    assert time.perf_counter() - started < 5
    # a rollout whose cwd cannot be read may be this worktree's: refreshing is cheap
    assert [(agent, Path(path).name) for agent, path in found] == [("codex", "rollout-x.jsonl")]


def test_trace_stale_compares_the_session_file_with_the_events(tmp_path, isolated, store):
    session = tmp_path / "s.jsonl"
    session.write_text("{}\n")
    store.add_trace("t1", tmp_path, edits=[tmp_path / "a"])
    with store.connect() as db:
        db.execute("UPDATE traces SET source_path = ? WHERE id = 't1'", (str(session),))
        db.execute(
            "UPDATE events SET created_at = ? WHERE trace_id = 't1'",
            (int(time.time() * 1000) + 10_000,),
        )
    store.add_trace("t2", tmp_path)
    with store.connect() as db:
        db.execute("DELETE FROM events WHERE trace_id = 't2'")
    with Store(store.path) as opened:
        trace = opened.get(["t1"])["t1"]
        assert freshness.trace_stale(opened, trace) is None
        old = time.time() - 3600
        with store.connect() as db:
            db.execute("UPDATE events SET created_at = ? WHERE trace_id = 't1'", (int(old * 1000),))
        assert freshness.trace_stale(opened, trace) == (
            "session file changed after the store read it"
        )
        assert freshness.trace_stale(opened, opened.get(["t2"])["t2"]) == "no events indexed"
