"""Refresh the Traces store through the official CLI, as its own post-commit hook does.

``traces list --dir <worktree> --exact-dir --json [--since <ms>]`` makes the CLI scan the
agents' session files and write the trace rows; ``traces show <id> --json`` writes one
trace's events. Both answer ``{"ok": true, "data": {...}}``. Every run has a timeout and
a clean environment; nothing here raises for the CLI's own failures: the outcome says
what happened.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config

LIST_TIMEOUT_S = 6.0
SHOW_TIMEOUT_S = 6.0
PARALLEL_SHOWS = 2  # as the official hook (two at a time)
MAX_ID = 200  # a listed ID longer than this is not one the CLI made


def find(configured: str | None = None) -> str | None:
    """``traces.cliPath`` when set (and executable), else ``traces`` on PATH (os calls only:
    the post-commit hook asks this on every full run)."""
    if configured:
        path = os.path.expanduser(configured)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", "traces")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class Listed:
    __slots__ = ("id", "agent_id", "source_path", "timestamp_ms")

    def __init__(
        self, id: str, agent_id: str | None, source_path: str | None, timestamp_ms: float | None
    ):
        self.id = id
        self.agent_id = agent_id
        self.source_path = source_path
        self.timestamp_ms = timestamp_ms


class Refresh:
    """What one refresh did: the traces listed, those whose events were read, failures."""

    def __init__(self) -> None:
        self.listed: list[Listed] = []
        self.shown: list[str] = []
        self.errors: list[str] = []
        self.seconds = 0.0

    def as_json(self) -> dict:
        return {
            "listed": [t.id for t in self.listed],
            "shown": self.shown,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        text = f"listed {len(self.listed)} trace(s), read the events of {len(self.shown)}"
        if self.errors:
            text += f"; {len(self.errors)} failed: {self.errors[0]}"
        return text


def _run(exe: str, args: list[str], cwd: str, timeout: float) -> tuple[dict | None, str]:
    """(the JSON answer when ok, else None; the problem in one line)."""
    import json
    import subprocess

    from traces_git import gitcmd

    try:
        proc = subprocess.run(
            [exe, *args],
            cwd=cwd,
            env=gitcmd.clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None, f"`traces {args[0]}` did not finish in {timeout:g} s"
    except OSError as exc:
        return None, f"cannot run {exe}: {exc.strerror or exc}"
    try:
        answer = json.loads(proc.stdout.decode("utf-8", "replace") or "null")
    except ValueError:
        answer = None
    if (
        isinstance(answer, dict)
        and answer.get("ok") is True
        and isinstance(answer.get("data"), dict)
    ):
        return answer["data"], ""
    detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    reason = detail[-1][:200] if detail else "no JSON answer"
    return None, f"`traces {args[0]}` exited {proc.returncode}: {reason}"


def list_traces(exe: str, worktree: str, since_ms: float | None, refresh: Refresh) -> None:
    args = ["list", "--dir", worktree, "--exact-dir", "--json"]
    if since_ms is not None:
        args += ["--since", str(int(since_ms))]
    data, problem = _run(exe, args, worktree, LIST_TIMEOUT_S)
    if data is None:
        refresh.errors.append(problem)
        return
    traces = data.get("traces")
    for item in traces if isinstance(traces, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        from traces_git.notes.core import is_trace_id

        if len(item["id"]) > MAX_ID or not is_trace_id(item["id"]):
            continue
        stamp = item.get("timestamp")
        refresh.listed.append(
            Listed(
                item["id"],
                item.get("agentId") if isinstance(item.get("agentId"), str) else None,
                item.get("sourcePath") if isinstance(item.get("sourcePath"), str) else None,
                float(stamp) if isinstance(stamp, (int, float)) else None,
            )
        )


def show(exe: str, trace_ids: list[str], cwd: str, refresh: Refresh) -> None:
    """``traces show ID --json`` for each, :data:`PARALLEL_SHOWS` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def one(trace_id: str) -> tuple[str, str]:
        data, problem = _run(exe, ["show", trace_id, "--json"], cwd, SHOW_TIMEOUT_S)
        return trace_id, "" if data is not None else problem

    with ThreadPoolExecutor(max_workers=PARALLEL_SHOWS) as pool:
        for trace_id, problem in pool.map(one, trace_ids):
            if problem:
                refresh.errors.append(f"{trace_id}: {problem}")
            else:
                refresh.shown.append(trace_id)


def for_late_attach(config: Config) -> str | None:
    """The official CLI when late attach may run (``traces.lateAttach``, default on)."""
    if not config.get_bool("traces.lateAttach", True):
        return None
    return find(config.get("traces.cliPath"))
