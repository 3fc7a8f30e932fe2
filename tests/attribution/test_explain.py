"""`traces-git explain`: every reason a candidate is kept or dropped, recorded and re-run."""

from __future__ import annotations

import json
import time

from tests.helpers import commit_file, git, note, traces_git, write_active_sessions
from tests.helpers.coexist import write_hook


def explain(repo, rev: str = "HEAD") -> dict:
    return json.loads(traces_git("explain", rev, "--json", cwd=repo).stdout)


def by_id(result: dict) -> dict[str, dict]:
    return {item["id"]: item for item in result["candidates"]}


def test_kept_by_overlap_and_dropped_without_it_name_each_side_s_files(repo, store):
    store.add_trace("overlaps", repo, edits=[repo / "app.py", repo / "lib.py"])
    store.add_trace("elsewhere", repo, edits=[repo / "docs" / "other.md"])
    store.add_trace("chat", repo, edits=[])
    sha = commit_file(repo, "app.py")
    result = explain(repo)
    assert result["commit"] == sha
    assert result["source"] == "recorded"
    assert result["attached"] == ["overlaps"]
    assert result["note"] == [{"id": "overlaps", "url": None}]
    items = by_id(result)
    assert items["overlaps"]["kept"] is True
    assert items["overlaps"]["reason"] == "file-overlap"
    assert items["overlaps"]["overlap"] == ["app.py"]
    assert items["elsewhere"] == {
        "id": "elsewhere",
        "source": "store",
        "kept": False,
        "reason": "no-file-overlap",
        "agent": "claude-code",
        "trace_files": ["docs/other.md"],
        "commit_files": ["app.py"],
    }
    assert items["chat"]["reason"] == "no-file-overlap"
    assert items["chat"]["trace_files"] == []
    text = traces_git("explain", cwd=repo).stdout
    assert "dropped elsewhere [store, claude-code]: none of the files it edited" in text
    assert "trace edited: docs/other.md" in text
    assert "commit changed: app.py" in text


def test_outside_the_worktree(repo, store, tmp_path):
    sibling = tmp_path / "work tree-old"
    sibling.mkdir()
    store.add_trace("sibling", sibling, edits=[repo / "app.py"])
    commit_file(repo, "app.py")
    item = by_id(explain(repo))["sibling"]
    assert (item["kept"], item["reason"], item["directory"]) == (
        False,
        "outside-worktree",
        str(sibling),
    )


def test_idle_active_sessions_and_sessions_of_another_directory(repo, store, tmp_path):
    now = time.time() * 1000
    commit_file(repo, "first.txt")
    write_active_sessions(
        repo / ".git",
        [
            # last active before the previous commit
            {
                "agentId": "claude-code",
                "traceId": "before-prev",
                "dir": str(repo),
                "startedAt": now - 60_000,
                "lastInteractionAt": now - 60_000,
            },
            # idle for more than two hours
            {
                "agentId": "codex",
                "traceId": "long-idle",
                "dir": str(repo),
                "startedAt": now - 4 * 3600_000,
                "lastInteractionAt": now - 3 * 3600_000,
            },
            {
                "agentId": "codex",
                "traceId": "other-dir",
                "dir": str(tmp_path),
                "startedAt": now,
                "lastInteractionAt": now,
            },
        ],
    )
    # the previous commit must be newer than "before-prev": committer times are seconds
    git(
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "prev",
        cwd=repo,
        env={"GIT_COMMITTER_DATE": f"@{int(now / 1000) - 30} +0000"},
    )
    commit_file(repo, "app.py")
    items = by_id(explain(repo))
    assert items["before-prev"]["reason"] == "idle"
    assert items["before-prev"]["kept"] is False
    assert items["long-idle"]["reason"] == "idle"
    assert items["other-dir"]["reason"] == "outside-worktree"
    assert note(repo) is None


def test_hints_no_store_match_not_indexed_and_an_ignored_codex_id(repo, store, tmp_path):
    env = {
        "TRACES_CURRENT_SOURCE_PATH": str(tmp_path / "sessions" / "gone.jsonl"),
        "TRACES_CURRENT_TRACE_ID": "live-one",
        "TRACES_CURRENT_AGENT": "claude-code",
        "CODEX_THREAD_ID": "codex-other",
    }
    (repo / "app.py").write_text("x\n")
    git("add", "app.py", cwd=repo)
    git("commit", "-q", "-m", "agent work", cwd=repo, env=env)
    result = explain(repo)
    miss = [i for i in result["candidates"] if i["reason"] == "no-store-match"]
    assert miss == [
        {
            "id": "",
            "source": "TRACES_CURRENT_SOURCE_PATH",
            "kept": False,
            "reason": "no-store-match",
            "source_path": str(tmp_path / "sessions" / "gone.jsonl"),
        }
    ]
    live = by_id(result)["live-one"]
    assert (live["kept"], live["reason"], live["source"]) == (
        True,
        "not-indexed",
        "TRACES_CURRENT_TRACE_ID",
    )
    assert result["hints_ignored"] == [
        {
            "variable": "CODEX_THREAD_ID",
            "value": "codex-other",
            "why": "the committing agent is claude-code, not codex",
        }
    ]
    assert result["attached"] == ["live-one"]


