"""Agent session files as the agents write them under HOME, for the official CLI to index.

Claude Code 2.0 (``~/.claude/projects/<encoded cwd>/<session id>.jsonl`` plus
``~/.claude/history.jsonl``), Codex 0.66 (``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``
with ``session_meta`` and an ``apply_patch`` custom tool call) and OpenCode's storage JSON
(``$XDG_DATA_HOME/opencode/storage/{project,session,message,part}``). Each writer returns
the trace ID the official CLI gives the session.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(ms % 1000):03d}Z"
    )


def _home() -> Path:
    return Path(os.environ["HOME"])


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or _home() / ".local" / "share")


def _append_lines(path: Path, records: list[dict], mtime_ms: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    if mtime_ms is not None:  # never in the future: the agent wrote it by now
        when = min(mtime_ms / 1000, time.time())
        os.utime(path, (when, when))


def claude_project_dir(cwd: str | os.PathLike[str]) -> Path:
    encoded = re.sub(r"[^A-Za-z0-9]", "-", str(cwd))
    return _home() / ".claude" / "projects" / encoded


def claude_session(
    cwd: str | os.PathLike[str],
    tool_calls: list[tuple[str, dict]],
    *,
    prompt: str = "please change the code",
    start_ms: float | None = None,
    session_id: str | None = None,
) -> str:
    """A Claude Code session in ``cwd`` making ``tool_calls`` ((name, input) pairs)."""
    cwd = str(cwd)
    session_id = session_id or str(uuid.uuid4())
    now = start_ms if start_ms is not None else time.time() * 1000 - 5000
    common = {
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session_id,
        "version": "2.0.30",
        "gitBranch": "main",
    }
    records: list[dict] = []
    parent = None

    def add(kind: str, message: dict, at: float, **extra) -> None:
        nonlocal parent
        record_id = str(uuid.uuid4())
        records.append(
            {
                "parentUuid": parent,
                **common,
                "type": kind,
                "message": message,
                "uuid": record_id,
                "timestamp": _iso(at),
                **extra,
            }
        )
        parent = record_id

    add("user", {"role": "user", "content": prompt}, now)
    at = now
    for name, args in tool_calls:
        at += 100
        call_id = "toolu_" + uuid.uuid4().hex[:24]
        add(
            "assistant",
            {
                "model": "claude-sonnet-4-5-20250929",
                "id": "msg_" + uuid.uuid4().hex[:24],
                "type": "message",
                "role": "assistant",
                "content": [{"type": "tool_use", "id": call_id, "name": name, "input": args}],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
            at,
            requestId="req_" + uuid.uuid4().hex[:24],
        )
        at += 20
        add(
            "user",
            {
                "role": "user",
                "content": [{"tool_use_id": call_id, "type": "tool_result", "content": "ok"}],
            },
            at,
        )
    at += 50
    add(
        "assistant",
        {
            "model": "claude-sonnet-4-5-20250929",
            "id": "msg_" + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "Done."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 2},
        },
        at,
        requestId="req_" + uuid.uuid4().hex[:24],
    )
    path = claude_project_dir(cwd) / f"{session_id}.jsonl"
    _append_lines(path, records, at)
    _append_lines(
        _home() / ".claude" / "history.jsonl",
        [
            {
                "display": prompt,
                "pastedContents": {},
                "timestamp": int(now),
                "project": cwd,
                "sessionId": session_id,
            }
        ],
    )
    return session_id


def codex_session(
    cwd: str | os.PathLike[str],
    patch: str,
    *,
    prompt: str = "please patch the code",
    start_ms: float | None = None,
    edit_after_ms: float = 17000,
    thread_id: str | None = None,
    commands: list[str] = (),
) -> str:
    """A Codex rollout in ``cwd`` with one ``apply_patch`` custom tool call carrying
    ``patch``, ``edit_after_ms`` after the session's start (its ``session_meta``)."""
    cwd = str(cwd)
    thread_id = thread_id or str(uuid.uuid4())
    start = start_ms if start_ms is not None else time.time() * 1000 - 30000
    start_iso = _iso(start)
    day = datetime.fromtimestamp(start / 1000, tz=UTC)
    stamp = day.strftime("%Y-%m-%dT%H-%M-%S")
    path = (
        _home()
        / ".codex"
        / "sessions"
        / day.strftime("%Y")
        / day.strftime("%m")
        / day.strftime("%d")
        / f"rollout-{stamp}-{thread_id}.jsonl"
    )
    at = start + 1000

    def line(kind: str, payload: dict, when: float) -> dict:
        return {"timestamp": _iso(when), "type": kind, "payload": payload}

    records = [
        line(
            "session_meta",
            {
                "id": thread_id,
                "timestamp": start_iso,
                "cwd": cwd,
                "originator": "codex_cli_rs",
                "cli_version": "0.66.0",
                "instructions": None,
                "source": "cli",
                "model_provider": "openai",
            },
            start,
        ),
        line(
            "turn_context",
            {
                "cwd": cwd,
                "approval_policy": "on-request",
                "sandbox_policy": {"mode": "workspace-write"},
                "model": "gpt-5-codex",
                "effort": "medium",
                "summary": "auto",
            },
            at,
        ),
        line(
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": prompt}],
            },
            at,
        ),
        line("event_msg", {"type": "user_message", "message": prompt, "images": []}, at),
    ]
    for number, command in enumerate(commands):
        call_id = f"call_sh{number}"
        records.append(
            line(
                "response_item",
                {
                    "type": "function_call",
                    "name": "shell",
                    "arguments": json.dumps({"command": ["bash", "-lc", command], "workdir": cwd}),
                    "call_id": call_id,
                },
                at + 100,
            )
        )
        records.append(
            line(
                "response_item",
                {
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": json.dumps({"output": "", "metadata": {"exit_code": 0}}),
                },
                at + 200,
            )
        )
    edit = start + edit_after_ms
    records += [
        line(
            "response_item",
            {
                "type": "custom_tool_call",
                "status": "completed",
                "call_id": "call_patch1",
                "name": "apply_patch",
                "input": patch,
            },
            edit,
        ),
        line(
            "response_item",
            {
                "type": "custom_tool_call_output",
                "call_id": "call_patch1",
                "output": json.dumps(
                    {"output": "Success.", "metadata": {"exit_code": 0, "duration_seconds": 0.0}}
                ),
            },
            edit + 50,
        ),
        line(
            "response_item",
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Patched."}],
            },
            edit + 500,
        ),
    ]
    _append_lines(path, records, edit + 500)
    return thread_id


