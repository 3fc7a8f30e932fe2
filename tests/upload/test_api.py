"""The API client (injected httpx transports and the real loopback server), the event
conversion, credential stripping, token storage and the queue files."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import httpx
import pytest

from tests.helpers import PYTHON, commit_file
from tests.helpers.api_server import ApiServer, Invalid, validate_batch, validate_message
from tests.helpers.upload import wait_worker_exit
from traces_git import urls
from traces_git.store import Event
from traces_git.upload import api, auth, convert
from traces_git.upload import queue as q

TOKEN = auth.Token("trk_unit_secret", "TRACES_API_KEY")


def _client(handler, sleeps: list[float], **kwargs) -> api.Client:
    return api.Client(
        "https://api.example",
        TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **kwargs,
    )


def _ok(data: dict) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "data": data})


TRACE = {"trace": {"id": "srv-9", "externalId": "x"}}


def test_429_waits_what_retry_after_says():
    answers = [
        httpx.Response(
            429,
            headers={"Retry-After": "2"},
            json={"ok": False, "error": {"code": "RATE", "message": "slow"}},
        ),
        _ok(TRACE),
    ]
    seen = []

    def handler(request):
        seen.append(request)
        return answers.pop(0)

    sleeps: list[float] = []
    assert _client(handler, sleeps).put_trace("x", {"title": "t"})["id"] == "srv-9"
    assert sleeps == [2.0]
    assert len(seen) == 2
    assert seen[0].headers["Authorization"] == "Bearer trk_unit_secret"
    assert json.loads(seen[0].content) == {"title": "t"}


def test_a_long_retry_after_is_left_to_the_queue():
    sleeps: list[float] = []
    client = _client(lambda r: httpx.Response(429, headers={"Retry-After": "3600"}), sleeps)
    with pytest.raises(api.TransientError) as info:
        client.put_trace("x", {})
    assert info.value.retry_after == 3600 and sleeps == []


def test_5xx_is_retried_with_growing_backoff_then_given_up():
    calls = []
    sleeps: list[float] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(503, text="down"), sleeps)
    with pytest.raises(api.TransientError, match="503"):
        client.put_trace("x", {})
    assert len(calls) == 4 and len(sleeps) == 3
    assert sleeps[0] < sleeps[1] < sleeps[2]


@pytest.mark.parametrize("status", [408, 500, 502])
def test_retryable_statuses(status):
    answers = [httpx.Response(status, text="<html>oops</html>"), _ok(TRACE)]
    sleeps: list[float] = []
    assert _client(lambda r: answers.pop(0), sleeps).put_trace("x", {})["id"] == "srv-9"
    assert len(sleeps) == 1


def test_non_json_success_is_retried():
    answers = [httpx.Response(200, text="<html>captive portal</html>"), _ok(TRACE)]
    sleeps: list[float] = []
    assert _client(lambda r: answers.pop(0), sleeps).put_trace("x", {})["id"] == "srv-9"
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_4xx_are_not_retried(status):
    calls = []
    body = {"ok": False, "error": {"code": "INVALID_BODY", "message": "messages[0].role"}}
    client = _client(lambda r: calls.append(r) or httpx.Response(status, json=body), [])
    with pytest.raises(api.PermanentError, match="INVALID_BODY: messages"):
        client.put_trace("x", {})
    assert len(calls) == 1


def test_401_and_403_have_clear_messages_without_the_token():
    body = {"ok": False, "error": {"code": "X", "message": "nope"}}
    for status, phrase in ((401, "rejected the token"), (403, "not allowed")):
        client = _client(lambda r, s=status: httpx.Response(s, json=body), [])
        with pytest.raises(api.AuthError) as info:
            client.post_messages("x", [{"externalId": "m", "role": "user"}])
        assert phrase in str(info.value) and "trk_unit_secret" not in str(info.value)
    assert "trk_unit_secret" not in repr(TOKEN) + str(TOKEN)


def test_connection_refused_gives_up_quickly():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    sleeps: list[float] = []
    with pytest.raises(api.TransientError, match="ConnectError"):
        _client(handler, sleeps).put_trace("x", {})
    assert len(sleeps) == 1


def test_batch_size_limits():
    client = _client(lambda r: _ok({}), [])
    with pytest.raises(ValueError):
        client.post_messages("x", [])
    with pytest.raises(ValueError):
        client.post_messages("x", [{"externalId": str(i), "role": "user"} for i in range(201)])


def test_retry_after_http_date():
    assert api.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert api.parse_retry_after("soon") is None


def test_client_against_the_loopback_server_is_idempotent():
    server = ApiServer(token=TOKEN.value).start()
    try:
        with api.Client(server.url, TOKEN) as client:
            trace = client.put_trace("t1", {"title": "hello", "visibility": "private"})
            assert trace["id"] == "srv-1" and trace["externalId"] == "t1"
            batch = [
                {
                    "externalId": f"m{i}",
                    "role": "user",
                    "textContent": "hi",
                    "parts": [{"type": "text", "content": {"text": "hi"}}],
                }
                for i in range(200)
            ]
            client.post_messages("t1", batch)
            client.post_messages("t1", batch)  # resent: upserted, not duplicated
            assert len(server.messages("t1")) == 200
            with pytest.raises(api.PermanentError, match="INVALID_BODY"):
                client.post_messages("t1", [{"externalId": "bad", "role": "robot"}])
            with pytest.raises(api.PermanentError, match="404"):
                client.post_messages("never-put", batch[:1])
        with api.Client(server.url, auth.Token("wrong", "login")) as client:
            with pytest.raises(api.AuthError, match="401"):
                client.put_trace("t1", {})
    finally:
        server.stop()


# --- conversion ----------------------------------------------------------------

EVENTS = [
    {"type": "user_message", "content": "fix it"},
    {"type": "agent_text", "content": "on it", "modelId": "m-1"},
    {"type": "agent_thinking", "content": "hmm", "durationMs": 120},
    {"type": "tool_call", "callId": "c1", "toolName": "Write", "args": {"file_path": "/a", "x": 1}},
    {"type": "tool_call", "callId": "c2", "toolName": "Bash", "args": "ls -la"},
    {
        "type": "tool_result",
        "callId": "c1",
        "toolName": "Write",
        "output": {"ok": 1},
        "status": "error",
    },
    {"type": "error", "message": "rate limited"},
    {"type": "system_event", "subtype": "compact", "data": {"tokens": 5}},
    {"type": "user_message", "content": [{"type": "text", "text": "blocks"}]},
    {"type": "something_new", "content": "skipped"},
]


def _events(items) -> list[Event]:
    return [
        Event(
            row_id=i + 1,
            event_id=f"e{i}",
            data={"id": f"e{i}", "timestamp": 1700000000000.5, "order": i, **item},
        )
        for i, item in enumerate(items)
    ]


def test_every_event_type_converts_to_a_message_the_contract_accepts():
    messages = [convert.message(e) for e in _events(EVENTS)]
    assert messages[-1] is None  # unknown types are not sent
    for i, msg in enumerate(messages[:-1]):
        validate_message(msg, f"m{i}")
    by_id = {m["externalId"]: m for m in messages[:-1]}
    assert by_id["e0"]["role"] == "user" and by_id["e0"]["textContent"] == "fix it"
    assert by_id["e1"]["model"] == "m-1" and by_id["e1"]["parts"][0]["type"] == "text"
    assert by_id["e2"]["parts"] == [
        {"type": "thinking", "content": {"text": "hmm", "durationMs": 120}}
    ]
    assert by_id["e3"]["parts"][0]["content"]["args"] == {"file_path": "/a", "x": 1}
    assert by_id["e4"]["parts"][0]["content"]["args"] == {"input": "ls -la"}
    assert by_id["e5"]["parts"][0]["content"] == {
        "callId": "c1",
        "toolName": "Write",
        "output": '{"ok": 1}',
        "status": "error",
    }
    assert by_id["e6"]["parts"] == [{"type": "error", "content": {"message": "rate limited"}}]
    assert by_id["e7"]["role"] == "system"


def test_batches_hold_at_most_200_and_record_the_last_row():
    events = _events(
        [{"type": "user_message", "content": str(i)} for i in range(450)]
        + [{"type": "something_new"}]
    )
    chunks = list(convert.batches(events))
    assert [len(c) for c, _ in chunks] == [200, 200, 50]
    assert [row for _, row in chunks] == [200, 400, 451]
    for chunk, _ in chunks:
        validate_batch({"messages": chunk})
    with pytest.raises(Invalid):
        validate_batch({"messages": []})


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://user:token@host.example/repo.git", "https://host.example/repo.git"),
        ("https://ghp_abc@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://github.com/o/r.git?access_token=abc#frag", "https://github.com/o/r.git"),
        ("http://u:p@[::1]:8080/r", "http://[::1]:8080/r"),
        ("ssh://git:secret@host.example:22/o/r.git", "ssh://git@host.example:22/o/r.git"),
        ("ssh://git@host.example/o/r.git", "ssh://git@host.example/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
        ("", None),
    ],
)
def test_strip_credentials(url, expected):
    assert urls.strip_credentials(url) == expected


# --- token storage ------------------------------------------------------------------


def test_token_file_is_0600_and_env_wins(monkeypatch):
    path = auth.save("trk_stored")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.load() == auth.Token("trk_stored", "traces-git login")
    monkeypatch.setenv("TRACES_API_KEY", "trk_env")
    assert auth.load().source == "TRACES_API_KEY"
    monkeypatch.setenv("TRACES_CLI_AUTH_TOKEN", "cli")
    assert auth.load().source == "TRACES_CLI_AUTH_TOKEN"


def test_a_token_file_others_can_read_is_refused():
    path = auth.save("trk_stored")
    os.chmod(path, 0o644)
    with pytest.raises(auth.TokenFileError, match="chmod 600"):
        auth.load()


def test_login_rejects_junk_tokens():
    from traces_git.errors import UsageError

    for junk in ("", "two words", "a\tb"):
        with pytest.raises(UsageError):
            auth.save(junk)


# --- queue files --------------------------------------------------------------------


def test_queue_entries_are_atomic_files_and_corrupt_ones_are_skipped(tmp_path):
    entry = q.Entry(
        trace_id="t1", common_dir=str(tmp_path), worktree=str(tmp_path), commit="a" * 40
    )
    path = q.enqueue(entry)
    q.enqueue(q.Entry(trace_id="t1", common_dir=str(tmp_path), worktree=None, commit="b" * 40))
    (q.queue_dir() / "broken.json").write_text("{not json")
    assert [e.commit[0] for e in q.entries()] == ["a", "b"]
    assert not [p for p in q.queue_dir().iterdir() if p.name.endswith(".tmp")]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    groups = list(q.iter_groups(q.entries()))
    assert len(groups) == 1 and len(groups[0][1]) == 2


def test_one_worker_lock_at_a_time():
    first, second = q.WorkerLock(), q.WorkerLock()
    assert first.acquire()
    assert not second.acquire()
    assert q.worker_pid() == os.getpid()
    first.release()
    assert second.acquire()
    second.release()
    assert q.worker_pid() is None


def test_hand_off_does_not_import_httpx(repo, store):
    store.add_trace("t-imp", repo, edits=[repo / "a.py"])
    sha = commit_file(repo, "a.py")
    code = (
        "import sys; from traces_git.upload import handoff as upload; "
        "from traces_git.repo import RepoInfo;"
        "from traces_git.config import Config; r = RepoInfo.discover();"
        f"upload.hand_off(r, Config.load(r.worktree), {sha!r}, ['t-imp']);"
        "mods = ('httpx', 'pygit2', 'click', 'traces_git.upload.api');"
        "print(sorted(m for m in mods if m in sys.modules))"
    )
    proc = subprocess.run(
        [PYTHON, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TRACES_API_KEY": "k", "TRACES_HTTP_URL": "http://127.0.0.1:9"},
    )
    assert proc.stdout.strip() == "[]"
    wait_worker_exit()  # the worker it started (which may import httpx) has nothing to reach


# --- the worker loop in-process, with an injected transport ---------------------------


def _queue_one(repo, store, trace_id: str) -> None:
    from tests.helpers import head

    store.add_trace(trace_id, repo, messages=1)
    q.enqueue(
        q.Entry(
            trace_id=trace_id, common_dir=str(repo / ".git"), worktree=str(repo), commit=head(repo)
        )
    )


def test_a_rejected_body_holds_the_entry_until_a_forced_run(repo, store, monkeypatch):
    from traces_git.upload import worker as upload_worker

    monkeypatch.setenv("TRACES_API_KEY", "trk_k")  # an API key: the server picks the namespace
    _queue_one(repo, store, "t-400")
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(
            400, json={"ok": False, "error": {"code": "INVALID", "message": "no"}}
        )

    result = upload_worker.drain(transport=httpx.MockTransport(handler), sleep=lambda s: None)
    assert result.failed[0]["trace"] == "t-400" and "INVALID" in result.failed[0]["error"]
    (entry,) = q.entries()
    assert entry.attempts == 1 and entry.hold_until > 1e9
    upload_worker.drain(transport=httpx.MockTransport(handler), sleep=lambda s: None)
    assert len(calls) == 1  # held: a hook-started run leaves it alone
    upload_worker.drain(force=True, transport=httpx.MockTransport(handler), sleep=lambda s: None)
    assert len(calls) == 2 and q.entries()[0].attempts == 2


def test_a_long_retry_after_holds_the_entry_that_long(repo, store, monkeypatch):
    import time

    from traces_git.upload import worker as upload_worker

    monkeypatch.setenv("TRACES_API_KEY", "trk_k")  # an API key: the server picks the namespace
    _queue_one(repo, store, "t-wait")
    transport = httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": "600"}))
    result = upload_worker.drain(transport=transport, sleep=lambda s: None)
    assert "429" in result.stopped
    (entry,) = q.entries()
    assert 590 < entry.hold_until - time.time() <= 600
