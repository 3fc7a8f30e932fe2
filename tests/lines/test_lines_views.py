"""The terminal views of line records (blame's marker column, stats' columns) and the
extraction of written text from hostile tool-call args."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import TraceStore, git, head, init_repo, traces_git
from tests.helpers.lines import call
from traces_git.lines import derive, tools


@pytest.fixture
def recorded(tmp_path: Path, store: TraceStore) -> Path:
    repo = init_repo(tmp_path / "repo")
    (repo / "base.txt").write_text("base\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "base", cwd=repo)
    store.add_trace("alpha", repo, agent="claude-code")
    call(store, "alpha", "Write", {"file_path": str(repo / "m.py"), "content": "a = 1\nb = 2\n"})
    (repo / "m.py").write_text("a = 1\nb = 3\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "work", cwd=repo)
    git("notes", "--ref=traces", "add", "-m", "traces:alpha", head(repo), cwd=repo)
    traces_git("lines", "backfill", cwd=repo)
    return repo


def test_blame_terminal_has_a_marker_column(recorded: Path) -> None:
    out = traces_git("blame", "m.py", "--offline", cwd=recorded).stdout.splitlines()
    assert out[0].startswith("A ") and "alpha (claude-code)" in out[0] and out[0].endswith("a = 1")
    assert out[1].startswith("H ") and out[1].endswith("b = 3")
    (recorded / "m.py").write_text("a = 1\nb = 3\nc\n")
    out = traces_git("blame", "m.py", "--offline", cwd=recorded).stdout.splitlines()
    assert out[2].startswith("  00000000")
    plain = traces_git("blame", "base.txt", "--offline", cwd=recorded).stdout
    assert plain.startswith("^")  # no record among its lines: git blame's own layout


def test_stats_text_and_json(recorded: Path) -> None:
    report = json.loads(traces_git("stats", "--json", "HEAD~1..HEAD", cwd=recorded).stdout)
    assert report["files"][0]["agent_added"] == 1
    assert report["files"][0]["human_added"] == 1
    text = traces_git("stats", "HEAD~1..HEAD", cwd=recorded).stdout
    assert "by agents" in text and "by people" in text
    assert "1 (50%)" in text


@pytest.mark.parametrize(
    "args",
    [
        None,
        [],
        "just a string",
        {"file_path": 7, "content": "x"},
        {"content": "no path"},
        {"file_path": "a\0b", "content": "x"},
        {"file_path": "a.py", "content": ["x"]},
        {"file_path": "a.py", "edits": "nope"},
        {"file_path": "a.py", "edits": [1, None, {"x": 1}]},
    ],
)
def test_hostile_args_write_nothing(args) -> None:
    assert tools.written("Write", args) == [] or all(
        isinstance(w.lines, list) for w in tools.written("Write", args)
    )
    assert tools.written("MultiEdit", args) == []


def test_paths_outside_the_worktree_are_ignored(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    assert tools.resolve("../../etc/passwd", [str(work)], str(work)) is None
    assert tools.resolve("/etc/passwd", [str(work)], str(work)) is None
    assert tools.resolve(str(work / "x" / "y.py"), [None], str(work)) == "x/y.py"
    assert tools.resolve("x/y.py", [str(work)], str(work)) == "x/y.py"


def test_patch_parsing_and_names() -> None:
    body = (
        "*** Begin Patch\n*** Update File: a.py\n*** Move to: b.py\n@@\n-old\n+new\n"
        "*** Delete File: c.py\n*** Add File: d.py\n+d1\n*** End Patch"
    )
    got = [(w.path, w.lines) for w in tools.written("apply_patch", {"raw": body})]
    assert got == [("b.py", ["new"]), ("d.py", ["d1"])]
    assert tools.normalise_name("apply_patch") == "applypatch"
    assert tools.written("Read", {"file_path": "a.py", "content": "x"}) == []


def test_rule_blocks_and_multiset() -> None:
    from collections import Counter

    added = [(1, "x = 1"), (2, ""), (3, "}"), (4, "x = 1"), (10, "}")]
    owners = derive.attribute(added, [("t", Counter({"x = 1": 1, "}": 1}))])
    # line 1 matches; 2-3 follow it; line 4 is a second "x = 1" (only one written): human;
    # line 10 is a lone run of a trivial line, matched itself
    assert owners == ["t", "t", "t", None, "t"]
    assert derive.normalise("a = 1  \r") == "a = 1"


def test_status_shows_the_line_attribution_queue(recorded: Path) -> None:
    from traces_git.lines import queue
    from traces_git.repo import RepoInfo

    info = RepoInfo.discover(recorded)
    queue.enqueue(info.common_dir, [(head(recorded), [])])  # queued, no worker started
    report = json.loads(traces_git("status", "--json", cwd=recorded).stdout)
    assert report["lines"]["summary"].startswith("1 commit job(s) queued (no worker running")
    text = traces_git("status", cwd=recorded).stdout
    assert "line attribution: 1 commit job(s) queued" in text


def test_merge_commit_record_has_only_its_own_lines(tmp_path: Path, store: TraceStore) -> None:
    repo = init_repo(tmp_path / "m")
    (repo / "f.txt").write_text("one\ntwo\nthree\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "base", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    (repo / "f.txt").write_text("one\ntwo side\nthree\n")
    git("commit", "-q", "-am", "side", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    (repo / "f.txt").write_text("one\ntwo main\nthree\n")
    (repo / "g.txt").write_text("main only\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "main", cwd=repo)
    git("merge", "-q", "side", cwd=repo, check=False)  # conflict
    store.add_trace("merger", repo, agent="claude-code")
    call(
        store,
        "merger",
        "Write",
        {"file_path": str(repo / "f.txt"), "content": "one\ntwo resolved\nthree\n"},
    )
    (repo / "f.txt").write_text("one\ntwo resolved\nthree\nby hand\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--no-edit", cwd=repo)
    git("notes", "--ref=traces", "add", "-m", "traces:merger", "HEAD", cwd=repo)
    traces_git("lines", "backfill", "HEAD^!", cwd=repo)
    record = json.loads(traces_git("export", "HEAD^!", cwd=repo).stdout)
    ranges = {
        (f["path"], c["contributor"]["type"], r["start_line"], r["end_line"])
        for f in record["files"]
        for c in f["conversations"]
        for r in c["ranges"]
    }
    assert ranges == {("f.txt", "ai", 2, 2), ("f.txt", "human", 4, 4)}


def test_codex_apply_patch_through_the_shell_tool() -> None:
    body = "*** Begin Patch\n*** Add File: s.py\n+from shell\n*** End Patch\n"
    got = tools.written("shell", {"command": ["apply_patch", body], "workdir": "/w"})
    assert [(w.path, w.lines) for w in got] == [("s.py", ["from shell"])]
    heredoc = f"apply_patch <<'EOF'\n{body}EOF\n"
    got = tools.written("shell", {"command": ["bash", "-lc", heredoc]})
    assert [(w.path, w.lines) for w in got] == [("s.py", ["from shell"])]
    assert tools.written("shell", {"command": ["cat", "notes.txt"]}) == []
    assert tools.written("shell", {"command": ["echo", body]}) == []
