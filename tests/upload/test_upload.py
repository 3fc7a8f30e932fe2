"""Background upload, end to end: real `git commit` with hooks installed, the real
detached worker process, and a real HTTP server on 127.0.0.1 enforcing the API contract."""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, head, note, traces_git
from tests.helpers.upload import (
    TOKEN,
    all_files_text,
    log_text,
    queue_files,
    serve,
    state_dir,
    status,
    status_section,
    upload_now,
    wait_until,
    wait_worker_done,
    wait_worker_exit,
    worker_pid,
)


@pytest.fixture
def api(monkeypatch):
    yield from serve(monkeypatch)


def _expected_ids(trace_id: str, count: int) -> set[str]:
    return {f"{trace_id}-e{i}" for i in range(1, count + 1)}


def test_commit_uploads_trace_and_every_message_exactly_once(repo, store, api):
    store.add_trace("t-one", repo, edits=[repo / "app.py"], messages=3, title="Fix the app")
    sha = commit_file(repo, "app.py")
    wait_worker_done()

    assert [r.path for r in api.of("PUT")] == ["/v1/traces/t-one"]
    meta = api.traces["t-one"]["meta"]
    assert meta["title"] == "Fix the app"
    assert meta["agentId"] == "claude-code"
    assert meta["gitRef"] == sha
    assert meta["gitBranch"] == "main"
    assert meta["projectPath"] == str(repo)
    assert meta["projectName"] == repo.name
    assert meta["model"] == "claude-sonnet-4"
    posted = api.posted_ids("t-one")
    # 3 exchanges (6 events) + one Write call and its result
    assert sorted(posted) == sorted(_expected_ids("t-one", 8))
    assert len(posted) == len(set(posted))
    roles = {m["externalId"]: m["role"] for m in api.messages("t-one").values()}
    assert roles["t-one-e1"] == "user" and roles["t-one-e2"] == "assistant"
    # the shared URL reached the note line, through the notes engine
    assert note(repo, sha) == "traces:t-one https://web.example/s/srv-1\n"
    st = status()
    assert st["last_success"]["trace"] == "t-one"
    assert not queue_files()


def test_second_commit_sends_only_new_messages(repo, store, api):
    store.add_trace("t-inc", repo, edits=[repo / "a.py"], messages=2)
    first = commit_file(repo, "a.py")
    wait_worker_done()
    assert len(api.posted_ids("t-inc")) == 6

    store.add_event("t-inc", {"type": "user_message", "content": "and now b"})
    store.add_event(
        "t-inc",
        {
            "type": "tool_call",
            "callId": "c9",
            "toolName": "Write",
            "args": {"file_path": str(repo / "b.py"), "content": "y"},
        },
    )
    store.touch("t-inc")
    second = commit_file(repo, "b.py")
    wait_worker_done()

    batches = api.of("POST", "/messages/batch")
    assert len(batches) == 2
    assert [m["externalId"] for m in batches[1].body["messages"]] == ["t-inc-e7", "t-inc-e8"]
    assert len(api.messages("t-inc")) == 8
    assert [r.body["gitRef"] for r in api.of("PUT")] == [first, second]
    assert "https://web.example/s/" in note(repo, second)


def test_server_down_keeps_queue_and_a_retry_sends_everything_once(repo, store, api):
    api.stop()  # nothing listens on the port now
    store.add_trace("t-down", repo, edits=[repo / "a.py"], messages=2)
    sha = commit_file(repo, "a.py")
    wait_until(lambda: status().get("last_error"), what="the failed attempt")
    wait_worker_exit()
    assert len(queue_files()) == 1
    assert "t-down" in status()["last_error"]["trace"]
    assert note(repo, sha) == "traces:t-down\n"
    section = status_section(repo)
    assert section["queue"] == 1 and section["queued_traces"] == ["t-down"]
    assert "ConnectError" in section["last_error"]["message"]

    api.start()  # same port: back online
    out = upload_now(repo).stdout
    assert "uploaded t-down" in out
    assert sorted(api.posted_ids("t-down")) == sorted(_expected_ids("t-down", 6))
    assert not queue_files()
    assert note(repo, sha).startswith("traces:t-down https://web.example/s/")


def test_offline_entry_is_retried_by_the_next_hook_run(repo, store, api):
    api.stop()
    store.add_trace("t-later", repo, edits=[repo / "a.py"], messages=1)
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("last_error"), what="the failed attempt")
    wait_worker_exit()
    api.start()
    store.add_trace("t-next", repo, edits=[repo / "b.py"], messages=1)
    commit_file(repo, "b.py")
    wait_worker_done()
    assert set(api.traces) == {"t-later", "t-next"}
    assert len(api.posted_ids("t-later")) == 4 and len(set(api.posted_ids("t-later"))) == 4


