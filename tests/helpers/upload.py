"""Fixtures and helpers for the upload tests: the local API server, waiting for the worker."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import PYTHON, traces_git
from tests.helpers.api_server import ApiServer

TOKEN = "trk_test_secret_token_4242"


def serve(monkeypatch: pytest.MonkeyPatch):
    """Body of the ``api`` fixture each upload test module declares: a running contract
    server, with the environment pointing traces-git at it with a valid key."""
    server = ApiServer(token=TOKEN).start()
    monkeypatch.setenv("TRACES_HTTP_URL", server.url)
    monkeypatch.setenv("TRACES_URL", "https://web.example")
    monkeypatch.setenv("TRACES_API_KEY", TOKEN)
    yield server
    server.stop()
    # A worker the test started must not outlive it (it would write into the next test's dirs).
    pid = worker_pid()
    if pid:
        wait_worker_exit()


def state_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "traces-git"


def upload_dir() -> Path:
    return state_dir() / "upload"


def queue_files() -> list[Path]:
    qdir = upload_dir() / "queue"
    return (
        sorted(p for p in qdir.glob("*.json") if not p.name.startswith("."))
        if qdir.is_dir()
        else []
    )


def status() -> dict:
    path = upload_dir() / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def worker_pid() -> int | None:
    try:
        raw = (upload_dir() / "worker.lock").read_text().strip()
    except OSError:
        return None
    if not raw.isdigit():
        return None
    try:
        os.kill(int(raw), 0)
    except ProcessLookupError:
        return None
    return int(raw)


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_worker_done(timeout: float = 30.0) -> None:
    """Wait until the queue is empty and no worker holds the lock."""
    wait_until(
        lambda: not queue_files() and worker_pid() is None, timeout, "the upload worker to finish"
    )


def wait_worker_exit(timeout: float = 30.0) -> None:
    wait_until(lambda: worker_pid() is None, timeout, "the upload worker to exit")


def log_text() -> str:
    path = state_dir() / "traces-git.log"
    return path.read_text() if path.exists() else ""


def status_section(cwd) -> dict:
    """``upload.status_section`` as a fresh process sees it (what `traces-git status` shows)."""
    code = (
        "import json; from traces_git.upload import handoff as upload; "
        "from traces_git.repo import RepoInfo;"
        "from traces_git.config import Config; r = RepoInfo.discover();"
        "print(json.dumps(upload.status_section(r, Config.load(r.worktree))))"
    )
    import subprocess

    proc = subprocess.run([PYTHON, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def upload_now(cwd, *args: str, check: bool = True):
    return traces_git("upload", "--now", *args, cwd=cwd, check=check)


def all_files_text(*roots: Path) -> str:
    chunks = []
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file():
                chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)
