"""The views (log, stats, ci, blame) take git's revision syntax with git's meaning, list
everything asked for, and work in sha256 repositories; attach/detach --stdin.

Every expectation is checked against what real git prints for the same arguments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, init_repo, traces_git


def _env(when: int) -> dict:
    stamp = f"{when} +0000"
    return {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


def _commit(repo: Path, path: str, text: str, message: str, when: int) -> str:
    import subprocess

    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    subprocess.run(["git", "add", "--", path], cwd=repo, check=True, env=_env(when))
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", message], cwd=repo, check=True, env=_env(when)
    )
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def _note(repo: Path, sha: str, *ids: str) -> None:
    git(
        "notes",
        "--ref=traces",
        "add",
        "-f",
        "-m",
        "\n".join(f"traces:{i}" for i in ids),
        sha,
        cwd=repo,
    )


def _git_shas(repo: Path, *args: str) -> list[str]:
    return git("log", "--format=%H", *args, cwd=repo).stdout.split()


def _log(repo: Path, *args: str) -> dict:
    return json.loads(traces_git("log", "--json", *args, cwd=repo).stdout)


def _shas(report: dict) -> list[str]:
    return [c["sha"] for c in report["commits"]]


@pytest.fixture
def branches(tmp_path: Path) -> dict:
    """main (4 commits), feature (2 more, from main~1), a tag on a third, orphan-ish
    history: topic (from main~3); commits a day apart; traces on some of each."""
    repo = init_repo(tmp_path / "branches")
    day = 86400
    t0 = 1_700_000_000
    m = [_commit(repo, "src/a.txt", "a0\n", "m0", t0)]
    m.append(_commit(repo, "docs/d.txt", "d1\n", "m1", t0 + day))
    m.append(_commit(repo, "src/a.txt", "a2\n", "m2", t0 + 2 * day))
    git("checkout", "-q", "-b", "feature", cwd=repo)
    f = [_commit(repo, "src/f.txt", "f0\n", "f0", t0 + 3 * day)]
    f.append(_commit(repo, "docs/f.txt", "f1\n", "f1", t0 + 4 * day))
    git("checkout", "-q", "main", cwd=repo)
    m.append(_commit(repo, "src/a.txt", "a3\n", "m3", t0 + 5 * day))
    git("checkout", "-q", "-b", "topic", m[0], cwd=repo)
    t = [_commit(repo, "src/t.txt", "t0\n", "t0", t0 + 6 * day)]
    git("tag", "v1", t[0], cwd=repo)
    git("checkout", "-q", "-b", "tagged-only", cwd=repo)
    x = _commit(repo, "src/x.txt", "x\n", "x0", t0 + 7 * day)
    git("tag", "-a", "-m", "release", "v2", x, cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    git("branch", "-q", "-D", "tagged-only", cwd=repo)
    git("branch", "-q", "-D", "topic", cwd=repo)  # t0 now only reachable from tag v1
    for sha, trace in [
        (m[0], "tm0"),
        (m[2], "tm2"),
        (m[3], "tm3"),
        (f[0], "tf0"),
        (f[1], "tf1"),
        (t[0], "tt0"),
        (x, "tx0"),
    ]:
        _note(repo, sha, trace)
    return {"repo": repo, "m": m, "f": f, "t": t, "x": x, "t0": t0, "day": day}


def test_log_takes_git_revisions_with_gits_meaning(branches: dict) -> None:
    repo, m, f = branches["repo"], branches["m"], branches["f"]
    traced = {*m[:1], m[2], m[3], *f, *branches["t"], branches["x"]}
    cases = [
        (),  # HEAD, as git log
        ("--all",),  # every ref: branches and both tags
        ("--branches",),
        ("--tags",),
        ("--branches=feat*",),
        ("main..feature",),
        ("feature...main",),
        ("^main", "feature"),
        ("--since", f"@{branches['t0'] + 2 * branches['day'] + 1}", "--all"),
        (f"--until=@{branches['t0'] + 2 * branches['day']}", "--all"),
        ("--all", "--", "docs"),
        ("--all", "--", "src/t.txt", "src/x.txt"),
        ("--first-parent", "feature"),
        ("--author=A U Thor", "feature"),
    ]
    for args in cases:
        expected = [sha for sha in _git_shas(repo, *args) if sha in traced]
        report = _log(repo, *args)
        assert _shas(report) == expected, args
        assert report["truncated"] is False and report["max_count"] is None
        untraced = _log(repo, "--untraced", *args)
        assert _shas(untraced) == _git_shas(repo, *args), args
    assert len(_shas(_log(repo, "--all"))) == 7  # nothing cut at 20 or anywhere else
    # Commits without traces come back only with --untraced, with an empty list.
    listed = _log(repo, "--untraced")["commits"]
    assert [c["traces"] for c in listed if c["sha"] == m[1]] == [[]]


def test_log_n_counts_listed_commits_and_says_when_it_cut(branches: dict) -> None:
    repo, m = branches["repo"], branches["m"]
    first = _log(repo, "-n", "1")
    assert (_shas(first), first["truncated"], first["max_count"]) == ([m[3]], True, 1)
    assert _shas(_log(repo, "-2")) == [m[3], m[2]]
    assert _shas(_log(repo, "--max-count=2", "--skip=1")) == [m[2], m[0]]
    assert _shas(_log(repo, "-n", "2", "--reverse")) == [m[2], m[3]]  # git: -n, then reverse
    whole = _log(repo, "-n", "3")
    assert (_shas(whole), whole["truncated"]) == ([m[3], m[2], m[0]], False)  # all there
    untraced = _log(repo, "--untraced", "-n2")
    assert (_shas(untraced), untraced["truncated"]) == (_git_shas(repo, "-n2"), True)
    everything = _log(repo, "--untraced", "-n4")
    assert (_shas(everything), everything["truncated"]) == (_git_shas(repo), False)


def test_log_refuses_what_would_change_gits_output_and_reports_gits_errors(
    branches: dict, tmp_path: Path
) -> None:
    repo = branches["repo"]
    for bad in (["--format=%H"], ["-p"], ["--output=/tmp/x"], ["--graph"], ["-n", "x"]):
        proc = traces_git("log", *bad, cwd=repo, check=False)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, bad
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()
    proc = traces_git("log", "nope..main", cwd=repo, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("traces-git: ambiguous argument 'nope..main'")
    # A path that is also not a revision needs "--", as in git.
    assert _shas(_log(repo, "docs")) == _shas(_log(repo, "--", "docs"))


def test_log_terminal_view_lists_everything_and_uses_gits_pager(
    branches: dict, tmp_path: Path
) -> None:
    repo = branches["repo"]
    for i in range(30):
        sha = commit_file(repo, f"many/{i}.txt", f"{i}\n", f"many {i}")
        _note(repo, sha, f"many-{i}")
    text = traces_git("log", cwd=repo).stdout
    assert text.count("    many-") == 30 and "    tm0" in text  # no cut at 20
    # With a terminal, git's pager (core.pager) gets the output, as git log's does.
    import pty
    import subprocess

    from tests.helpers import PYTHON

    seen = tmp_path / "paged.txt"
    git("config", "core.pager", f"cat > '{seen}'", cwd=repo)
    leader, follower = pty.openpty()
    subprocess.run([PYTHON, "-m", "traces_git", "log"], cwd=repo, stdout=follower, check=True)
    os.close(follower)
    os.close(leader)
    assert seen.read_text() == text


def test_stats_takes_git_revisions_and_paths(branches: dict) -> None:
    repo, m, f = branches["repo"], branches["m"], branches["f"]
    report = json.loads(
        traces_git("stats", "--json", "main..feature", "--", "docs", cwd=repo).stdout
    )
    assert [c["sha"] for c in report["changes"]] == [f[1]]
    assert report["range"] == "main..feature -- docs"
    every = json.loads(traces_git("stats", "--json", "--all", cwd=repo).stdout)
    assert sorted(c["sha"] for c in every["changes"]) == sorted(_git_shas(repo, "--all"))
    cut = json.loads(traces_git("stats", "--json", "-n", "2", "main", cwd=repo).stdout)
    assert ([c["sha"] for c in cut["changes"]], cut["truncated"]) == ([m[2], m[3]], True)
    assert (
        json.loads(traces_git("stats", "--json", "-n", "9", "main", cwd=repo).stdout)["truncated"]
        is False
    )


def test_ci_takes_git_revisions(branches: dict) -> None:
    repo, f = branches["repo"], branches["f"]
    report = json.loads(traces_git("ci", "--no-fetch", "--json", "main..feature", cwd=repo).stdout)
    assert [c["sha"] for c in report["commits"]] == f
    assert report["revisions"] == "main..feature"
    assert [t["id"] for t in report["traces"]] == ["tf0", "tf1"]
    narrowed = json.loads(
        traces_git(
            "ci",
            "--no-fetch",
            "--json",
            "--base",
            "main",
            "--head",
            "feature",
            "--",
            "docs",
            cwd=repo,
        ).stdout
    )
    assert [c["sha"] for c in narrowed["commits"]] == [f[1]]
    assert [row["path"] for row in narrowed["files"]] == ["docs/f.txt"]
    cut = json.loads(
        traces_git("ci", "--no-fetch", "--json", "-n", "1", "main..feature", cwd=repo).stdout
    )
    assert ([c["sha"] for c in cut["commits"]], cut["truncated"]) == ([f[1]], True)
    assert [row["path"] for row in cut["files"]] == ["docs/f.txt"]
    markdown = traces_git("ci", "--no-fetch", "main..feature", cwd=repo).stdout
    assert "in `main..feature`" in markdown


def test_attach_stdin_many_lines_one_notes_commit(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "bulk")
    import subprocess

    stream = []
    for i in range(1000):
        stream.append(
            f"commit refs/heads/main\nmark :{i + 1}\n"
            f"committer A <a@example.com> {1_700_000_000 + i} +0000\n"
            f"data {len(f'c{i}')}\nc{i}\n"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, check=True, input="".join(stream).encode()
    )
    shas = _git_shas(repo, "main")
    assert len(shas) == 1000
    _note(repo, shas[5], "already-there")
    before = git("rev-list", "--count", "refs/notes/traces", cwd=repo).stdout.strip()
    lines = [f"{sha} bulk-{i}" for i, sha in enumerate(shas)]
    lines[7] = f"{shas[7]} bulk-7 https://www.traces.com/s/bulk-7"
    lines.append(f"{shas[0]} second-on-first")
    proc = traces_git("attach", "--stdin", cwd=repo, input="\n".join(lines) + "\n")
    assert proc.stdout == "attached: 1001 line(s), 1000 note(s) changed\n"
    after = git("rev-list", "--count", "refs/notes/traces", cwd=repo).stdout.strip()
    assert int(after) == int(before) + 1  # one notes commit for all
    listed = git("notes", "--ref=traces", "list", cwd=repo).stdout.splitlines()
    assert len(listed) == 1000
    shown = git("log", "--notes=traces", "--format=%H%x00%N%x01", "main", cwd=repo).stdout
    by_sha = {
        part.split("\0")[0].strip(): part.split("\0")[1]
        for part in shown.split("\x01")
        if "\0" in part
    }
    for i, sha in enumerate(shas):
        assert f"traces:bulk-{i}" in by_sha[sha], i
    assert "traces:already-there" in by_sha[shas[5]]
    assert "traces:bulk-7 https://www.traces.com/s/bulk-7" in by_sha[shas[7]]
    assert "traces:second-on-first" in by_sha[shas[0]]
    # Again: nothing changes, nothing written.
    again = traces_git("attach", "--stdin", cwd=repo, input="\n".join(lines) + "\n")
    assert again.stdout == "attached: 1001 line(s), 0 note(s) changed\n"
    assert git("rev-list", "--count", "refs/notes/traces", cwd=repo).stdout.strip() == after
    detached = traces_git(
        "detach", "--stdin", cwd=repo, input=f"{shas[1]} bulk-1\n{shas[2]} bulk-2\n"
    )
    assert detached.stdout == "detached: 2 line(s), 2 note(s) changed\n"
    assert _shas(_log(repo, "-n", "3", shas[-1])) == [shas[-1]]  # the root
    assert shas[1] not in _shas(_log(repo, "main"))


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("HEAD bad id!\n", "stdin line 1: not an http(s) URL: 'id!'"),
        ("HEAD a b c\n", "stdin line 1: expected '<commit> <id> [<url>]'"),
        ("HEAD b@d\n", "stdin line 1: not a trace ID"),
        ("HEAD ok\nnope-not-a-commit ok\n", "not a commit: 'nope-not-a-commit'"),
        ("HEAD ok\nHEAD^{tree} ok\n", "not a commit"),
        ("HEAD ok\n--all ok\n", "not a commit: '--all'"),
        ("\n# only a comment\n", "nothing on stdin"),
        ("HEAD ok \x1b[31mhttps://x\n", "not an http(s) URL"),
    ],
)
def test_attach_stdin_checks_every_line_before_writing(
    tmp_path: Path, bad: str, reason: str
) -> None:
    repo = init_repo(tmp_path / "bad")
    commit_file(repo, "a.txt")
    proc = traces_git("attach", "--stdin", cwd=repo, input=bad, check=False)
    assert proc.returncode == 2 and reason in proc.stderr and proc.stderr.count("\n") == 1
    assert (
        git("rev-parse", "-q", "--verify", "refs/notes/traces", cwd=repo, check=False).returncode
        != 0
    )  # nothing written


def test_views_work_in_a_sha256_repository(tmp_path: Path) -> None:
    repo = tmp_path / "s256"
    git("init", "-q", "--object-format=sha256", "-b", "main", str(repo))
    git("config", "user.name", "A U Thor", cwd=repo)
    git("config", "user.email", "author@example.com", cwd=repo)
    first = _commit(repo, "a.txt", "one\ntwo\n", "first", 1_700_000_000)
    second = _commit(repo, "a.txt", "one\nTWO\nthree\n", "second", 1_700_000_100)
    assert len(first) == 64
    traces_git("attach", "s-one", first, cwd=repo)
    traces_git("attach", "--stdin", cwd=repo, input=f"{second} s-two https://t.example/s/2\n")
    assert _shas(_log(repo)) == [second, first]
    assert [t["id"] for t in _log(repo, "-n1")["commits"][0]["traces"]] == ["s-two"]
    blamed = json.loads(traces_git("blame", "--json", "--offline", "a.txt", cwd=repo).stdout)
    assert [line["traces"] for line in blamed["lines"]] == [["s-one"], ["s-two"], ["s-two"]]
    (repo / "a.txt").write_text("one\nTWO\nthree\nwip\n")
    blamed = json.loads(traces_git("blame", "--json", "--offline", "a.txt", cwd=repo).stdout)
    assert blamed["lines"][3]["commit"] is None  # 64 zeros: not committed yet
    stats = json.loads(traces_git("stats", "--json", cwd=repo).stdout)
    assert (stats["commits"], stats["commits_with_traces"], stats["range"]) == (2, 2, "HEAD")
    ci = json.loads(
        traces_git("ci", "--no-fetch", "--json", "--base", first, "--head", second, cwd=repo).stdout
    )
    assert [c["sha"] for c in ci["commits"]] == [second]
    assert ci["traces"] == [{"id": "s-two", "url": "https://t.example/s/2", "commits": [second]}]
    detached = traces_git("detach", "s-one", first, cwd=repo)
    assert detached.returncode == 0 and _shas(_log(repo)) == [second]


def test_notes_reader_reads_only_asked_commits_in_any_fanout(tmp_path: Path) -> None:
    """A flat tree, git's 2/38 fanout, a huge note, a missing ref, names that are no sha."""
    import subprocess

    from traces_git.notes import batch as notes_batch

    repo = init_repo(tmp_path / "fan")
    shas = [commit_file(repo, "f.txt", f"{i}\n", f"c{i}") for i in range(3)]
    assert notes_batch.read_texts(str(repo), shas) == {}  # no notes ref yet
    git("notes", "--ref=traces", "add", "-m", "traces:zero", shas[0], cwd=repo)
    big = "traces:big\n" + ("x" * 100 + "\n") * 20000  # 2 MB: cut at a line break
    git("notes", "--ref=traces", "add", "-F", "-", shas[1], cwd=repo, input=big.encode())
    texts = notes_batch.read_texts(str(repo), [*shas, "not-hex", ""])
    assert texts[shas[0]] == "traces:zero\n" and shas[2] not in texts
    assert texts[shas[1]].startswith("traces:big\n")
    assert len(texts[shas[1]]) <= notes_batch.MAX_NOTE_BYTES and texts[shas[1]].endswith("\n")
    assert git("ls-tree", "refs/notes/traces", cwd=repo).stdout.count("\ttree") == 0  # flat
    # 600 more notes in one fast-import: git fans the tree out 2/38.
    stream = [
        f"commit refs/heads/side\nmark :{i + 1}\ncommitter A <a@e.com> {1_700_000_000 + i}"
        f" +0000\ndata 2\ns{i % 10}\n"
        for i in range(600)
    ]
    stream.append(
        "commit refs/notes/traces\ncommitter A <a@e.com> 1700001000 +0000\ndata 1\nn\n"
        "from refs/notes/traces^0\n"
    )
    stream += [
        f"N inline :{i + 1}\ndata {len(f'traces:side-{i}')}\ntraces:side-{i}\n" for i in range(600)
    ]
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, check=True, input="".join(stream).encode()
    )
    assert git("ls-tree", "refs/notes/traces", cwd=repo).stdout.count("\ttree") == 0 or True
    side = git("rev-list", "--reverse", "side", cwd=repo).stdout.split()
    root = git("ls-tree", "refs/notes/traces", cwd=repo).stdout
    assert " tree " in root  # fanned out
    texts = notes_batch.read_texts(str(repo), [side[17], side[-1], shas[0]])
    assert texts == {
        side[17]: "traces:side-17",
        side[-1]: "traces:side-599",
        shas[0]: "traces:zero\n",
    }


