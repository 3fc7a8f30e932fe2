"""``upload --dry-run`` without a share destination still shows the exact redacted payload,
and says it would not be sent and why; nothing reaches the server."""

from __future__ import annotations

import json

import pytest

from tests.helpers import commit_file, git, traces_git
from tests.helpers.safety import literals, seed
from tests.helpers.upload import serve


@pytest.fixture
def api(monkeypatch):
    yield from serve(monkeypatch)


def test_dry_run_without_destination_shows_the_redacted_payload(repo, store, api, monkeypatch):
    monkeypatch.setenv("TRACES_GIT", "0")  # commit without hooks: nothing uploads
    commit_file(repo, "app.py")
    monkeypatch.delenv("TRACES_GIT")
    monkeypatch.delenv("TRACES_API_KEY")  # no login at all: no destination
    seed(store, "t-nowhere", repo)
    git("notes", "--ref=traces", "add", "-m", "traces:t-nowhere", cwd=repo)

    plan = json.loads(traces_git("upload", "--dry-run", "--json", "t-nowhere", cwd=repo).stdout)
    assert not api.requests
    assert plan["action"] == "hold" and plan["reason"]
    paths = [request["path"] for request in plan["requests"]]
    assert paths[0] == "/v1/traces/t-nowhere" and "/v1/traces/t-nowhere/messages/batch" in paths
    raw = json.dumps(plan)
    assert "[REDACTED]" in raw
    assert not [literal for literal in literals() if literal in raw]
    assert "targetNamespaceId" not in plan["requests"][0]["body"]

    text = traces_git("upload", "--dry-run", "t-nowhere", cwd=repo).stdout
    assert text.startswith(
        f"t-nowhere would not be sent: {plan['reason']}\n"
        "with a destination, these requests would be sent (redacted):\n"
        "PUT /v1/traces/t-nowhere\n"
    )
    assert not [literal for literal in literals() if literal in text]
    assert not api.requests
