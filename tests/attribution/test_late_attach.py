"""Late attach with real git, real agent session files and the real official CLI 0.6.31.

Each test writes Claude Code, Codex and OpenCode sessions in their on-disk formats under the
test's HOME (tests/agent_sessions.py), lets the Traces store be in the state the test names
(never built, only listed, complete), commits through real git with traces-git's hooks,
waits for the late-attach worker (bounded) and asserts the note git shows.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import agent_sessions as agents
from tests.helpers import git, head, note, tool_path, traces_git
from tests.helpers.sync import clone, make_remote, remote_note_lines, wait_settled
from traces_git.hook import late_attach

TRACES = tool_path("traces")
pytestmark = pytest.mark.skipif(TRACES is None, reason="the official traces CLI is not installed")
BOUND_S = 20.0  # the documented target is 10 s; the suite runs on a loaded machine


@pytest.fixture
def cli(installed):
    """The official CLI where traces-git looks for it (traces.cliPath)."""
    git("config", "--global", "traces.cliPath", TRACES)
    return TRACES


def official(*args: str, cwd) -> dict:
    import subprocess

    proc = subprocess.run([TRACES, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_late(repo: Path, timeout: float = BOUND_S) -> float:
    """Wait until the repository has no pending late attach and its worker is done."""
    common = os.path.join(repo, ".git")
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not late_attach.records(common, "pending"):
            with late_attach._Lock(common, "worker.lock", wait=False) as free:
                if free:
                    return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(
        f"late attach still pending after {timeout} s: {late_attach.records(common, 'pending')}"
    )


def three_sessions(repo: Path) -> dict[str, str]:
    """Claude Code writes src/c.py, Codex patches src/b.py in, OpenCode writes src/o.ts
    (and reads src/a.ts); all after the repository's last commit."""
    time.sleep(1.05)  # the sessions start in a later second than the last commit
    return {
        "claude": agents.claude_session(
            repo,
            [
                ("Read", {"file_path": str(repo / "README.md")}),
                ("Write", {"file_path": str(repo / "src/c.py"), "content": "c = 1\n"}),
            ],
            start_ms=time.time() * 1000,
        ),
        "codex": agents.codex_session(
            repo,
            "*** Begin Patch\n*** Add File: src/b.py\n+b = 1\n*** End Patch\n",
            start_ms=time.time() * 1000,
            edit_after_ms=500,
        ),
        "opencode": agents.opencode_session(
            repo,
            [
                ("read", {"filePath": str(repo / "src/a.ts")}),
                ("write", {"filePath": str(repo / "src/o.ts"), "content": "o\n"}),
            ],
            start_ms=time.time() * 1000,
        ),
    }


