"""The notes engine: format, concurrency, fanout, and compatibility with git's own readers."""

from __future__ import annotations

import subprocess

import pygit2

from tests.helpers import PYTHON, commit_file, git, head, init_repo, note, traces_git
from traces_git.notes import core as notes


def test_parse_keeps_unknown_lines_and_prefers_urls():
    text = "traces:a\n\nsomething else: 1\ntraces:a https://x/s/a\ntraces:b\ntraces-detach:b\n"
    assert notes.attached(text) == [notes.TraceRef("a", "https://x/s/a")]
    assert [line.kind for line in notes.parse(text)] == [
        "trace",
        "other",
        "trace",
        "trace",
        "detach",
    ]
    updated = notes.with_traces(text, [notes.TraceRef("c")])
    assert "something else: 1" in updated and updated.endswith("traces:c\n")
    assert notes.with_traces(text, [notes.TraceRef("b")]) is None  # detached stays detached
    assert notes.with_traces(text, [notes.TraceRef("a")]) is None


def test_url_replaces_urlless_line():
    assert notes.with_traces("traces:a\n", [notes.TraceRef("a", "https://x/s/a")]) == (
        "traces:a https://x/s/a\n"
    )


def test_union_is_cat_sort_uniq():
    assert notes.union("traces:b\n\ntraces:a\n", "traces:a\ntraces:c\n") == (
        "traces:a\ntraces:b\ntraces:c\n"
    )


def test_malformed_existing_note_is_kept(tmp_path, installed):
    repo = init_repo(tmp_path / "r")
    sha = commit_file(repo, "a.txt")
    git(
        "notes",
        "--ref=traces",
        "add",
        "-m",
        "garbage \x7f line\ntraces:bad id with spaces",
        sha,
        cwd=repo,
    )
    traces_git("attach", "good-1", cwd=repo)
    text = note(repo)
    assert "garbage \x7f line" in text and "traces:bad id with spaces" in text
    assert text.rstrip().endswith("traces:good-1")
    shown = traces_git("show", "--json", cwd=repo).stdout
    assert '"good-1"' in shown


_WRITER = """
import sys, pygit2
from traces_git.notes import core as notes
repo = pygit2.Repository(sys.argv[1])
notes.update(repo, {sys.argv[2]: lambda old: notes.with_traces(old, [notes.TraceRef(sys.argv[3])])},
             message="concurrent", lock_path=sys.argv[1] + "/traces-git-notes.lock")
"""


def test_fifty_concurrent_writers_lose_nothing(tmp_path):
    repo = init_repo(tmp_path / "r")
    shas = [commit_file(repo, f"f{i}.txt") for i in range(26)]
    git_dir = str(repo / ".git")
    jobs = []
    # 25 writers on one commit, 25 on 25 different commits, all at once.
    for i in range(50):
        target = shas[0] if i < 25 else shas[i - 24]
        jobs.append((target, f"trace-{i}"))
    procs = [subprocess.Popen([PYTHON, "-c", _WRITER, git_dir, sha, tid]) for sha, tid in jobs]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    for sha, tid in jobs:
        assert f"traces:{tid}" in (note(repo, sha) or ""), tid
    assert len((note(repo, shas[0]) or "").splitlines()) == 25


_GIT_WRITER = """
import sys
from traces_git.notes import core as notes
notes.update_one_with_git(sys.argv[1], sys.argv[2],
                          lambda old: notes.with_traces(old, [notes.TraceRef(sys.argv[3])]),
                          message="concurrent",
                          lock_path=sys.argv[1] + "/.git/traces-git-notes.lock",
                          # 40 writers on a loaded machine: the hook's 1 s would queue some
                          budget_s=120,
                          # with the common dir: the scratch ref is written as a loose file
                          common_dir=sys.argv[1] + "/.git" if sys.argv[4] == "loose" else None)
"""


