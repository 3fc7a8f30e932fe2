"""``lines backfill``, ``export --format agent-trace``, ``explain``'s line section, and hostile
records on refs/notes/traces-lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import TraceStore, git, head, init_repo, note, traces_git
from tests.helpers.lines import blame_origins, call


@pytest.fixture
def traced(tmp_path: Path, store: TraceStore) -> tuple[Path, str]:
    """A commit (made without hooks) that a Claude trace partly wrote, its note added later."""
    repo = init_repo(tmp_path / "repo")
    store.add_trace("claude-b", repo, agent="claude-code")
    call(
        store,
        "claude-b",
        "Write",
        {"file_path": str(repo / "x.py"), "content": "x = 1\ny = 2\n"},
        model="claude-opus-4",
    )
    call(
        store,
        "claude-b",
        "NotebookEdit",
        {"notebook_path": str(repo / "n.ipynb"), "new_source": "print(1)"},
    )
    (repo / "x.py").write_text("x = 1\ny = 2\nz = 3\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "old work", cwd=repo)
    sha = head(repo)
    git("notes", "--ref=traces", "add", "-m", "traces:claude-b", sha, cwd=repo)
    return repo, sha


def test_backfill_is_idempotent_and_export_prints_the_records(traced) -> None:
    repo, sha = traced
    assert blame_origins(repo, "x.py")[0][0] == "traced"  # commit-level, no record yet
    first = json.loads(traces_git("lines", "backfill", "--json", cwd=repo).stdout)
    assert first["written"] == [sha] and first["already"] == 0
    again = json.loads(traces_git("lines", "backfill", "--json", cwd=repo).stdout)
    assert again["written"] == [] and again["already"] == 1
    assert [o for o, _t, _c in blame_origins(repo, "x.py")] == ["agent", "agent", "human"]
    exported = traces_git("export", "--format", "agent-trace", cwd=repo).stdout.splitlines()
    assert len(exported) == 1
    record = json.loads(exported[0])
    assert record["vcs"] == {"type": "git", "revision": sha}
    assert record["files"][0]["path"] == "x.py"
    assert record["files"][0]["conversations"][0]["ranges"] == [
        {
            "start_line": 1,
            "end_line": 2,
            "content_hash": record["files"][0]["conversations"][0]["ranges"][0]["content_hash"],
        }
    ]
    assert record["files"][0]["conversations"][1] == {
        "contributor": {"type": "human"},
        "ranges": [
            {
                "start_line": 3,
                "end_line": 3,
                "content_hash": record["files"][0]["conversations"][1]["ranges"][0]["content_hash"],
            }
        ],
    }
    text = traces_git("lines", "backfill", cwd=repo).stdout
    assert text.startswith("0 record(s) written, 0 unchanged, 1 already there")


def test_explain_shows_lines_per_trace_and_unknown_tools(traced) -> None:
    repo, sha = traced
    before = json.loads(traces_git("explain", sha, "--json", cwd=repo).stdout)["lines"]
    assert before["recorded"] is False
    traces_git("lines", "backfill", cwd=repo)
    section = json.loads(traces_git("explain", sha, "--json", cwd=repo).stdout)["lines"]
    assert section["files"] == [
        {
            "path": "x.py",
            "human": 1,
            "untraced": 0,
            "traces": [
                {
                    "id": "claude-b",
                    "lines": 2,
                    "calls": [{"tool": "Write", "call_id": "call-claude-b-2", "matched_lines": 2}],
                }
            ],
        }
    ]
    assert section["unknown_tools"] == [{"trace": "claude-b", "tool": "NotebookEdit", "calls": 1}]
    text = traces_git("explain", sha, cwd=repo).stdout
    assert "x.py: claude-b 2, human 1" in text
    assert "NotebookEdit" in text


def test_bad_range_is_one_line(traced) -> None:
    repo, _sha = traced
    proc = traces_git("export", "nope..HEAD", cwd=repo, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("traces-git: bad revision range")
    proc = traces_git("lines", "backfill", "--output=x", cwd=repo, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "hostile",
    [
        "not json at all",
        '{"version": "0.1.0", "vcs": {"type": "git", "revision": "SHA"}, "files": "nope"}',
        '{"version": "0.1.0", "vcs": {"type": "git", "revision": "SHA"}, "files": [{"path": "x.py",'
        ' "conversations": [{"contributor": {"type": "ai"}, "metadata": {"com.traces": {"trace_id":'
        ' "bad id\\u001b[31m"}}, "ranges": [{"start_line": 1, "end_line": 2}]}]}]}',
        '{"version": "0.1.0", "vcs": {"type": "git", "revision": "SHA"}, "files": [{"path": "x.py",'
        ' "conversations": [{"contributor": {"type": "human"}, "ranges": [{"start_line": -5,'
        ' "end_line": 1e308}, {"start_line": "1", "end_line": [2]}]}]}]}',
        "[" * 100_000,
        '{"version": "0.1.0", "vcs": {"type": "git", "revision": "' + "0" * 40 + '"}, "files": []}',
    ],
)
def test_hostile_records_never_break_blame(traced, hostile: str) -> None:
    repo, sha = traced
    git("notes", "--ref=traces-lines", "add", "-m", hostile.replace("SHA", sha), sha, cwd=repo)
    got = blame_origins(repo, "x.py")
    assert [o for o, _t, _c in got] in (["traced"] * 3, ["human"] * 3)
    assert all(t is None for _o, t, _c in got)
    out = traces_git("stats", "--json", "HEAD", cwd=repo).stdout
    total = json.loads(out)["total"]
    assert (
        total["agent_added"]
        + total["human_added"]
        + total["untraced_added"]
        + total["unattributed_added"]
        == total["added"]
        == 3
    )
    # and a backfill replaces it with a real record, keeping nothing stale
    traces_git("lines", "backfill", "--force", cwd=repo)
    assert [o for o, _t, _c in blame_origins(repo, "x.py")] == ["agent", "agent", "human"]
    assert note(repo, sha, ref="traces-lines").count('"revision"') >= 1


def test_record_strings_never_reach_the_terminal_raw(traced) -> None:
    repo, sha = traced
    hostile = json.dumps(
        {
            "version": "0.1.0",
            "vcs": {"type": "git", "revision": sha},
            "files": [
                {
                    "path": "x.py\x1b[2J",
                    "conversations": [
                        {
                            "contributor": {"type": "ai", "model_id": "m\x1b[31m"},
                            "url": "javascript:alert(1)",
                            "metadata": {
                                "com.traces": {"trace_id": "evil", "agent": "a\x1b]0;pwn\x07"}
                            },
                            "ranges": [{"start_line": 1, "end_line": 3}],
                        }
                    ],
                },
                {
                    "path": "x.py",
                    "conversations": [
                        {
                            "contributor": {"type": "ai"},
                            "metadata": {"com.traces": {"trace_id": "evil", "agent": "<b>x</b>"}},
                            "ranges": [{"start_line": 1, "end_line": 3}],
                        }
                    ],
                },
            ],
        }
    )
    git("notes", "--ref=traces-lines", "add", "-m", hostile, sha, cwd=repo)
    out = traces_git("blame", "x.py", "--offline", cwd=repo).stdout
    assert "\x1b" not in out and "<b>" not in out and "javascript" not in out
    report = json.loads(traces_git("blame", "x.py", "--json", "--offline", cwd=repo).stdout)
    assert [line["trace"] for line in report["lines"]] == ["evil"] * 3
    evil = [t for t in report["traces"] if t["id"] == "evil"][0]
    assert evil["agent"] is None and evil["url"] is None
    text = traces_git("explain", sha, cwd=repo).stdout
    assert "\x1b" not in text and "x.py?[2J" in text
