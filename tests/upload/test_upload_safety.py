"""Upload safety end to end: redaction, share rules and namespaces, the official login.

Real `git commit` with hooks installed, the real detached worker, and the contract
server on 127.0.0.1 recording every raw request body."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.helpers import PYTHON, commit_file, git, note, traces_git
from tests.helpers.safety import (
    DOTENV_ONLY,
    literals,
    markers,
    seed,
    write_official_login,
    write_share_rules,
)
from tests.helpers.upload import (
    TOKEN,
    queue_files,
    serve,
    status,
    status_section,
    upload_now,
    wait_until,
    wait_worker_done,
    wait_worker_exit,
)

PLACES = ("user", "thinking", "agent", "args", "output", "error")


@pytest.fixture
def api(monkeypatch):
    yield from serve(monkeypatch)


def _received_text(api) -> str:
    return api.raw_bytes().decode("utf-8")


def _assert_nothing_secret(raw: str) -> None:
    leaked = [literal for literal in literals() if literal in raw]
    assert not leaked, leaked


def test_every_secret_kind_is_redacted_and_the_text_around_it_arrives(repo, store, api):
    seed(store, "t-sec", repo, title="fix the deploy AKIAIOSFODNN7EXAMPLE title-kept")
    sha = commit_file(repo, "app.py")
    wait_worker_done()

    raw = _received_text(api)
    assert api.traces["t-sec"]["messages"], "nothing was uploaded"
    _assert_nothing_secret(raw)
    for place in PLACES:
        missing = [m for m in markers(place) if m not in raw]
        assert not missing, (place, missing)
    # the .env read: its whole output is replaced, its markers go with it
    assert not [m for m in markers("dotenv") if m in raw]
    assert DOTENV_ONLY not in raw
    outputs = [
        part["content"]["output"]
        for msg in api.messages("t-sec").values()
        for part in msg["parts"]
        if part["type"] == "tool_result"
    ]
    assert "[REDACTED: output of a tool that read a secrets file]" in outputs
    assert api.traces["t-sec"]["meta"]["title"] == "fix the deploy [REDACTED] title-kept"
    assert note(repo, sha).startswith("traces:t-sec https://web.example/s/")
    # the store is untouched: redaction happens on the way out only
    with store.connect() as db:
        rows = db.execute("SELECT event_json FROM events WHERE trace_id = 't-sec'").fetchall()
    assert "AKIAIOSFODNN7EXAMPLE" in json.dumps(rows)


def test_dry_run_shows_exactly_what_is_then_sent(repo, store, api, monkeypatch):
    monkeypatch.setenv("TRACES_GIT", "0")  # commit without hooks: nothing uploads yet
    commit_file(repo, "app.py")
    monkeypatch.delenv("TRACES_GIT")
    seed(store, "t-dry", repo)
    git("notes", "--ref=traces", "add", "-m", "traces:t-dry", cwd=repo)

    plan = json.loads(traces_git("upload", "--dry-run", "--json", "t-dry", cwd=repo).stdout)
    assert not api.requests  # a dry run sends nothing
    assert plan["action"] == "publish"
    _assert_nothing_secret(json.dumps(plan))
    text = traces_git("upload", "--dry-run", "t-dry", cwd=repo).stdout
    assert "t-dry would go to the API key's default (direct;" in text
    _assert_nothing_secret(text)

    upload_now(repo, "--all-in-repo")
    sent = [{"method": r.method, "path": r.path, "body": r.body} for r in api.requests]
    assert sent == plan["requests"]


def test_user_patterns_and_a_bad_one_fails_closed(repo, store, api):
    git("config", "--add", "traces.redact", r"ACME-[0-9]{6}", cwd=repo)
    store.add_trace("t-pat", repo, edits=[repo / "a.py"], messages=0)
    store.add_event("t-pat", {"type": "user_message", "content": "ticket ACME-123456 is open"})
    commit_file(repo, "a.py")
    wait_worker_done()
    raw = _received_text(api)
    assert "ACME-123456" not in raw and "ticket [REDACTED] is open" in raw

    count = len(api.requests)
    git("config", "--add", "traces.redact", "([unclosed", cwd=repo)
    store.add_trace("t-bad", repo, edits=[repo / "b.py"])
    commit_file(repo, "b.py")
    wait_until(lambda: status().get("held"), what="the hold")
    wait_worker_exit()
    assert len(api.requests) == count  # nothing sent while a pattern is invalid
    assert len(queue_files()) == 1
    section = status_section(repo)
    assert "not a valid regular expression" in section["held"][0]["reason"]
    doctor = traces_git("doctor", cwd=repo, check=False)
    assert doctor.returncode == 1
    assert "traces.redact pattern '([unclosed' is not a valid regular expression" in doctor.stdout
    proc = upload_now(repo, check=False)
    assert proc.returncode == 1 and "held" in proc.stderr and "Traceback" not in proc.stderr

    git("config", "--unset-all", "traces.redact", cwd=repo)
    upload_now(repo)
    assert "t-bad" in api.traces and not queue_files()
    assert status_section(repo)["held"] == []


def test_a_user_pattern_that_backtracks_without_end_holds_the_trace(repo, store, api):
    endless = "a" * 60 + "b"
    git("config", "--add", "traces.redact", r"(a+)+$", cwd=repo)
    git("config", "traces.redactTimeout", "0.3", cwd=repo)
    store.add_trace("t-slow", repo, edits=[repo / "a.py"], messages=0)
    store.add_event("t-slow", {"type": "user_message", "content": endless})
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("held"), what="the hold")
    wait_worker_exit()
    assert endless not in _received_text(api)
    assert not api.messages("t-slow")
    assert len(queue_files()) == 1
    reason = status_section(repo)["held"][0]["reason"]
    assert "traces.redact pattern '(a+)+$' ran longer than 0.3 s" in reason

    git("config", "--unset-all", "traces.redact", cwd=repo)
    upload_now(repo)
    assert endless in _received_text(api)  # no pattern of the user's now: sent as written
    assert not queue_files() and status_section(repo)["held"] == []


def test_rule_off_writes_the_note_and_sends_nothing(repo, store, api):
    write_share_rules(api.url, {str(repo): "off"})
    store.add_trace("t-off", repo, edits=[repo / "a.py"])
    sha = commit_file(repo, "a.py")
    assert note(repo, sha) == "traces:t-off\n"
    assert not queue_files()
    time.sleep(0.3)
    assert not api.requests
    section = status_section(repo)
    assert section["skipped_by_rule"] == 1
    assert f'share rule "off" for {repo}' in section["skipped_by_rule_recent"][0]["reason"]
    assert "1 skipped by share rule" in traces_git("status", cwd=repo).stdout
    assert f'share rule "off" for {repo}' in section["destination"]
    # queued by hand, the worker still refuses it
    upload_now(repo, "--all-in-repo")
    assert not api.requests and not queue_files()
    assert status_section(repo)["skipped_by_rule"] == 2


def test_nearest_ancestor_rule_wins(repo, store, api):
    sub = repo / "services" / "billing"
    write_share_rules(
        api.url,
        {
            str(repo.parent): "off",
            str(repo): {"id": "ns-acme", "slug": "acme", "type": "org"},
            str(sub): "off",
        },
    )
    store.add_trace("t-root", repo, edits=[repo / "a.py"])
    store.add_trace("t-sub", sub, edits=[sub / "b.py"])
    commit_file(repo, "a.py")
    commit_file(repo, "services/billing/b.py")
    wait_worker_done()
    assert set(api.traces) == {"t-root"}
    meta = api.traces["t-root"]["meta"]
    assert meta["targetNamespaceId"] == "ns-acme" and meta["visibility"] == "private"
    assert status_section(repo)["skipped_by_rule"] == 1


def test_personal_namespace_is_direct_and_traces_visibility_overrides(repo, store, api):
    write_share_rules(api.url, {str(repo): {"id": "ns-me", "slug": "me", "type": "individual"}})
    store.add_trace("t-me", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_worker_done()
    meta = api.traces["t-me"]["meta"]
    assert meta["targetNamespaceId"] == "ns-me" and meta["visibility"] == "direct"

    git("config", "traces.visibility", "public", cwd=repo)
    store.add_trace("t-pub", repo, edits=[repo / "b.py"])
    commit_file(repo, "b.py")
    wait_worker_done()
    assert api.traces["t-pub"]["meta"]["visibility"] == "public"


def test_tracesrc_pins_the_namespace(repo, store, api):
    (repo / ".tracesrc").write_text("# team traces\nnamespace = @acme\n")
    api.namespaces = [
        {"id": "ns-other", "slug": "other", "type": "individual"},
        {"id": "ns-acme", "slug": "acme", "type": "org"},
    ]
    store.add_trace("t-rc", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_worker_done()
    meta = api.traces["t-rc"]["meta"]
    assert meta["targetNamespaceId"] == "ns-acme" and meta["visibility"] == "private"
    assert f".tracesrc {repo / '.tracesrc'}" in status_section(repo)["destination"]


def test_malformed_share_file_fails_closed(repo, store, api):
    path = write_share_rules(api.url, '{"rules": {"relative/path": "off"}}')
    store.add_trace("t-mal", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("held"), what="the hold")
    wait_worker_exit()
    assert not api.requests and len(queue_files()) == 1
    section = status_section(repo)
    assert "not an absolute folder path" in section["held"][0]["reason"]
    assert "held" in section["summary"]
    doctor = traces_git("doctor", cwd=repo, check=False)
    assert doctor.returncode == 1 and str(path) in doctor.stdout

    path.write_text("{not json")
    proc = upload_now(repo, check=False)
    assert proc.returncode == 1 and "not valid JSON" in proc.stderr
    assert not api.requests

    path.write_text(json.dumps({"rules": {}}))
    upload_now(repo)
    assert "t-mal" in api.traces


def test_no_destination_holds_with_a_reason(repo, store, api, monkeypatch):
    api.token = "plain-device-token"  # not an API key: no server default
    monkeypatch.setenv("TRACES_API_KEY", "plain-device-token")
    store.add_trace("t-nowhere", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("held"), what="the hold")
    wait_worker_exit()
    assert not api.requests
    summary = status_section(repo)["summary"]
    assert "1 held: no share destination" in summary


def test_upload_with_only_the_official_stored_login(repo, store, api, monkeypatch):
    monkeypatch.delenv("TRACES_API_KEY")
    api.token = "device-key-from-traces-login"
    write_official_login(api.url, api.token, namespace_id="ns-personal", kind="individual")
    store.add_trace("t-official", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_worker_done()
    assert all(r.authorized for r in api.requests)
    meta = api.traces["t-official"]["meta"]
    assert meta["targetNamespaceId"] == "ns-personal" and meta["visibility"] == "direct"
    section = status_section(repo)
    assert section["auth"] == "logged in (traces login)"
    assert section["token_source"] == "traces login"
    shown = traces_git("status", "--json", cwd=repo).stdout + traces_git("status", cwd=repo).stdout
    assert api.token not in shown


def test_official_login_readable_by_others_is_refused(repo, store, api, monkeypatch):
    monkeypatch.delenv("TRACES_API_KEY")
    api.token = "device-key-shared-file"
    path = write_official_login(api.url, api.token, mode=0o644)
    store.add_trace("t-644", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("last_error"), what="the refusal")
    wait_worker_exit()
    assert not api.requests
    assert "readable by other users" in status_section(repo)["auth"]
    doctor = traces_git("doctor", cwd=repo, check=False).stdout
    assert f"{path} is readable by other users" in doctor
    os.chmod(path, 0o600)
    upload_now(repo)
    assert "t-644" in api.traces


def test_upload_now_waits_for_a_running_worker(repo, store, api):
    api.batch_delay = 1.0
    store.add_trace("t-busy", repo, edits=[repo / "a.py"], messages=2)
    commit_file(repo, "a.py")
    wait_until(lambda: api.of("PUT"), what="the worker to start sending")
    proc = upload_now(repo)
    assert "waiting for the background upload (pid" in proc.stderr
    assert "try again" not in proc.stderr
    wait_worker_done()
    assert len(api.messages("t-busy")) == 6


def test_the_hook_does_not_import_the_redaction_code(repo, store, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACES_API_KEY", TOKEN)
    monkeypatch.setenv("TRACES_HTTP_URL", "http://127.0.0.1:9")
    # a share file exists, so the hook reads the rules too
    write_share_rules("http://127.0.0.1:9", {str(tmp_path / "elsewhere"): "off"})
    monkeypatch.setenv("TRACES_GIT", "0")
    commit_file(repo, "app.py")
    monkeypatch.delenv("TRACES_GIT")
    seed(store, "t-imp", repo)
    entry = "import sys;from traces_git.__main__ import main;sys.exit(main())"
    proc = subprocess.run(
        [PYTHON, "-I", "-X", "importtime", "-c", entry, "hook", "post-commit"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "TRACES_GIT_HOOK_GIT_DIR": str(repo / ".git")},
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    assert "traces_git.upload.handoff" in imported and "traces_git.upload.share_rules" in imported
    assert len(queue_files()) == 1  # the hand-off ran
    for module in (
        "traces_git.upload.redact",
        "traces_git.upload.outgoing",
        "traces_git.upload.api",
        "httpx",
    ):
        assert module not in imported, module
    wait_worker_exit()


def test_a_secrets_file_read_sent_in_an_earlier_upload_still_hides_its_output(repo, store, api):
    store.add_trace("t-later", repo, edits=[repo / "a.py"], messages=0)
    store.add_event(
        "t-later",
        {"type": "tool_call", "callId": "c-pem", "toolName": "Read", "args": {"path": "k.pem"}},
    )
    commit_file(repo, "a.py")
    wait_worker_done()
    store.add_event(
        "t-later",
        {
            "type": "tool_result",
            "callId": "c-pem",
            "toolName": "Read",
            "output": "MIIBpemBodyWithoutHeaders-5521",
            "status": "success",
        },
    )
    store.add_event(
        "t-later",
        {
            "type": "tool_call",
            "callId": "c-b",
            "toolName": "Write",
            "args": {"file_path": str(repo / "b.py")},
        },  # noqa: E501
    )
    store.touch("t-later")
    commit_file(repo, "b.py")
    wait_worker_done()
    assert len(api.of("POST", "/messages/batch")) == 2
    raw = _received_text(api)
    assert "MIIBpemBodyWithoutHeaders-5521" not in raw
    assert "[REDACTED: output of a tool that read a secrets file]" in raw