def test_hook_writer_and_engine_writer_together_lose_nothing(tmp_path):
    """The post-commit hook's git-based writer beside the pygit2 engine, all at once."""
    repo = init_repo(tmp_path / "r")
    shas = [commit_file(repo, f"f{i}.txt") for i in range(11)]
    procs = []
    for i in range(40):
        sha = shas[0] if i % 2 else shas[1 + i % 10]
        if i < 20:
            argv = [
                PYTHON,
                "-c",
                _GIT_WRITER,
                str(repo),
                sha,
                f"git-{i}",
                "loose" if i % 2 else "git",
            ]
        else:
            argv = [PYTHON, "-c", _WRITER, str(repo / ".git"), sha, f"engine-{i}"]
        procs.append((sha, argv[5], subprocess.Popen(argv)))
    for _, _, proc in procs:
        assert proc.wait(timeout=120) == 0
    for sha, trace_id, _ in procs:
        assert f"traces:{trace_id}\n" in (note(repo, sha) or ""), trace_id
    assert git("for-each-ref", "refs/notes/tmp-traces-git", cwd=repo).stdout == ""


def _bulk_notes(repo_path, count: int) -> pygit2.Repository:
    """Write ``count`` notes through the engine in batches (fake commit ids are fine for notes)."""
    repo = pygit2.Repository(str(repo_path))
    fake = [f"{i:040x}"[::-1] for i in range(count)]
    for start in range(0, count, 100):
        batch = fake[start : start + 100]
        notes.update(
            repo,
            {
                sha: (lambda old, s=sha: notes.with_traces(old, [notes.TraceRef("t" + s[:8])]))
                for sha in batch
            },
            message="bulk",
        )
    return repo


def test_notes_tree_fans_out_and_git_reads_it(tmp_path):
    repo_path = init_repo(tmp_path / "r")
    real = commit_file(repo_path, "a.txt")
    repo = _bulk_notes(repo_path, 600)
    assert notes.fanout_depth(repo) == 1
    tree = repo[repo.references["refs/notes/traces"].target].peel(pygit2.Tree)
    assert all(len(e.name) == 2 for e in tree)  # no note left flat at the top
    traces_git("attach", "real-trace", real, cwd=repo_path)
    assert note(repo_path, real) == "traces:real-trace\n"
    listed = git("notes", "--ref=traces", "list", cwd=repo_path).stdout.splitlines()
    assert len(listed) == 601
    # git's own writer accepts the tree, and we read what git writes.
    other = commit_file(repo_path, "b.txt")
    git("notes", "--ref=traces", "add", "-m", "traces:from-git", other, cwd=repo_path)
    assert notes.attached(notes.read_note(pygit2.Repository(str(repo_path)), other)) == [
        notes.TraceRef("from-git")
    ]
    assert len(notes.read_all(pygit2.Repository(str(repo_path)))) == 602


def test_notes_author_is_configurable(tmp_path, installed):
    repo = init_repo(tmp_path / "r")
    commit_file(repo, "a.txt")
    traces_git("attach", "t-default", cwd=repo)
    author = git("log", "-1", "--format=%an <%ae>|%s", "refs/notes/traces", cwd=repo).stdout.strip()
    assert author.startswith("traces-git <") and author.split("|")[1]
    git("config", "traces.notesAuthor", "Notes Bot <bot@example.com>", cwd=repo)
    traces_git("attach", "t-custom", cwd=repo)
    assert git("log", "-1", "--format=%an <%ae>", "refs/notes/traces", cwd=repo).stdout.strip() == (
        "Notes Bot <bot@example.com>"
    )


def test_git_log_shows_notes(tmp_path, installed):
    repo = init_repo(tmp_path / "r")
    sha = commit_file(repo, "a.txt")
    traces_git("attach", "shown-by-git", cwd=repo)
    assert "traces:shown-by-git" in git("log", "--notes=traces", "-1", cwd=repo).stdout
    assert head(repo) == sha
