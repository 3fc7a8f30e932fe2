"""Helpers for the line-attribution tests: agent sessions in each agent's stored shape."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests import helpers

LINES = "traces-lines"


def call(
    store: helpers.TraceStore, trace_id: str, tool: str, args: dict | str, model: str | None = None
) -> None:
    """A tool_call (and its result) as the official CLI stores them: native name and args."""
    order = store._orders.get(trace_id, 0)
    call_id = f"call-{trace_id}-{order}"
    if model:
        store.add_event(trace_id, {"type": "agent_text", "content": "on it", "modelId": model})
    store.add_event(
        trace_id, {"type": "tool_call", "callId": call_id, "toolName": tool, "args": args}
    )
    store.add_event(
        trace_id,
        {
            "type": "tool_result",
            "callId": call_id,
            "toolName": tool,
            "output": "ok",
            "status": "success",
        },
    )


def session(store: helpers.TraceStore, trace_id: str, repo: Path, agent: str) -> str:
    return store.add_trace(trace_id, repo, agent=agent, messages=1)


def wait_for_lines(repo: Path, rev: str = "HEAD", timeout: float = 30.0) -> dict:
    """The record the detached worker writes for ``rev`` (parsed), waiting for it."""
    sha = helpers.head(repo, rev)
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = helpers.note(repo, sha, ref=LINES)
        if text:
            for line in text.splitlines():
                if line.startswith("{"):
                    record = json.loads(line)
                    if record["vcs"]["revision"] == sha:
                        return record
        time.sleep(0.1)
    raise AssertionError(f"no line record for {rev} after {timeout} s; worker log: {_worker_log()}")


def wait_queue_empty(repo: Path, timeout: float = 30.0) -> None:
    common = helpers.git(
        "rev-parse", "--path-format=absolute", "--git-common-dir", cwd=repo
    ).stdout.strip()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not list(Path(common, "traces-git-lines").glob("*.job")):
            return
        time.sleep(0.1)
    raise AssertionError("line jobs still queued")


def _worker_log() -> str:
    path = Path(os.environ["XDG_STATE_HOME"]) / "traces-git" / "lines-worker.log"
    return path.read_text()[-2000:] if path.exists() else "(none)"


def blame_origins(repo: Path, path: str, *args: str) -> list[tuple[str, str | None, str]]:
    report = json.loads(
        helpers.traces_git("blame", path, *args, "--json", "--offline", cwd=repo).stdout
    )
    return [(line["origin"], line["trace"], line["content"]) for line in report["lines"]]


def write(repo: Path, name: str, text: str) -> Path:
    target = repo / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def commit_all(repo: Path, message: str) -> str:
    helpers.git("add", "-A", cwd=repo)
    helpers.git("commit", "-q", "-m", message, cwd=repo)
    return helpers.head(repo)