def test_detached_and_already_present(repo, store):
    store.add_trace("t-detached", repo, edits=[repo / "app.py"])
    store.add_trace("t-present", repo, edits=[repo / "app.py"])
    # Another tool's post-commit (the official hook, say) runs first and writes t-present.
    write_hook(
        repo / ".git" / "hooks" / "post-commit",
        'git notes --ref=traces add -f -m "traces:t-present" HEAD',
    )
    sha = commit_file(repo, "app.py")
    items = by_id(explain(repo))
    assert items["t-present"]["kept"] is True
    assert items["t-present"]["reason"] == "already-present"
    assert items["t-present"]["selected_because"] == "file-overlap"
    assert items["t-detached"]["reason"] == "file-overlap"
    assert note(repo) == "traces:t-present\ntraces:t-detached\n"
    traces_git("detach", "t-detached", sha, cwd=repo)
    # the hook runs again for the same commit (as after `git commit --amend`)
    traces_git("hook", "post-commit", cwd=repo)
    items = by_id(explain(repo))
    assert items["t-detached"]["kept"] is False
    assert items["t-detached"]["reason"] == "detached"
    assert items["t-detached"]["selected_because"] == "file-overlap"
    text = traces_git("explain", cwd=repo).stdout
    assert "the note already had it" in text
    assert "the note marks it traces-detach" in text


def test_replays_rebase_revert_and_cherry_pick(repo, store):
    store.add_trace("worker", repo, edits=[repo / "app.py", repo / "f.txt"])
    work = commit_file(repo, "app.py")
    git("revert", "--no-edit", work, cwd=repo)
    reverted = explain(repo)
    assert reverted["replay"] == "revert"
    assert reverted["candidates"] == []
    assert "a revert: only traces named" in traces_git("explain", cwd=repo).stdout

    git("checkout", "-q", "-b", "feature", "HEAD~2", cwd=repo)
    feature = commit_file(repo, "f.txt")
    git("checkout", "-q", "main", cwd=repo)
    git("cherry-pick", feature, cwd=repo)
    picked = explain(repo)
    assert (picked["replay"], picked["picked_from"]) == ("cherry-pick", feature)
    assert by_id(picked)["worker"]["reason"] == "copied"

    git("checkout", "-q", "feature", cwd=repo)
    commit_file(repo, "g.txt")
    git("rebase", "-q", "main", cwd=repo)
    rebased = explain(repo)
    assert rebased["replay"] == "rebase"
    assert rebased["source"] == "recorded"
    assert "replayed by a rebase" in traces_git("explain", cwd=repo).stdout


def test_opted_out(repo, store):
    store.add_trace("worker", repo, edits=[repo / "app.py"])
    git("config", "traces.enabled", "false", cwd=repo)
    commit_file(repo, "app.py")
    result = explain(repo)
    assert result["opted_out"] == "traces.enabled=false"
    assert note(repo) is None
    assert "switched off for this commit" in traces_git("explain", cwd=repo).stdout


def test_commit_made_without_the_hook_is_re_run_read_only(repo, store):
    store.add_trace("worker", repo, edits=[repo / "app.py"])
    store.add_trace("bystander", repo, edits=[repo / "zzz.py"])
    (repo / "app.py").write_text("x\n")
    git("add", "app.py", cwd=repo)
    git("commit", "-q", "-m", "no hook", cwd=repo, env={"TRACES_GIT": "0"})
    notes_before = git("for-each-ref", "refs/notes", cwd=repo).stdout
    result = explain(repo)
    assert result["source"] == "re-run"
    assert any("re-ran the selection" in c for c in result["caveats"])
    items = by_id(result)
    assert (items["worker"]["kept"], items["worker"]["reason"]) == (True, "file-overlap")
    assert items["bystander"]["reason"] == "no-file-overlap"
    assert result["note"] == []
    assert git("for-each-ref", "refs/notes", cwd=repo).stdout == notes_before
    assert "re-ran the selection read-only" in traces_git("explain", cwd=repo).stdout


def test_explain_a_commit_without_candidates_and_a_bad_revision(repo, store):
    commit_file(repo, "app.py")
    assert explain(repo)["candidates"] == []
    assert "no candidate" in traces_git("explain", cwd=repo).stdout
    bad = traces_git("explain", "no-such-rev", cwd=repo, check=False)
    assert bad.returncode != 0
    assert "not a commit: no-such-rev" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_record_holds_no_transcript_text(repo, store):
    store.add_trace("secretive", repo, title="TOPSECRET title", edits=[repo / "app.py"])
    store.add_event("secretive", {"type": "user_message", "content": "my password is hunter2"})
    commit_file(repo, "app.py")
    from traces_git.attribution import explain_record

    recorded = open(explain_record.path()).read()
    assert "secretive" in recorded
    assert "TOPSECRET" not in recorded
    assert "hunter2" not in recorded


def test_many_traces_elsewhere_do_not_crowd_out_this_worktree_s(repo, store, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for i in range(30):
        store.add_trace(f"other-{i:02d}", elsewhere, edits=[elsewhere / "x.py"])
    store.add_trace("mine", repo, edits=[repo / "app.py"])
    commit_file(repo, "app.py")
    result = explain(repo)
    reasons = [item["reason"] for item in result["candidates"]]
    assert reasons.count("outside-worktree") == 10
    assert by_id(result)["mine"]["kept"] is True
    assert result["truncated"] == 20


def test_store_traces_idle_before_the_previous_commit_are_named(repo, store):
    long_ago = (time.time() - 3 * 3600) * 1000
    store.add_trace("stale", repo, edits=[repo / "app.py"], timestamp_ms=long_ago)
    store.add_trace("stale-elsewhere", "/somewhere/else", timestamp_ms=long_ago)
    commit_file(repo, "app.py")
    result = explain(repo)
    assert result["candidates"] == []
    assert result["idle_before"] == [
        {"id": "stale", "agent": "claude-code", "last_activity_ms": long_ago}
    ]
    text = traces_git("explain", cwd=repo).stdout
    assert "not a candidate: stale [store, claude-code]: last active" in text
    assert "before the previous commit" in text
