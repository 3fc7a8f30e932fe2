"""Line attribution per agent format: a commit mixing agent lines, lines the person
edited after the agent, and lines the person added alone; every line's origin asserted."""

from __future__ import annotations

from pathlib import Path

from tests import helpers
from tests.lines_helpers import blame_origins, call, commit_all, session, wait_for_lines, write

A, H = "agent", "human"


def _check(repo: Path, path: str, trace: str, expected: list[tuple[str, str]]) -> dict:
    record = wait_for_lines(repo)
    got = blame_origins(repo, path)
    assert [(o, c) for o, _t, c in got] == expected
    assert all(t == (trace if o == A else None) for o, t, _c in got)
    return record


def test_claude_code_write_edit_multiedit(repo: Path, store: helpers.TraceStore) -> None:
    app = repo / "app.py"
    session(store, "claude-1", repo, "claude-code")
    call(store, "claude-1", "Write", {"file_path": str(app), "content":
         "def a():\n    return 1\n\ndef b():\n    return 2\n"}, model="claude-sonnet-4")
    call(store, "claude-1", "Edit", {"file_path": str(app), "old_string": "    return 2",
                                     "new_string": "    return 20\n    # by the agent",
                                     "replace_all": False})
    call(store, "claude-1", "MultiEdit", {"file_path": str(app), "edits": [
        {"old_string": "x", "new_string": "def c():\n    return 3"}]})
    write(repo, "app.py", "def a():\n    return 111\n\ndef b():\n    return 20\n"
          "    # by the agent\nprint('person')\ndef c():\n    return 3\n")
    commit_all(repo, "claude work")
    record = _check(repo, "app.py", "claude-1", [
        (A, "def a():"), (H, "    return 111"), (H, ""), (A, "def b():"), (A, "    return 20"),
        (A, "    # by the agent"), (H, "print('person')"), (A, "def c():"),
        (A, "    return 3")])
    assert record["version"] == "0.1.0"
    conv = record["files"][0]["conversations"][0]
    assert conv["contributor"] == {"type": "ai", "model_id": "claude-sonnet-4"}
    assert conv["metadata"]["com.traces"]["trace_id"] == "claude-1"
    assert all(r["content_hash"].startswith("sha256:") for r in conv["ranges"])
