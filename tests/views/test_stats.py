"""``traces-git stats`` and the per-file table of ``traces-git ci`` on a hand-counted pull request.

The pull request (4 commits on ``feature``, 2 with traces, 3 files), counted by hand
from each commit's diff:

    commit          a.txt      b.txt      c.txt        traces
    c1 agent        +3 -1                 +4 -0 (new)  alpha (claude-code)
    c2 human                   +2 -2
    c3 agent        +2 -0      +0 -3                   beta (codex)
    c4 human                              +1 -1

    file    added  traced  removed  traced
    a.txt       5       5        1       1
    b.txt       2       0        5       3
    c.txt       5       4        1       0
    total      12       9        7       4

    per agent: claude-code 1 commit +7 -1; codex 1 commit +2 -3
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, init_repo, traces_git
from tests.helpers.ci import bare_remote, shallow_checkout

A = [f"a{i}" for i in range(1, 11)]
B = [f"b{i}" for i in range(1, 6)]


def _text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _lines(added, traced_added):
    """No commit here has a line-level record: traced lines are unattributed."""
    return {
        "agent_added": 0,
        "human_added": 0,
        "untraced_added": added - traced_added,
        "unattributed_added": traced_added,
    }


def _row(path, added, removed, traced_added, traced_removed, traces):
    return {
        "path": path,
        "added": added,
        "removed": removed,
        "traced_added": traced_added,
        "traced_removed": traced_removed,
        **_lines(added, traced_added),
        "binary": False,
        "traces": traces,
    }


EXPECTED_FILES = [
    _row("a.txt", 5, 1, 5, 1, ["alpha", "beta"]),
    _row("b.txt", 2, 5, 0, 3, ["beta"]),
    _row("c.txt", 5, 1, 4, 0, ["alpha"]),
]
EXPECTED_TOTAL = {
    "added": 12,
    "removed": 7,
    "traced_added": 9,
    "traced_removed": 4,
    **_lines(12, 9),
}


@pytest.fixture
def pr(tmp_path: Path, store) -> dict:
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    git("remote", "add", "origin", url, cwd=work)
    (work / "a.txt").write_text(_text(A))
    git("add", "a.txt", cwd=work)
    base = commit_file(work, "b.txt", _text(B), "base")
    git("push", "-q", "-u", "origin", "main", cwd=work)
    git("checkout", "-q", "-b", "feature", cwd=work)

    a1 = A[:1] + ["A2 by the agent"] + A[2:5] + ["new 1", "new 2"] + A[5:]
    (work / "a.txt").write_text(_text(a1))
    git("add", "a.txt", cwd=work)
    c1 = commit_file(work, "c.txt", _text(["c1", "c2", "c3", "c4"]), "c1: agent")
    git(
        "notes",
        "--ref=traces",
        "add",
        "-m",
        "traces:alpha https://www.traces.com/s/alpha",
        c1,
        cwd=work,
    )
    c2 = commit_file(work, "b.txt", _text(["B1", "B2"] + B[2:]), "c2: human")
    (work / "a.txt").write_text(_text(a1 + ["tail 1", "tail 2"]))
    git("add", "a.txt", cwd=work)
    c3 = commit_file(work, "b.txt", _text(["B1", "B2"]), "c3: agent")
    git("notes", "--ref=traces", "add", "-m", "traces:beta", c3, cwd=work)
    c4 = commit_file(work, "c.txt", _text(["C1", "c2", "c3", "c4"]), "c4: human")
    git("push", "-q", "origin", "feature", "refs/notes/traces", cwd=work)
    store.add_trace("alpha", work, agent="claude-code", title="Parser")
    store.add_trace("beta", work, agent="codex", title="Cleanup")
    # The diffs really are the hand-counted ones.
    numstat = git("log", "--numstat", "--format=%s", "main..feature", cwd=work).stdout
    assert "3\t1\ta.txt" in numstat and "4\t0\tc.txt" in numstat and "0\t3\tb.txt" in numstat
    return {"tmp": tmp_path, "work": work, "url": url, "base": base, "c": [c1, c2, c3, c4]}


def test_stats_matches_the_hand_count(pr: dict) -> None:
    c1, c2, c3, c4 = pr["c"]
    proc = traces_git("stats", "--json", cwd=pr["work"])  # default: feature against origin/main
    assert proc.stderr == ""
    report = json.loads(proc.stdout)
    assert report["range"] == "origin/main..HEAD"
    assert (report["commits"], report["commits_with_traces"]) == (4, 2)
    assert report["files"] == EXPECTED_FILES
    assert report["total"] == EXPECTED_TOTAL
    assert report["changes"] == [
        {"sha": c1, "added": 7, "removed": 1, "traces": ["alpha"]},
        {"sha": c2, "added": 2, "removed": 2, "traces": []},
        {"sha": c3, "added": 2, "removed": 3, "traces": ["beta"]},
        {"sha": c4, "added": 1, "removed": 1, "traces": []},
    ]
    assert report["agents"] == [
        {"agent": "claude-code", "commits": 1, "added": 7, "removed": 1, "traces": ["alpha"]},
        {"agent": "codex", "commits": 1, "added": 2, "removed": 3, "traces": ["beta"]},
    ]
    text = traces_git("stats", f"{pr['base']}..feature", cwd=pr["work"]).stdout
    assert "4 commits, 2 with traces" in text
    assert [line.split() for line in text.splitlines() if line.startswith(("a.txt", "total"))] == [
        ["a.txt", "5", "5", "(100%)", "1", "1", "(100%)"],
        ["total", "12", "9", "(75%)", "7", "4", "(57%)"],
    ]
    assert "claude-code: 1 commit, +7 -1 (alpha)" in text


def test_ci_table_agrees_with_stats(pr: dict) -> None:
    c4 = pr["c"][3]
    stats = json.loads(traces_git("stats", "--json", cwd=pr["work"]).stdout)
    clone = shallow_checkout(pr["tmp"] / "ci", pr["url"], c4)
    ci = json.loads(
        traces_git("ci", "--json", "--base", pr["base"], "--head", c4, cwd=clone).stdout
    )
    assert ci["files"] == stats["files"] == EXPECTED_FILES
    markdown = traces_git("ci", "--base", pr["base"], "--head", c4, cwd=clone).stdout
    assert (
        "| a\\.txt | 5 | 5 (100%) | 1 | [`alpha`](<https://www.traces.com/s/alpha>), `beta` |"
        in markdown
    )
    assert "| b\\.txt | 2 | 0 (0%) | 5 | `beta` |" in markdown
    assert "| c\\.txt | 5 | 4 (80%) | 1 | [`alpha`](<https://www.traces.com/s/alpha>) |" in markdown


def test_stats_without_upstream_counts_the_whole_branch_and_says_so(tmp_path: Path) -> None:
    work = init_repo(tmp_path / "alone")
    one = commit_file(work, "x.txt", "x\n", "one")
    git("notes", "--ref=traces", "add", "-m", "traces:solo", one, cwd=work)
    commit_file(work, "x.txt", "x\ny\n", "two")
    proc = traces_git("stats", cwd=work)
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[0] == (
        "HEAD: 2 commits, 1 with traces (the whole branch, as git log shows it: no upstream "
        "and no default branch to compare with)"
    )
    report = json.loads(traces_git("stats", "--json", cwd=work).stdout)
    assert (report["range"], report["commits"], report["truncated"]) == ("HEAD", 2, False)
    assert report["range_reason"].startswith("the whole branch")
    # What git log shows on that branch, commit for commit.
    assert [c["sha"] for c in report["changes"]][::-1] == git(
        "log", "--format=%H", cwd=work
    ).stdout.split()
    bad = traces_git("stats", "nope..HEAD", cwd=work, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nope" in bad.stderr
    empty = json.loads(traces_git("stats", "--json", "HEAD..HEAD", cwd=work).stdout)
    assert (empty["commits"], empty["files"], empty["agents"]) == (0, [], [])


def test_merge_commits_are_not_counted(tmp_path: Path) -> None:
    work = init_repo(tmp_path / "merges")
    base = commit_file(work, "a.txt", "a\n", "base")
    git("checkout", "-q", "-b", "feature", cwd=work)
    f1 = commit_file(work, "f.txt", "one\ntwo\n", "feature")
    git("notes", "--ref=traces", "add", "-m", "traces:alpha", f1, cwd=work)
    git("checkout", "-q", "main", cwd=work)
    commit_file(work, "m.txt", "m1\nm2\nm3\n", "main moves on")
    git("checkout", "-q", "feature", cwd=work)
    git("merge", "-q", "--no-edit", "main", cwd=work)  # brings m.txt's 3 lines in again

    report = json.loads(traces_git("stats", "--json", f"{base}..feature", cwd=work).stdout)
    # The merge itself adds nothing; m.txt counts once, from the commit that wrote it.
    assert report["commits"] == 2
    assert [(r["path"], r["added"], r["traced_added"]) for r in report["files"]] == [
        ("f.txt", 2, 2),
        ("m.txt", 3, 0),
    ]
    assert report["total"] == {
        "added": 5,
        "removed": 0,
        "traced_added": 2,
        "traced_removed": 0,
        **_lines(5, 2),
    }
