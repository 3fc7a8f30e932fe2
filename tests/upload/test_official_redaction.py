"""traces-git redacts at least what the official Traces CLI 0.6.31 redacts.

The same seeded session is published twice against one local contract server:
once by the official ``traces share --trace-id ID --json`` (reading the Claude
Code session file, with a stored ``traces login``), once by traces-git's hook
and worker (reading the store, with that same login). Every word of the session
that the official CLI did not send in clear must not be sent in clear by
traces-git either.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import commit_file
from tests.helpers.safety import DOTENV_ONLY, secret_text, write_official_login
from tests.helpers.upload import serve, wait_worker_done


def _official_cli() -> str | None:
    tools = os.environ.get("TRACES_GIT_TEST_TOOLS")
    if not tools:
        return None
    for rel in ("node_modules/.bin/traces", "node_modules/@traces-sh/traces-linux-x64/bin/traces"):
        path = Path(tools) / rel
        if os.access(path, os.X_OK):
            return str(path)
    return None


CLI = _official_cli()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CLI is None, reason="the official traces CLI is not installed"),
]


@pytest.fixture
def api(monkeypatch):
    yield from serve(monkeypatch)


def _session(repo: Path) -> list[tuple[str, dict]]:
    """(kind, fields) of the session, in order: the source of both the JSONL and the store."""
    return [
        ("user", {"text": secret_text("user")}),
        ("thinking", {"text": secret_text("thinking")}),
        ("text", {"text": secret_text("agent")}),
        ("call", {"id": "toolu_bash", "name": "Bash", "input": {"command": secret_text("args")}}),
        ("result", {"id": "toolu_bash", "name": "Bash", "output": secret_text("output")}),
        ("call", {"id": "toolu_env", "name": "Read", "input": {"file_path": str(repo / ".env")}}),
        (
            "result",
            {"id": "toolu_env", "name": "Read", "output": DOTENV_ONLY + "\n" + secret_text("env")},
        ),
        (
            "call",
            {
                "id": "toolu_write",
                "name": "Write",
                "input": {"file_path": str(repo / "app.py"), "content": "print('hi')\n"},
            },
        ),
        ("result", {"id": "toolu_write", "name": "Write", "output": "File written"}),
    ]


def _claude_jsonl(path: Path, trace_id: str, repo: Path) -> None:
    lines = []
    for i, (kind, item) in enumerate(_session(repo)):
        stamp = f"2026-12-01T10:00:{i:02d}.000Z"
        base = {"uuid": f"u{i}", "timestamp": stamp, "sessionId": trace_id, "cwd": str(repo)}
        if kind == "user":
            lines.append(
                {**base, "type": "user", "message": {"role": "user", "content": item["text"]}}
            )
            continue
        if kind == "result":
            content = [
                {"type": "tool_result", "tool_use_id": item["id"], "content": item["output"]}
            ]
            lines.append({**base, "type": "user", "message": {"role": "user", "content": content}})
            continue
        block = {
            "thinking": {"type": "thinking", "thinking": item.get("text")},
            "text": {"type": "text", "text": item.get("text")},
            "call": {
                "type": "tool_use",
                "id": item.get("id"),
                "name": item.get("name"),
                "input": item.get("input"),
            },
        }[kind]
        message = {
            "id": f"m{i}",
            "role": "assistant",
            "model": "claude-sonnet-4",
            "content": [block],
        }
        lines.append({**base, "type": "assistant", "message": message})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _store_events(store, trace_id: str, repo: Path) -> None:
    for kind, item in _session(repo):
        if kind == "user":
            event = {"type": "user_message", "content": item["text"]}
        elif kind == "thinking":
            event = {"type": "agent_thinking", "content": item["text"]}
        elif kind == "text":
            event = {"type": "agent_text", "content": item["text"], "modelId": "claude-sonnet-4"}
        elif kind == "call":
            event = {
                "type": "tool_call",
                "callId": item["id"],
                "toolName": item["name"],
                "args": item["input"],
            }
        else:
            event = {
                "type": "tool_result",
                "callId": item["id"],
                "toolName": item["name"],
                "output": item["output"],
                "status": "success",
            }
        store.add_event(trace_id, event)


TITLE = "compare redaction of sk-ant-api03-TitleSecretTitleSecret00 in the title"


def _words(repo: Path) -> set[str]:
    text = json.dumps([TITLE] + [item for _, item in _session(repo)])
    text = json.loads(text)  # the strings as written
    found: set[str] = set()

    def walk(value):
        if isinstance(value, str):
            found.update(w for w in re.split(r"\s+", value) if len(w) >= 8)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(text)
    return found


def test_nothing_the_official_cli_redacts_is_sent_in_clear(repo, store, api, monkeypatch, tmp_path):
    monkeypatch.delenv("TRACES_API_KEY")
    api.token = "device-key-of-the-official-login"
    write_official_login(api.url, api.token)
    trace_id = "t-compare"
    session_file = tmp_path / "session.jsonl"
    _claude_jsonl(session_file, trace_id, repo)
    store.add_trace(trace_id, repo, messages=0, title=TITLE)
    _store_events(store, trace_id, repo)
    with store.connect() as db:
        db.execute("UPDATE traces SET source_path = ? WHERE id = ?", (str(session_file), trace_id))

    proc = subprocess.run(
        [CLI, "share", "--trace-id", trace_id, "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["ok"] is True
    official = api.raw_bytes().decode("utf-8")
    assert api.of("POST", "/messages/batch"), "the official CLI sent no messages"
    api.requests.clear()
    api.traces.clear()

    commit_file(repo, "app.py", "print('hi')\n")
    wait_worker_done()
    ours = api.raw_bytes().decode("utf-8")
    assert api.of("POST", "/messages/batch"), "traces-git sent no messages"

    words = _words(repo)
    redacted_by_official = {w for w in words if w not in official}
    assert len(redacted_by_official) >= 25, sorted(redacted_by_official)  # it did redact
    leaked = sorted(w for w in redacted_by_official if w in ours)
    assert not leaked, leaked
    # and both sent the ordinary text
    for marker in ("keep-user-aws-before", "keep-agent-jwt-after", "keep-output-email-before"):
        assert marker in official and marker in ours
    # Beyond the official CLI: 0.6.31 sends the trace's title as it is; traces-git redacts it.
    title_secret = "sk-ant-api03-TitleSecretTitleSecret00"
    assert title_secret in official and title_secret not in ours
