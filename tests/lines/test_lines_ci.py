"""The CI side of line records: the report's agent/human/untraced split and markdown column,
and ``ci remap`` re-deriving the records of a hosted squash merge."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import TraceStore, git, head, init_repo, traces_git
from tests.helpers.ci import bare_remote, github_env, pull_request_event, shallow_checkout
from tests.helpers.lines import blame_origins
from traces_git.config import Config
from traces_git.lines import worker
from traces_git.repo import RepoInfo


def _feature(tmp_path: Path) -> dict:
    """main, then a feature branch: f1 (Claude wrote a and c, the person b2), f2 (person)."""
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    git("remote", "add", "origin", url, cwd=work)
    (work / "README").write_text("hi\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "main", cwd=work)
    base = head(work)
    git("checkout", "-q", "-b", "feature", cwd=work)
    store = TraceStore(tmp_path / "store.db")
    git("config", "traces.store", str(tmp_path / "store.db"), cwd=work)
    store.add_trace("alpha", work, agent="claude-code")
    store.add_event(
        "alpha",
        {
            "type": "tool_call",
            "callId": "c1",
            "toolName": "Write",
            "args": {"file_path": str(work / "f1.py"), "content": "a = 1\nb = 2\nc = 3\n"},
        },
    )
    (work / "f1.py").write_text("a = 1\nb = 22\nc = 3\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "f1", cwd=work)
    f1 = head(work)
    git("notes", "--ref=traces", "add", "-m", "traces:alpha", f1, cwd=work)
    (work / "f2.txt").write_text("by hand\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "f2", cwd=work)
    f2 = head(work)
    session = worker.Session(RepoInfo.discover(work), Config.load(str(work)))
    assert session.process(f1) == "written"
    session.close()
    git(
        "push",
        "-q",
        "origin",
        "main",
        "feature",
        "refs/notes/traces",
        "refs/notes/traces-lines",
        cwd=work,
    )
    return {"remote": remote, "url": url, "work": work, "base": base, "f1": f1, "f2": f2}


def test_ci_report_splits_added_lines(tmp_path: Path) -> None:
    pr = _feature(tmp_path)
    clone = shallow_checkout(tmp_path / "ci", pr["url"], pr["f2"])
    event = pull_request_event(tmp_path / "event.json", pr["base"], pr["f2"], commits=2)
    env = github_env(tmp_path, event)
    report = json.loads(traces_git("ci", "--json", cwd=clone, env=env).stdout)
    rows = {row["path"]: row for row in report["files"]}
    assert (
        rows["f1.py"]["agent_added"],
        rows["f1.py"]["human_added"],
        rows["f1.py"]["untraced_added"],
    ) == (2, 1, 0)
    assert (
        rows["f2.txt"]["agent_added"],
        rows["f2.txt"]["human_added"],
        rows["f2.txt"]["untraced_added"],
    ) == (0, 0, 1)
    markdown = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "By agents" in markdown
    assert "| f1\\.py | 3 | 3 (100%) | 2 (67%) |" in markdown  # paths escaped (issue 19)


def test_remap_after_squash_merge_rederives_the_records(tmp_path: Path) -> None:
    pr = _feature(tmp_path)
    host = tmp_path / "host"
    git("clone", "-q", pr["url"], str(host))
    git("merge", "-q", "--squash", "origin/feature", cwd=host)
    git("commit", "-q", "-m", "Feature (#1)", cwd=host)
    squash = head(host)
    git("push", "-q", "origin", "main", cwd=host)
    clone = shallow_checkout(tmp_path / "ci2", pr["url"], squash)
    event = pull_request_event(
        tmp_path / "event2.json", pr["base"], pr["f2"], commits=2, merged=True, merge_commit=squash
    )
    summary = json.loads(
        traces_git("ci", "remap", "--json", cwd=clone, env=github_env(tmp_path, event)).stdout
    )
    assert summary["lines_written"] == [squash]
    fresh = tmp_path / "fresh"
    git("clone", "-q", pr["url"], str(fresh))
    git(
        "fetch",
        "-q",
        "origin",
        "refs/notes/traces:refs/notes/traces",
        "refs/notes/traces-lines:refs/notes/traces-lines",
        cwd=fresh,
    )
    assert blame_origins(fresh, "f1.py") == [
        ("agent", "alpha", "a = 1"),
        ("human", None, "b = 22"),
        ("agent", "alpha", "c = 3"),
    ]
    assert blame_origins(fresh, "f2.txt") == [("untraced", None, "by hand")]