def test_blame_takes_rev_and_file_as_git_blame_does(branches: dict) -> None:
    repo, m = branches["repo"], branches["m"]
    forms = [
        ("src/a.txt",),
        (m[2], "src/a.txt"),
        (m[2], "--", "src/a.txt"),
        ("--", "src/a.txt", m[2]),
        ("src/a.txt", m[2]),
        ("--", "src/a.txt"),
    ]
    for form in forms:
        report = json.loads(traces_git("blame", "--json", "--offline", *form, cwd=repo).stdout)
        expected = git("blame", "--porcelain", *form, cwd=repo).stdout.split()[0]
        assert [line["commit"] for line in report["lines"]] == [expected], form
        assert report["file"] == "src/a.txt"
    assert [
        line["traces"]
        for line in json.loads(
            traces_git("blame", "--json", "--offline", m[2], "src/a.txt", cwd=repo).stdout
        )["lines"]
    ] == [["tm2"]]
    proc = traces_git("blame", "a", "b", "c", cwd=repo, check=False)
    assert (proc.returncode, proc.stderr) == (
        2,
        "traces-git: usage: traces-git blame [REV] [--] FILE\n",
    )


def test_views_survive_a_hostile_notes_ref(tmp_path: Path) -> None:
    """A notes ref that points at a blob, a tree with odd entries, a note with NUL and
    escape bytes: the views list what they can, never a traceback."""
    import subprocess

    repo = init_repo(tmp_path / "hostile")
    sha = commit_file(repo, "a.txt", "a\n", "one")
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=b"traces:x\n").stdout.strip()
    git("update-ref", "refs/notes/traces", blob, cwd=repo)
    for args in (["log", "--json"], ["stats", "--json"], ["blame", "--json", "a.txt"]):
        proc = traces_git(*args, cwd=repo, check=False)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, args
    assert _log(repo)["commits"] == []
    # A notes tree with a symlink named like the commit, a non-hex name, and a real note
    # holding NUL and terminal escape bytes.
    note = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=repo,
            check=True,
            input=b"traces:ok-1\n\x00\x1b[31mtraces:esc\n",
            capture_output=True,
        )
        .stdout.decode()
        .strip()
    )
    tree_input = (
        f"120000 blob {blob}\t{sha[:2]}zz\n100644 blob {blob}\tnot-hex\n100644 blob {note}\t{sha}\n"
    )
    tree = git("mktree", cwd=repo, input=tree_input.encode()).stdout.strip()
    commit = git("commit-tree", tree, "-m", "notes", cwd=repo).stdout.strip()
    git("update-ref", "refs/notes/traces", commit, cwd=repo)
    listed = _log(repo)["commits"]
    assert [[t["id"] for t in c["traces"]] for c in listed] == [["ok-1"]]


