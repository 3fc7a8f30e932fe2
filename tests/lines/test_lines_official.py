"""A real Claude Code session file, indexed by the real official Traces CLI 0.6.31: the
tool-call shapes it stores (native name and args) give the expected line origins."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests import helpers
from tests.helpers.lines import blame_origins, commit_all, wait_for_lines, write

CLI = helpers.tool_path("traces")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CLI is None, reason="the official traces CLI is not installed"),
]


def _claude_session(home: Path, repo: Path, session_id: str, calls: list[dict]) -> None:
    encoded = re.sub(r"[^A-Za-z0-9]", "-", str(repo))
    path = home / ".claude" / "projects" / encoded / f"{session_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    global _SESSION_END
    now = time.time()
    _SESSION_END = now + 2 * len(calls) + 1
    lines = []

    def stamp(i: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + i)) + ".000Z"

    base = {"sessionId": session_id, "cwd": str(repo), "version": "1.0.0"}
    lines.append(
        {
            **base,
            "uuid": "u0",
            "timestamp": stamp(0),
            "type": "user",
            "message": {"role": "user", "content": "write the module please"},
        }
    )
    for i, call in enumerate(calls, start=1):
        lines.append(
            {
                **base,
                "uuid": f"a{i}",
                "timestamp": stamp(2 * i),
                "type": "assistant",
                "message": {
                    "id": f"m{i}",
                    "role": "assistant",
                    "model": "claude-sonnet-4",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": f"toolu_{i}",
                            "name": call["name"],
                            "input": call["input"],
                        }
                    ],
                },
            }
        )
        lines.append(
            {
                **base,
                "uuid": f"r{i}",
                "timestamp": stamp(2 * i + 1),
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "ok"}
                    ],
                },
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    # the CLI takes the session's directory from the history (the dir name is lossy)
    history = {
        "display": "write the module please",
        "pastedContents": {},
        "timestamp": int(now * 1000),
        "project": str(repo),
        "sessionId": session_id,
    }
    (home / ".claude" / "history.jsonl").write_text(json.dumps(history) + "\n")


_SESSION_END = 0.0


def _official(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TRACES_HTTP_URL": "http://127.0.0.1:9"},
    )


def test_claude_session_indexed_by_the_official_cli(repo: Path, isolated: Path) -> None:
    session_id = str(uuid.uuid4())
    app = repo / "app.py"
    _claude_session(
        isolated,
        repo,
        session_id,
        [
            {
                "name": "Write",
                "input": {
                    "file_path": str(app),
                    "content": "import os\n\ndef main():\n    return 1\n",
                },
            },
            {
                "name": "Edit",
                "input": {
                    "file_path": str(app),
                    "old_string": "    return 1",
                    "new_string": "    print(os.getcwd())\n    return 2",
                    "replace_all": False,
                },
            },
            {
                "name": "MultiEdit",
                "input": {
                    "file_path": str(app),
                    "edits": [{"old_string": "import os", "new_string": "import os\nimport sys"}],
                },
            },
        ],
    )
    listed = _official("list", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert session_id in listed.stdout
    shown = _official("show", session_id, "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    write(
        repo,
        "app.py",
        "import os\nimport sys\n\ndef main():\n    print(os.getcwd())\n    return 3\n\nmain()\n",
    )
    # The commit comes after the session's last event (stamped up to 7 s ahead of now),
    # as it does in real life; a fast machine would otherwise commit "before" the edits.
    time.sleep(max(0.0, _SESSION_END - time.time() + 1))
    commit_all(repo, "agent and person")
    assert helpers.note_ids(repo) == [session_id]
    wait_for_lines(repo)
    assert blame_origins(repo, "app.py") == [
        ("agent", session_id, "import os"),
        ("agent", session_id, "import sys"),
        ("agent", session_id, ""),
        ("agent", session_id, "def main():"),
        ("agent", session_id, "    print(os.getcwd())"),
        ("human", None, "    return 3"),
        ("human", None, ""),
        ("human", None, "main()"),
    ]