def commit_files(repo: Path, names: list[str], message: str = "work") -> str:
    for name in names:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name} {time.time_ns()}\n")
    git("add", "--", *names, cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return head(repo)


def lines(text: str | None) -> list[str]:
    return sorted((text or "").splitlines())


def expected(*ids: str) -> list[str]:
    return sorted(f"traces:{i}" for i in ids)


def test_store_never_built(repo, cli):
    ids = three_sessions(repo)
    sha = commit_files(repo, ["src/c.py", "src/b.py", "src/o.ts"])
    assert note(repo, sha) is None  # the hook decided nothing from a store that is not there
    assert [r["commit"] for r in late_attach.records(str(repo / ".git"), "pending")] in ([sha], [])
    wait_late(repo)
    assert lines(note(repo, sha)) == expected(ids["claude"], ids["codex"], ids["opencode"])
    result = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    assert result["late"]["refresh"].startswith("listed 3 trace(s)")
    text = traces_git("explain", cwd=repo).stdout
    assert "attached later, after refreshing the store" in text


def test_store_only_listed(repo, cli):
    ids = three_sessions(repo)
    listed = official("list", "--json", cwd=repo)["data"]["traces"]
    assert {t["id"] for t in listed} == set(ids.values())
    sha = commit_files(repo, ["src/c.py", "src/b.py", "src/o.ts"])
    wait_late(repo)
    assert lines(note(repo, sha)) == expected(ids["claude"], ids["codex"], ids["opencode"])
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    assert {c["reason"] for c in explained["candidates"]} == {"file-overlap"}


def test_store_complete_attaches_in_the_foreground(repo, cli):
    ids = three_sessions(repo)
    official("list", "--json", cwd=repo)
    for trace_id in ids.values():
        official("show", trace_id, "--json", cwd=repo)
    sha = commit_files(repo, ["src/c.py", "src/b.py", "src/o.ts"])
    # no refresh needed: the note is there when `git commit` returns
    assert lines(note(repo, sha)) == expected(ids["claude"], ids["codex"], ids["opencode"])
    assert late_attach.records(str(repo / ".git"), "pending") == []
    assert late_attach.records(str(repo / ".git"), "done") == []


def test_official_hooks_removed(repo, cli):
    official_proc = __import__("subprocess").run(
        [TRACES, "setup", "git"], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert official_proc.returncode == 0, official_proc.stderr
    traces_git("remove-official-hooks", cwd=repo)
    assert not list((repo / ".git" / "hooks").glob("traces-*"))
    ids = three_sessions(repo)
    sha = commit_files(repo, ["src/c.py", "src/b.py", "src/o.ts"])
    wait_late(repo)
    assert lines(note(repo, sha)) == expected(ids["claude"], ids["codex"], ids["opencode"])


def test_a_file_only_read_gets_no_trace(repo, cli):
    three_sessions(repo)
    sha = commit_files(repo, ["src/a.ts"])  # the OpenCode session only read it
    wait_late(repo)
    assert note(repo, sha) is None
    text = traces_git("explain", cwd=repo).stdout
    assert "only read: src/a.ts" in text  # it edited src/o.ts, and only read this one


def test_a_session_that_only_read_is_told_from_one_that_edited_nothing(repo, cli):
    time.sleep(1.05)
    reader = agents.claude_session(
        repo,
        [
            ("Read", {"file_path": str(repo / "lib.py")}),
            ("Grep", {"pattern": "x", "path": str(repo)}),
        ],
        start_ms=time.time() * 1000,
    )
    talker = agents.claude_session(repo, [], start_ms=time.time() * 1000)
    sha = commit_files(repo, ["lib.py"])
    wait_late(repo)
    assert note(repo, sha) is None
    text = traces_git("explain", cwd=repo).stdout
    assert f"dropped {reader} [store, claude-code]: it only read files" in text
    assert "only read: lib.py" in text
    assert f"dropped {talker} [store, claude-code]: it edited no file" in text


def test_readme_only_commit_with_agent_hooks_active(repo, cli):
    ids = three_sessions(repo)
    now = time.time() * 1000
    (repo / ".git" / "traces-active.json").write_text(
        json.dumps(
            {
                "sessions": [
                    {
                        "agentId": "claude-code",
                        "agentSessionId": ids["claude"],
                        "traceId": ids["claude"],
                        "dir": str(repo),
                        "startedAt": now - 5000,
                        "lastInteractionAt": now,
                    }
                ]
            }
        )
    )
    sha = commit_files(repo, ["README.md"])
    assert note(repo, sha) is None  # not attached on trust: its edits are not known yet
    wait_late(repo)
    assert note(repo, sha) is None  # after the refresh: it edited src/c.py, only read README
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    claude = next(c for c in explained["candidates"] if c["id"] == ids["claude"])
    assert (claude["source"], claude["reason"]) == ("active", "no-file-overlap")


def test_push_right_after_the_commit_carries_the_note(tmp_path, installed, cli):
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    ids = three_sessions(repo)
    sha = commit_files(repo, ["src/c.py"])
    git("push", "-q", "origin", "main", cwd=repo)  # at once: pre-push waits for the note
    wait_settled(repo)
    assert remote_note_lines(remote, sha) == [f"traces:{ids['claude']}"]


def test_two_commits_in_quick_succession(repo, cli):
    ids = three_sessions(repo)
    first = commit_files(repo, ["src/c.py"], "first")
    second = commit_files(repo, ["src/b.py", "src/o.ts"], "second")
    wait_late(repo)
    assert lines(note(repo, first)) == expected(ids["claude"])
    # the second commit's window starts at the first one: the sessions worked after it too
    assert lines(note(repo, second)) == expected(ids["codex"], ids["opencode"])


def test_amend_while_pending_moves_the_attach_to_the_new_commit(repo, cli):
    ids = three_sessions(repo)
    old = commit_files(repo, ["src/c.py"])
    git("commit", "-q", "--amend", "-m", "amended", cwd=repo)
    new = head(repo)
    wait_late(repo)
    assert lines(note(repo, new)) == expected(ids["claude"])
    assert old != new


def test_codex_edit_after_the_previous_commit_counts_from_its_last_event(repo, cli):
    """The store's row keeps the Codex session's start; its edit came after the commit."""
    start = time.time() * 1000 - 60_000  # a minute before the repository's last commit
    time.sleep(1.05)
    thread = agents.codex_session(
        repo,
        "*** Begin Patch\n*** Add File: late.py\n+x\n*** End Patch\n",
        start_ms=start,
        edit_after_ms=61_500,
    )
    official("list", "--json", cwd=repo)
    official("show", thread, "--json", cwd=repo)
    sha = commit_files(repo, ["late.py"])
    assert lines(note(repo, sha)) == expected(thread)


def test_without_the_cli_nothing_is_queued_and_status_says_why(repo, installed):
    three_sessions(repo)
    sha = commit_files(repo, ["src/c.py"])
    assert note(repo, sha) is None
    assert not (repo / ".git" / late_attach.DIR_NAME).exists()
    status = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert "not installed" in status["late_attach"]["summary"]
    doctor = json.loads(traces_git("doctor", "--json", cwd=repo, check=False).stdout)
    store_problem = next(p for p in doctor["problems"] if p["id"] == "store-missing")
    assert store_problem["fix"].startswith("install the Traces CLI")


def test_doctor_advice_with_the_cli(repo, cli):
    three_sessions(repo)
    doctor = json.loads(traces_git("doctor", "--json", cwd=repo, check=False).stdout)
    store_problem = next(p for p in doctor["problems"] if p["id"] == "store-missing")
    assert store_problem["fix"].startswith("run `traces list`")
    assert any(p["id"] == "agent-hooks-off" for p in doctor["problems"])


def fake_cli(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-traces"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    git("config", "--global", "traces.cliPath", str(script))
    return str(script)


def test_a_failing_refresh_shows_in_status_and_doctor(repo, installed, tmp_path):
    fake_cli(tmp_path, "echo 'database is locked' >&2\nexit 1\n")
    three_sessions(repo)
    sha = commit_files(repo, ["src/c.py"])
    wait_late(repo)
    assert note(repo, sha) is None
    status = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    failed = status["late_attach"]["failed"]
    assert [f["commit"] for f in failed] == [sha]
    assert "`traces list` exited 1: database is locked" in failed[0]["error"]
    assert "1 failed" in traces_git("status", cwd=repo).stdout
    doctor = json.loads(traces_git("doctor", "--json", cwd=repo, check=False).stdout)
    assert any(p["id"] == "late-attach-failed" for p in doctor["problems"])
    text = traces_git("explain", cwd=repo).stdout
    assert "refresh problem: `traces list` exited 1: database is locked" in text


def test_a_hostile_cli_answer_attaches_nothing(repo, installed, tmp_path):
    answer = json.dumps(
        {
            "ok": True,
            "data": {
                "traces": [
                    {"id": "bad id\n\x1b[31m", "sourcePath": "/etc/shadow", "timestamp": "soon"},
                    {"id": "x" * 100_000},
                    {"id": 42},
                    "junk",
                    None,
                    {"id": "../../etc", "sourcePath": ["x"], "timestamp": 1e308},
                ]
            },
        }
    )
    (tmp_path / "answer.json").write_text(answer)
    fake_cli(tmp_path, f"cat '{tmp_path / 'answer.json'}'\n")
    three_sessions(repo)
    sha = commit_files(repo, ["src/c.py"])
    wait_late(repo)
    assert note(repo, sha) is None
    record = late_attach.records(str(repo / ".git"), "done")[0]
    assert record["refresh"].startswith("listed 0 trace(s)")


def test_pending_records_show_in_status(repo, installed, tmp_path):
    fake_cli(tmp_path, "sleep 30\n")
    three_sessions(repo)
    sha = commit_files(repo, ["src/c.py"])
    status = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert [p["commit"] for p in status["late_attach"]["pending"]] == [sha]
    assert "1 pending" in traces_git("status", cwd=repo).stdout


def test_doctor_keeps_the_official_hooks_when_late_attach_is_off(repo, cli):
    proc = __import__("subprocess").run(
        [TRACES, "setup", "git"], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    doctor = json.loads(traces_git("doctor", "--json", cwd=repo, check=False).stdout)
    assert any(p["id"] == "official-hooks" for p in doctor["problems"])
    git("config", "--global", "traces.lateAttach", "false")
    doctor = json.loads(traces_git("doctor", "--json", cwd=repo, check=False).stdout)
    ids = {p["id"] for p in doctor["problems"]}
    assert "official-hooks" not in ids and "official-hooks-needed" in ids


def test_late_attach_off_decides_in_the_foreground_as_before(repo, cli):
    git("config", "--global", "traces.lateAttach", "false")
    three_sessions(repo)
    sha = commit_files(repo, ["src/c.py"])
    assert note(repo, sha) is None
    assert not (repo / ".git" / late_attach.DIR_NAME).exists()


def test_the_shortcut_watches_the_agent_sessions_of_the_worktree(repo, cli):
    """With late attach possible, the stamp also holds the worktree's session files and
    the directories new ones appear in: unchanged, the next commit skips Python; a session
    that then writes a file of the commit makes the next commit take the full path."""
    from tests.hook.test_shortcut import age, commit_runs_python, skipped

    three_sessions(repo)
    official("list", "--json", cwd=repo)
    first = commit_files(repo, ["src/c.py", "src/b.py", "src/o.ts"])
    wait_late(repo)
    assert len(lines(note(repo, first))) == 3
    store_path = Path(os.environ["TRACES_EVENTSTORE"])
    age(
        store_path,
        Path(f"{store_path}-wal"),
        repo / ".git" / "config",
        Path(os.environ["GIT_CONFIG_GLOBAL"]),
    )
    home = Path(os.environ["HOME"])
    age(
        *home.joinpath(".claude").rglob("*"),
        *home.joinpath(".codex").rglob("*"),
        *Path(os.environ["XDG_DATA_HOME"]).joinpath("opencode").rglob("*"),
    )
    time.sleep(1.05)
    assert commit_runs_python(repo, "quiet.txt")  # a full run: it leaves a stamp
    assert (repo / ".git" / "traces-git-post-commit.stamp").is_file()
    assert not commit_runs_python(repo, "quiet2.txt")
    assert skipped(repo) == 1
    time.sleep(1.05)
    later = agents.claude_session(
        repo, [("Edit", {"file_path": str(repo / "src/c.py")})], start_ms=time.time() * 1000
    )
    assert commit_runs_python(repo, "src/c.py")
    wait_late(repo)
    assert lines(note(repo)) == expected(later)


def test_the_committing_session_named_by_its_file(repo, cli):
    """TRACES_CURRENT_SOURCE_PATH names a Claude session file the store never read: the
    late attach finds the trace by that file after the refresh."""
    ids = three_sessions(repo)
    session_file = agents.claude_project_dir(repo) / f"{ids['claude']}.jsonl"
    (repo / "src").mkdir(exist_ok=True)
    (repo / "src/c.py").write_text("c\n")
    git("add", "src/c.py", cwd=repo)
    git("commit", "-q", "-m", "c", cwd=repo, env={"TRACES_CURRENT_SOURCE_PATH": str(session_file)})
    wait_late(repo)
    assert lines(note(repo)) == expected(ids["claude"])
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    hinted = [c for c in explained["candidates"] if c["source"] == "TRACES_CURRENT_SOURCE_PATH"]
    assert [(c["id"], c["reason"]) for c in hinted] == [(ids["claude"], "file-overlap")]


def test_records_that_are_not_ours_are_ignored(repo, cli):
    pending = repo / ".git" / late_attach.DIR_NAME / "pending"
    pending.mkdir(parents=True)
    (pending / "--output=x.json").write_text(
        json.dumps({"commit": "--output=x", "worktree": str(repo)})
    )
    (pending / ("a" * 40 + ".json")).write_text("[1, 2]")
    (pending / ("b" * 40 + ".json")).write_text(json.dumps({"commit": "b" * 40}))
    assert late_attach.records(str(repo / ".git"), "pending") == []
    traces_git("late-attach", cwd=repo)
    assert not (repo / "x").exists()


def slow_cli(tmp_path: Path, seconds: float = 1.5) -> None:
    """The real CLI behind a wrapper that first sleeps: a refresh that takes a while."""
    fake_cli(tmp_path, f"sleep {seconds}\nexec '{TRACES}' \"$@\"\n")


def wait_pending(repo: Path, sha: str, timeout: float = 10.0) -> None:
    common = str(repo / ".git")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["commit"] == sha for r in late_attach.records(common, "pending")):
            return
        time.sleep(0.02)
    raise AssertionError("no pending late attach")


def test_a_commit_during_a_refresh(repo, installed, tmp_path):
    slow_cli(tmp_path)
    ids = three_sessions(repo)
    first = commit_files(repo, ["src/c.py"], "first")
    wait_pending(repo, first)
    time.sleep(0.5)  # the worker is inside `traces list` now
    second = commit_files(repo, ["src/b.py"], "second")
    wait_late(repo, timeout=40)
    assert lines(note(repo, first)) == expected(ids["claude"])
    assert lines(note(repo, second)) == expected(ids["codex"])
    assert late_attach.records(str(repo / ".git"), "pending") == []


def test_a_rebase_while_pending_moves_the_attach(repo, installed, tmp_path):
    slow_cli(tmp_path, 2.0)
    ids = three_sessions(repo)
    old = commit_files(repo, ["src/c.py"], "work")
    wait_pending(repo, old)
    time.sleep(1.05)  # a later committer second: the replayed commit gets a new sha
    git("rebase", "-q", "--force-rebase", "HEAD~1", cwd=repo)
    new = head(repo)
    assert new != old
    wait_late(repo, timeout=40)
    assert lines(note(repo, new)) == expected(ids["claude"])
    assert note(repo, old) is None  # never on the commit the rebase replaced


def test_rows_without_events_and_no_cli_say_so(repo, installed):
    """Without the CLI nothing refreshes: a trace listed but never shown is not said to
    have edited nothing; explain says its events are missing."""
    ids = three_sessions(repo)
    official("list", "--json", cwd=repo)
    sha = commit_files(repo, ["src/c.py"])
    assert note(repo, sha) is None
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    claude = next(c for c in explained["candidates"] if c["id"] == ids["claude"])
    assert claude["reason"] == "no-events"
    assert "none of its events yet" in traces_git("explain", cwd=repo).stdout


def test_an_amend_after_a_late_note_copies_it(repo, cli):
    """The worker wrote the note to a commit after git had copied the notes of an amend
    (the race): post-rewrite copies what it attached to the new commit."""
    old = commit_files(repo, ["x.py"])
    done = repo / ".git" / late_attach.DIR_NAME / "done"
    done.mkdir(parents=True)
    (done / f"{old}.json").write_text(
        json.dumps(
            {"commit": old, "worktree": str(repo), "attached": ["late-one"], "done_at": time.time()}
        )
    )
    git("commit", "-q", "--amend", "-m", "amended", cwd=repo)
    assert lines(note(repo)) == expected("late-one")