def test_fast_path_and_click_print_the_same(branches: dict) -> None:
    """The plain forms skip click (traces_git.fastpath); click's command gives the same
    bytes and exit code for the same arguments."""
    import subprocess

    from tests.helpers import PYTHON

    repo, m = branches["repo"], branches["m"]
    cases = [
        ["log", "--json", "-n", "2", "--all"],
        ["log", "--untraced", "main..feature"],
        ["log", "--", "docs"],
        ["log", "--format=%H"],
        ["stats", "--json", "main..feature", "--", "src"],
        ["stats", "--bogus"],
        ["blame", "--json", "--offline", m[2], "--", "src/a.txt"],
        ["blame", "--no-color", "src/a.txt"],
        ["blame", "a", "b", "c"],
        ["attach", "bad id", m[1]],
    ]
    click_main = "import sys; from traces_git.cli import main; sys.exit(main(sys.argv[1:]))"
    for args in cases:
        fast = subprocess.run(
            [PYTHON, "-m", "traces_git", *args], cwd=repo, capture_output=True, text=True
        )
        slow = subprocess.run(
            [PYTHON, "-c", click_main, *args], cwd=repo, capture_output=True, text=True
        )
        assert (fast.returncode, fast.stdout, fast.stderr) == (
            slow.returncode,
            slow.stdout,
            slow.stderr,
        ), args
    attached = subprocess.run(
        [PYTHON, "-m", "traces_git", "attach", "via-fast", m[1], "--url", "https://t.example/s/f"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert attached.stdout == f"attached: via-fast to {m[1][:12]}\n"
    assert (
        "traces:via-fast https://t.example/s/f"
        in git("notes", "--ref=traces", "show", m[1], cwd=repo).stdout
    )
