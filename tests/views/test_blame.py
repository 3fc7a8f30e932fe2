"""``traces-git blame`` on real repositories: traces per line through edits, moves, rebases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT, commit_file, git, head, init_repo, traces_git

URL = "https://www.traces.com/s/alpha"


def _blame(repo: Path, *args: str, env: dict | None = None) -> dict:
    proc = traces_git("blame", "--json", *args, cwd=repo, env=env)
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def _owners(report: dict) -> list[tuple[str | None, list[str]]]:
    """(commit, trace IDs) per line, in file order."""
    return [(line["commit"], line["traces"]) for line in report["lines"]]


def _note(repo: Path, sha: str, *lines: str) -> None:
    git("notes", "--ref=traces", "append", "-m", "\n".join(lines), sha, cwd=repo)


def _lines(*items: str) -> str:
    return "".join(f"{item}\n" for item in items)


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "plain repo")


def test_each_line_carries_the_traces_of_the_commit_that_last_changed_it(plain: Path) -> None:
    c1 = commit_file(plain, "src/app.py", _lines("one", "two", "three", "four", "five"), "c1")
    traces_git("attach", "alpha", c1, "--url", URL, cwd=plain)
    c2 = commit_file(plain, "src/app.py", _lines("one", "two", "THREE", "four", "five"), "c2")
    c3 = commit_file(
        plain, "src/app.py", _lines("ONE", "two", "THREE", "four", "five", "six", "seven"), "c3"
    )
    # Both lines of a de-duplicated, detached and foreign note: gamma is detached,
    # beta written twice (the URL-less line loses to the one with a URL).
    _note(
        plain,
        c3,
        "traces:beta",
        "traces:gamma",
        "otherbot:x",
        "traces-detach:gamma",
        "traces:beta https://www.traces.com/s/beta",
    )

    report = _blame(plain, "src/app.py")

    assert _owners(report) == [
        (c3, ["beta"]),
        (c1, ["alpha"]),
        (c2, []),
        (c1, ["alpha"]),
        (c1, ["alpha"]),
        (c3, ["beta"]),
        (c3, ["beta"]),
    ]
    assert [line["content"] for line in report["lines"]][:3] == ["ONE", "two", "THREE"]
    by_id = {t["id"]: t for t in report["traces"]}
    assert by_id["alpha"]["url"] == URL and by_id["alpha"]["lines"] == 3
    assert by_id["beta"]["url"] == "https://www.traces.com/s/beta"
    assert by_id["beta"]["commits"] == [c3]
    assert "gamma" not in by_id

    text = traces_git("blame", "src/app.py", cwd=plain).stdout
    rows = text.splitlines()
    assert rows[0].startswith(f"{c3[:8]} ") and " beta " in rows[0] and rows[0].endswith(" 1) ONE")
    assert rows[2].startswith(f"{c2[:8]} ") and "alpha" not in rows[2] and "beta" not in rows[2]
    assert "\x1b[" not in text  # not a terminal: plain text
    assert any(row.startswith("alpha") and URL in row for row in rows[8:])


def test_moves_within_the_file_follow_git_blame_and_dash_m(plain: Path) -> None:
    block = _lines(*(f"def helper_{i}(value):  return value * {i} + 12345" for i in range(4)))
    rest = _lines(*(f"other_line_{i} = compute_something_else({i})" for i in range(6)))
    c1 = commit_file(plain, "mod.py", block + rest, "write both blocks")
    _note(plain, c1, "traces:alpha")
    c2 = commit_file(plain, "mod.py", rest + block, "move the helpers to the end")

    # Like git blame: without -M the moved lines belong to the commit that moved them.
    plain_report = _blame(plain, "mod.py")
    assert _owners(plain_report) == [(c1, ["alpha"])] * 6 + [(c2, [])] * 4
    # With -M (git blame -M) they keep the commit, and the trace, that wrote them.
    moved = _blame(plain, "-M", "mod.py")
    assert _owners(moved) == [(c1, ["alpha"])] * 10
    assert [line["orig_line"] for line in moved["lines"]][6:] == [1, 2, 3, 4]


def test_traces_survive_a_rebase_on_the_rewritten_commits(repo: Path) -> None:
    # traces-git is installed: its hooks set notes.rewriteRef, so git carries the notes.
    commit_file(repo, "lib.txt", _lines(*(f"line {i}" for i in range(1, 9))), "base")
    git("checkout", "-q", "-b", "feature", cwd=repo)
    f1 = commit_file(
        repo,
        "lib.txt",
        _lines("line 1", "agent 2", *(f"line {i}" for i in range(3, 9))),
        "agent edit",
    )
    _note(repo, f1, f"traces:alpha {URL}")
    f2 = commit_file(
        repo,
        "lib.txt",
        _lines("line 1", "agent 2", "line 3", "human 4", *(f"line {i}" for i in range(5, 9))),
        "human edit",
    )
    git("checkout", "-q", "main", cwd=repo)
    m1 = commit_file(
        repo, "lib.txt", _lines(*(f"line {i}" for i in range(1, 8)), "main 8"), "main moves on"
    )
    git("checkout", "-q", "feature", cwd=repo)
    assert git("config", "--get-all", "notes.rewriteRef", cwd=repo).stdout.strip()

    git("rebase", "-q", "main", cwd=repo)

    new_f1, new_f2 = head(repo, "HEAD~1"), head(repo, "HEAD")
    assert {new_f1, new_f2}.isdisjoint({f1, f2})
    report = _blame(repo, "lib.txt")
    owners = _owners(report)
    assert owners[1] == (new_f1, ["alpha"])
    assert owners[3] == (new_f2, [])
    assert owners[7] == (m1, [])
    assert {t["id"]: t["url"] for t in report["traces"]} == {"alpha": URL}
    assert not {f1, f2} & {c["sha"] for c in report["commits"]}


def test_line_ranges(plain: Path) -> None:
    c1 = commit_file(plain, "f.txt", _lines("a", "b", "c", "d", "e"), "one")
    _note(plain, c1, "traces:alpha")
    c2 = commit_file(plain, "f.txt", _lines("a", "B", "c", "D", "e"), "two")

    report = _blame(plain, "-L", "2,3", "f.txt")
    assert [(line["line"], line["commit"], line["traces"]) for line in report["lines"]] == [
        (2, c2, []),
        (3, c1, ["alpha"]),
    ]
    both = _blame(plain, "-L", "1,1", "-L", "4,+2", "f.txt")
    assert [line["line"] for line in both["lines"]] == [1, 4, 5]
    text = traces_git("blame", "-L", "3,3", "f.txt", cwd=plain).stdout.splitlines()
    assert len(text) == 3 and text[0].endswith("3) c") and text[2].startswith("alpha")
    bad = traces_git("blame", "-L", "9,10", "f.txt", cwd=plain, check=False)
    assert bad.returncode == 2
    assert bad.stderr == "traces-git: file f.txt has only 5 lines\n"


def test_ignore_revs_file_applies_only_through_blame_ignore_revs_file_as_in_git(
    plain: Path,
) -> None:
    c1 = commit_file(plain, "f.py", _lines("x=1", "y=2", "z=3"), "agent writes")
    _note(plain, c1, "traces:alpha")
    fmt = commit_file(plain, "f.py", _lines("x = 1", "y = 2", "z=3"), "reformat")
    (plain / ".git-blame-ignore-revs").write_text(f"# formatting\n{fmt}\n")
    git("add", ".git-blame-ignore-revs", cwd=plain)
    git("commit", "-q", "-m", "ignore the reformat", cwd=plain)

    # The file alone changes nothing: git reads it only when blame.ignoreRevsFile names it.
    assert _owners(_blame(plain, "f.py"))[:2] == [(fmt, []), (fmt, [])]
    assert [line.split()[0] for line in git("blame", "f.py", cwd=plain).stdout.splitlines()][
        :1
    ] == [fmt[:8]]

    git("config", "blame.ignoreRevsFile", ".git-blame-ignore-revs", cwd=plain)
    assert _owners(_blame(plain, "f.py")) == [(c1, ["alpha"])] * 3
    # --ignore-rev does the same for one run (here on top of an emptied config).
    git("config", "blame.ignoreRevsFile", "", cwd=plain)
    assert _owners(_blame(plain, "f.py"))[0] == (fmt, [])
    assert _owners(_blame(plain, "--ignore-rev", fmt, "f.py")) == [(c1, ["alpha"])] * 3
    # A configured file that does not exist fails as in git, in one line.
    git("config", "blame.ignoreRevsFile", "missing-file", cwd=plain)
    proc = traces_git("blame", "f.py", cwd=plain, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "missing-file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_uncommitted_lines_are_not_committed_yet(plain: Path) -> None:
    c1 = commit_file(plain, "f.txt", _lines("a", "b", "c"), "one")
    _note(plain, c1, "traces:alpha")
    (plain / "f.txt").write_text(_lines("a", "b changed", "c", "new"))

    report = _blame(plain, "f.txt")
    assert _owners(report) == [(c1, ["alpha"]), (None, []), (c1, ["alpha"]), (None, [])]
    uncommitted = [c for c in report["commits"] if not c["committed"]]
    assert uncommitted == [
        {
            "sha": None,
            "committed": False,
            "boundary": False,
            "author": None,
            "author_mail": None,
            "author_time": None,
            "summary": None,
            "filename": "f.txt",
            "traces": [],
        }
    ]
    rows = traces_git("blame", "f.txt", cwd=plain).stdout.splitlines()
    assert rows[1].startswith("00000000 ") and "not committed yet" in rows[1]
    assert rows[1].endswith("2) b changed")
    # At a revision there is nothing uncommitted.
    assert _owners(_blame(plain, "f.txt", "HEAD")) == [(c1, ["alpha"])] * 3


def test_agent_and_title_come_from_the_store(plain: Path, store) -> None:
    c1 = commit_file(plain, "f.txt", _lines("a", "b"), "one")
    _note(plain, c1, "traces:alpha", "traces:unknown-one")
    store.add_trace(
        "alpha",
        plain,
        agent="codex",
        title="Write the parser",
        shared_url="https://www.traces.com/s/alpha",
    )

    report = _blame(plain, "f.txt")
    by_id = {t["id"]: t for t in report["traces"]}
    assert by_id["alpha"] == {
        "id": "alpha",
        "url": "https://www.traces.com/s/alpha",
        "agent": "codex",
        "title": "Write the parser",
        "commits": [c1],
        "lines": 2,
    }
    assert by_id["unknown-one"]["agent"] is None and by_id["unknown-one"]["title"] is None
    rows = traces_git("blame", "f.txt", cwd=plain).stdout.splitlines()
    assert "alpha (codex) +1" in rows[0]
    assert any(r.startswith("alpha") and "codex" in r and "Write the parser" in r for r in rows)


def test_json_schema_is_the_documented_one(plain: Path) -> None:
    c1 = commit_file(plain, "f.txt", _lines("a"), "one")
    _note(plain, c1, "traces:alpha")
    report = _blame(plain, "f.txt", "HEAD")
    assert set(report) == {"file", "rev", "lines", "commits", "traces"}
    assert (report["file"], report["rev"]) == ("f.txt", "HEAD")
    assert set(report["lines"][0]) == {
        "line",
        "orig_line",
        "commit",
        "traces",
        "content",
        "origin",
        "trace",
    }
    commit = report["commits"][0]
    assert set(commit) == {
        "sha",
        "committed",
        "boundary",
        "author",
        "author_mail",
        "author_time",
        "summary",
        "filename",
        "traces",
    }
    assert (commit["author"], commit["author_mail"], commit["summary"]) == (
        "Test User",
        "test@example.com",
        "one",
    )
    assert commit["author_time"][:4].isdigit() and commit["author_time"][-6] in "+-"
    assert set(report["traces"][0]) == {"id", "url", "agent", "title", "commits", "lines"}
    documented = (ROOT / "docs" / "blame.md").read_text()
    for key in ("orig_line", "author_mail", "boundary", "committed", '"lines"'):
        assert key in documented


@pytest.mark.parametrize("case", ["binary", "outside", "missing", "bad-rev", "directory"])
def test_bad_input_is_one_line_and_non_zero(plain: Path, tmp_path: Path, case: str) -> None:
    commit_file(plain, "f.txt", "a\n", "one")
    (plain / "img.bin").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    (plain / "dir").mkdir()
    commit_file(plain, "dir/x.txt", "x\n", "dir")
    git("add", "img.bin", cwd=plain)
    git("commit", "-q", "-m", "binary", cwd=plain)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not in the repository\n")
    args, expected = {
        "binary": (["img.bin"], "traces-git: img.bin is a binary file: nothing to blame\n"),
        "outside": (
            [str(outside)],
            f"traces-git: '{outside}' is outside repository at '{plain.resolve()}'\n",
        ),
        "missing": (["nope.txt"], "traces-git: no such path 'nope.txt' in HEAD\n"),
        "bad-rev": (["f.txt", "no-such-rev"], "traces-git: bad revision 'no-such-rev'\n"),
        "directory": (["dir"], "traces-git: no such path 'dir' in HEAD\n"),
    }[case]
    for extra in ([], ["--json"]):
        proc = traces_git("blame", *extra, *args, cwd=plain, check=False)
        assert proc.returncode == 2
        assert proc.stderr == expected
        assert proc.stdout == ""


def test_binary_at_a_revision_and_outside_any_repository(plain: Path, tmp_path: Path) -> None:
    (plain / "data.bin").write_bytes(b"abc\0def\n")
    git("add", "data.bin", cwd=plain)
    git("commit", "-q", "-m", "bin", cwd=plain)
    (plain / "data.bin").unlink()
    proc = traces_git("blame", "data.bin", "HEAD", cwd=plain, check=False)
    assert (proc.returncode, proc.stderr) == (
        2,
        "traces-git: data.bin is a binary file: nothing to blame\n",
    )
    nowhere = tmp_path / "not a repo"
    nowhere.mkdir()
    (nowhere / "f.txt").write_text("x\n")
    proc = traces_git("blame", "f.txt", cwd=nowhere, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("traces-git: not a git repository")
    assert proc.stderr.count("\n") == 1


def test_renamed_file_with_an_unusual_name_from_a_subdirectory(plain: Path) -> None:
    c1 = commit_file(plain, "old näme.txt", _lines("kept line", "second"), "write")
    _note(plain, c1, "traces:alpha")
    (plain / "sub dir").mkdir()
    git("mv", "old näme.txt", "sub dir/new\tnäme.txt", cwd=plain)
    git("commit", "-q", "-m", "rename", cwd=plain)
    c3 = commit_file(plain, "sub dir/new\tnäme.txt", _lines("kept line", "changed"), "edit")

    report = _blame(plain / "sub dir", "new\tnäme.txt")  # a path relative to the cwd, as git
    assert _owners(report) == [(c1, ["alpha"]), (c3, [])]
    assert [c["filename"] for c in report["commits"]] == ["old näme.txt", "sub dir/new\tnäme.txt"]


def test_agent_and_title_from_the_api_for_traces_the_store_does_not_know(plain: Path) -> None:
    from tests.helpers.api_server import ApiServer

    c1 = commit_file(plain, "f.txt", _lines("a"), "one")
    _note(plain, c1, "traces:remote-one", "traces:nobody-knows")
    token = "trk_blame_test_token"
    server = ApiServer(token=token).start()
    try:
        server.traces["remote-one"] = {
            "meta": {"title": "From the API", "agentId": "cursor"},
            "messages": {},
            "id": "srv-1",
        }
        env = {"TRACES_API_KEY": token, "TRACES_HTTP_URL": server.url}
        report = _blame(plain, "f.txt", env=env)
        asked = len(server.of("GET", "/v1/traces/"))
        offline = _blame(plain, "--offline", "f.txt", env=env)
        asked_offline = len(server.of("GET", "/v1/traces/")) - asked
    finally:
        server.stop()
    by_id = {t["id"]: t for t in report["traces"]}
    assert (by_id["remote-one"]["agent"], by_id["remote-one"]["title"]) == (
        "cursor",
        "From the API",
    )
    assert (by_id["nobody-knows"]["agent"], by_id["nobody-knows"]["title"]) == (None, None)
    assert asked == 2 and asked_offline == 0
    assert all(t["agent"] is None for t in offline["traces"])


def test_an_unreadable_store_costs_the_titles_not_the_blame(plain: Path) -> None:
    import os

    c1 = commit_file(plain, "f.txt", _lines("a"), "one")
    _note(plain, c1, "traces:alpha")
    store_path = Path(os.environ["TRACES_EVENTSTORE"])
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store_path.write_bytes(b"this is not a database" * 100)

    proc = traces_git("blame", "--json", "--offline", "f.txt", cwd=plain)
    assert json.loads(proc.stdout)["lines"][0]["traces"] == ["alpha"]
    assert proc.stderr.startswith("traces-git: warning: cannot read the Traces store")
    assert proc.stderr.count("\n") == 1