def test_rejected_token_is_explained_in_status_and_queue_kept(repo, store, api):
    api.reject_token = True
    store.add_trace("t-401", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("auth_error"), what="the 401")
    wait_worker_exit()
    section = status_section(repo)
    assert section["auth"].startswith("token rejected: the Traces API rejected the token (401")
    assert "traces-git login" in section["auth"]
    assert section["queue"] == 1
    assert "token rejected" in traces_git("status", cwd=repo).stdout
    proc = upload_now(repo, check=False)
    assert proc.returncode == 1
    assert "rejected the token" in proc.stderr and "Traceback" not in proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout
    assert len(api.of("PUT")) == 2 and not api.of("POST")  # one per run, not retried


def test_429_retry_after_is_honoured(repo, store, api):
    api.fail(429, headers={"Retry-After": "1"}, match="PUT")
    store.add_trace("t-429", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_worker_done()
    puts = api.of("PUT")
    assert [r.status for r in puts] == [429, 200]
    assert puts[1].time - puts[0].time >= 0.9  # waited what the server asked
    assert len(api.messages("t-429")) == 4
    assert "429" in log_text()


def test_500_and_non_json_answers_are_retried_and_logged(repo, store, api):
    api.fail(500, match="PUT")
    api.fail(
        502, body=b"<html>bad gateway</html>", headers={"Content-Type": "text/html"}, match="POST"
    )
    api.fail(200, body=b"not json at all", match="POST")
    store.add_trace("t-500", repo, edits=[repo / "a.py"], messages=2)
    commit_file(repo, "a.py")
    wait_worker_done()
    assert [r.status for r in api.of("PUT")] == [500, 200]
    assert [r.status for r in api.of("POST")] == [502, 200, 200]
    assert sorted(api.messages("t-500")) == sorted(_expected_ids("t-500", 6))
    log = log_text()
    assert "500" in log and "non-JSON" in log and "retry" in log


def test_commit_returns_while_the_upload_is_still_in_flight(repo, store, api):
    """The server holds every request until released: a commit that waited for its
    upload would only return after the hold (30 s), with the trace answered."""
    api.hold = threading.Event()
    store.add_trace("t-slow", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    assert not api.traces  # returned before the server answered anything
    wait_until(lambda: api.requests, timeout=30, what="the upload's first request")
    assert not api.traces  # the upload is in flight, held by the server
    api.hold.set()
    wait_worker_done()
    assert len(api.messages("t-slow")) == 4


def test_credentials_are_stripped_and_the_token_is_never_written(repo, store, api):
    git(
        "remote",
        "add",
        "origin",
        "https://alice:ghp_REMOTESECRET@git.example.com/team/app.git",
        cwd=repo,
    )
    store.add_trace("t-priv", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_worker_done()
    assert api.traces["t-priv"]["meta"]["gitRemoteUrl"] == "https://git.example.com/team/app.git"
    assert all(r.authorized for r in api.requests)

    api.stop()  # leave an error and a queue entry behind too
    store.add_event("t-priv", {"type": "user_message", "content": "more"})
    store.touch("t-priv")
    commit_file(repo, "a.py", "v2\n")
    wait_until(lambda: status().get("last_error"), what="the failed attempt")
    wait_worker_exit()
    assert queue_files()
    section = status_section(repo)
    shown = traces_git("upload", "--json", cwd=repo).stdout
    shown += traces_git("status", cwd=repo).stdout + traces_git("status", "--json", cwd=repo).stdout
    assert "upload: 1 queued; last error:" in shown
    everything = all_files_text(state_dir()) + repr(section) + shown
    for secret in ("ghp_REMOTESECRET", TOKEN, "alice:"):
        assert secret not in everything


def test_killed_worker_restarts_without_loss(repo, store, api):
    api.batch_delay = 0.4
    store.add_trace("t-kill", repo, edits=[repo / "a.py"], messages=300)  # 602 events: 4 batches
    commit_file(repo, "a.py")
    wait_until(lambda: len(api.of("POST")) >= 2, what="the second batch")
    pid = worker_pid()
    assert pid
    os.kill(pid, signal.SIGKILL)
    wait_worker_exit()
    assert queue_files()  # still queued
    api.batch_delay = 0
    upload_now(repo)
    expected = _expected_ids("t-kill", 602)
    assert set(api.messages("t-kill")) == expected
    posted = api.posted_ids("t-kill")
    assert set(posted) == expected
    assert len(posted) <= 602 + 200  # at most the batch in flight was sent again
    assert not queue_files()


def test_not_logged_in_sends_nothing_until_login(repo, store, api, monkeypatch):
    monkeypatch.delenv("TRACES_API_KEY")
    store.add_trace("t-anon", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    commit_file(repo, "b.py")
    assert status()["auth"] == "not logged in"
    assert worker_pid() is None and not api.requests
    assert status_section(repo)["auth"] == "not logged in"
    assert "not logged in; run `traces-git login`" in status_section(repo)["summary"]
    assert len(queue_files()) == 1

    proc = traces_git("login", "--token", "-", cwd=repo, input=TOKEN + "\n")
    assert TOKEN not in proc.stdout + proc.stderr
    creds = Path(os.environ["XDG_CONFIG_HOME"]) / "traces-git" / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    wait_worker_done()
    assert len(api.messages("t-anon")) == 4
    assert status_section(repo)["auth"] == "logged in (traces-git login)"
    assert traces_git("logout", cwd=repo).stdout.strip() == "token removed"
    assert not creds.exists()


def test_upload_disabled_queues_nothing(repo, store, api):
    git("config", "traces.upload", "false", cwd=repo)
    store.add_trace("t-off", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    assert note(repo) == "traces:t-off\n"  # still attached, just not uploaded
    assert not queue_files() and not api.requests


def test_trace_from_another_directory_is_not_uploaded(repo, store, api, tmp_path, monkeypatch):
    elsewhere = tmp_path / "other-project"
    elsewhere.mkdir()
    store.add_trace("t-else", elsewhere, edits=[elsewhere / "x.py"])
    monkeypatch.setenv("TRACES_TRACE_ID", "t-else,t-unknown")
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("skipped"), what="the skip record")
    wait_worker_exit()
    assert not api.requests
    skipped = status_section(repo)["skipped"]
    assert skipped[0]["trace"] == "t-else" and "outside" in skipped[0]["reason"]
    # a trace the store does not know (yet) waits; it is not uploaded either
    assert [p.name.split(".")[0] for p in queue_files()] == ["t-unknown"]


def test_visibility_setting_is_sent(repo, store, api):
    git("config", "traces.visibility", "public", cwd=repo)
    store.add_trace("t-vis", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_worker_done()
    assert api.traces["t-vis"]["meta"]["visibility"] == "public"


def test_upload_now_many_traces_and_json(repo, store, api, monkeypatch):
    monkeypatch.delenv("TRACES_API_KEY")  # queue without a worker
    for i in range(4):
        store.add_trace(f"t-many{i}", repo, edits=[repo / f"f{i}.py"])
        commit_file(repo, f"f{i}.py")
    assert len(queue_files()) == 4
    proc = upload_now(repo, "--json", check=False)
    assert proc.returncode == 1 and "not logged in" in proc.stderr
    assert json.loads(proc.stdout)["stopped"] == "not logged in"
    monkeypatch.setenv("TRACES_API_KEY", TOKEN)
    api.fail(400, match="t-many3")  # one trace the server refuses: the others still go

    proc = upload_now(repo, check=False)
    assert proc.returncode == 1 and "1 trace(s) failed" in proc.stderr
    assert "Uploading traces" in proc.stderr  # the progress bar (a label when not on a tty)
    assert sorted(line.split()[1] for line in proc.stdout.splitlines()) == [
        f"t-many{i}" for i in range(3)
    ]
    data = json.loads(upload_now(repo, "--json").stdout)  # --now retries the held one
    assert [item["trace"] for item in data["uploaded"]] == ["t-many3"]
    assert data["remaining"] == 0
    assert set(api.traces) == {f"t-many{i}" for i in range(4)}


def test_all_in_repo_queues_traces_attached_without_url(repo, store, api, monkeypatch):
    monkeypatch.setenv("TRACES_GIT", "0")  # commit without our hooks, then attach by hand
    commit_file(repo, "a.py")
    monkeypatch.delenv("TRACES_GIT")
    store.add_trace("t-old", repo, edits=[repo / "a.py"])
    git("notes", "--ref=traces", "add", "-m", "traces:t-old", cwd=repo)
    sha = head(repo)
    upload_now(repo, "--all-in-repo")
    assert len(api.messages("t-old")) == 4
    assert note(repo, sha).startswith("traces:t-old https://web.example/s/")


def test_one_worker_uploads_a_burst_of_commits(repo, store, api):
    api.delay = 0.5  # the first worker is still busy when the next commits come
    for i in range(3):
        store.add_trace(f"t-burst{i}", repo, edits=[repo / f"b{i}.py"])
        commit_file(repo, f"b{i}.py")
    wait_worker_done()
    assert set(api.traces) == {f"t-burst{i}" for i in range(3)}
    uploaded = [line for line in log_text().splitlines() if "upload: uploaded t-burst" in line]
    assert len(uploaded) == 3
    pids = {line.split("[", 1)[1].split("]", 1)[0] for line in uploaded}
    assert len(pids) == 1, uploaded