def opencode_session(
    cwd: str | os.PathLike[str],
    tool_calls: list[tuple[str, dict]],
    *,
    prompt: str = "please look at the code",
    start_ms: float | None = None,
) -> str:
    """An OpenCode session (storage JSON files) in ``cwd`` making ``tool_calls``."""
    cwd = str(cwd)
    storage = _data_home() / "opencode" / "storage"
    start = int(start_ms if start_ms is not None else time.time() * 1000 - 8000)
    project_id = uuid.uuid5(uuid.NAMESPACE_URL, cwd).hex + uuid.uuid4().hex[:8]
    session_id = "ses_" + uuid.uuid4().hex[:26]

    def write(path: Path, data: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))

    write(
        storage / "project" / f"{project_id}.json",
        {"id": project_id, "worktree": cwd, "vcs": "git", "time": {"created": start}},
    )
    end = start + 100 * (len(tool_calls) + 2)
    write(
        storage / "session" / project_id / f"{session_id}.json",
        {
            "id": session_id,
            "version": "1.0.20",
            "projectID": project_id,
            "directory": cwd,
            "title": prompt,
            "time": {"created": start, "updated": end},
        },
    )
    user_id = "msg_" + uuid.uuid4().hex[:26]
    write(
        storage / "message" / session_id / f"{user_id}.json",
        {"id": user_id, "sessionID": session_id, "role": "user", "time": {"created": start}},
    )
    write(
        storage / "part" / user_id / f"prt_{uuid.uuid4().hex[:26]}.json",
        {
            "id": "prt_" + uuid.uuid4().hex[:26],
            "sessionID": session_id,
            "messageID": user_id,
            "type": "text",
            "text": prompt,
        },
    )
    reply_id = "msg_" + uuid.uuid4().hex[:26]
    write(
        storage / "message" / session_id / f"{reply_id}.json",
        {
            "id": reply_id,
            "sessionID": session_id,
            "role": "assistant",
            "time": {"created": start + 500, "completed": end},
            "modelID": "claude-sonnet-4-5",
            "providerID": "anthropic",
            "mode": "build",
            "path": {"cwd": cwd, "root": cwd},
            "cost": 0,
            "tokens": {"input": 10, "output": 5, "reasoning": 0, "cache": {"read": 0, "write": 0}},
        },
    )
    at = start + 100
    for number, (name, args) in enumerate(tool_calls):
        part_id = f"prt_{number:04d}{uuid.uuid4().hex[:22]}"
        write(
            storage / "part" / reply_id / f"{part_id}.json",
            {
                "id": part_id,
                "sessionID": session_id,
                "messageID": reply_id,
                "type": "tool",
                "callID": f"call_{number}",
                "tool": name,
                "state": {
                    "status": "completed",
                    "input": args,
                    "output": "ok",
                    "title": name,
                    "metadata": {},
                    "time": {"start": at, "end": at + 10},
                },
            },
        )
        at += 100
    part_id = f"prt_{len(tool_calls):04d}{uuid.uuid4().hex[:22]}"
    write(
        storage / "part" / reply_id / f"{part_id}.json",
        {
            "id": part_id,
            "sessionID": session_id,
            "messageID": reply_id,
            "type": "text",
            "text": "Looked.",
            "time": {"start": at, "end": at},
        },
    )
    return session_id
