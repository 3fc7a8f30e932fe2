"""``traces.uploader = traces-cli``: the worker runs the official ``traces share`` instead."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, note, tool_path
from tests.helpers.upload import (
    queue_files,
    serve,
    status,
    status_section,
    wait_until,
    wait_worker_done,
    wait_worker_exit,
)

STUB = """#!/bin/sh
# A stand-in for the official Traces CLI: records its arguments, answers like `traces share --json`.
printf '%s\\n' "$PWD" "$@" > "{record}"
echo "some progress text"
echo '{{"ok":true,"data":{{"traceId":"'"$3"'","sharedUrl":"https://www.traces.com/s/cli-'"$3"'","visibility":"private"}}}}'
"""


@pytest.fixture
def api(monkeypatch):
    yield from serve(monkeypatch)


def _stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "stub-bin"
    bindir.mkdir()
    record = tmp_path / "traces-args.txt"
    script = bindir / "traces"
    script.write_text(STUB.format(record=record))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return record


def test_delegation_runs_traces_share_and_writes_its_url(repo, store, tmp_path, monkeypatch):
    record = _stub(tmp_path, monkeypatch)
    git("config", "traces.uploader", "traces-cli", cwd=repo)
    git("config", "traces.visibility", "private", cwd=repo)
    store.add_trace("t-cli", repo, edits=[repo / "a.py"])
    sha = commit_file(repo, "a.py")  # no API token: the official CLI has its own login
    wait_worker_done()
    lines = record.read_text().splitlines()
    assert lines == [str(repo), "share", "--trace-id", "t-cli", "--json", "--visibility", "private"]
    assert note(repo, sha) == "traces:t-cli https://www.traces.com/s/cli-t-cli\n"
    assert status()["last_success"]["url"] == "https://www.traces.com/s/cli-t-cli"


@pytest.mark.slow
def test_delegation_to_the_real_cli_reports_its_not_logged_in_answer(repo, store, api, monkeypatch):
    cli = tool_path("traces")
    if cli is None:
        pytest.skip("the official traces CLI is not installed (TRACES_GIT_TEST_TOOLS)")
    monkeypatch.delenv("TRACES_API_KEY")
    git("config", "traces.uploader", "traces-cli", cwd=repo)
    git("config", "traces.cliPath", cli, cwd=repo)
    store.add_trace("t-real", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    wait_until(lambda: status().get("last_error"), timeout=60, what="the CLI's answer")
    wait_worker_exit()
    # The real CLI answers {"ok": false, "error": {"code": "AUTH_REQUIRED"}} on stderr.
    assert "AUTH_REQUIRED" in status()["last_error"]["message"]
    assert len(queue_files()) == 1
    assert status_section(repo)["auth"] == "delegated to the traces CLI"
    assert not api.requests  # nothing went to the API behind the CLI's back
    assert json.loads(json.dumps(status()))  # status stays valid JSON
