"""After a fetch: no hook of ours runs inside `git fetch`; the notes it brought are read by
the views at once and merged by the next hook (in the background), or by `git pull`'s
post-merge before the pull returns (traces_git/sync/fetched.py, docs/sync.md)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import git, traces_git
from tests.helpers.sync import (
    clone,
    commit_with_trace,
    make_remote,
    note_lines,
    ref,
    runs,
    wait_fetched,
    wait_settled,
)
from traces_git.notes import tracking
from traces_git.setup import install


@pytest.fixture
def remote(tmp_path, installed):
    return make_remote(tmp_path)


def _hooks_git_ran(trace2: Path) -> list[str]:
    """The hooks git itself reports starting (GIT_TRACE2_EVENT), in order."""
    if not trace2.exists():
        return []
    names = []
    for line in trace2.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "child_start" and event.get("child_class") == "hook":
            names.append(event.get("hook_name"))
    return names


def _teammate_note(remote: Path, tmp_path: Path, trace_id: str) -> str:
    """A teammate's traced commit on main, pushed with its note."""
    mate = clone(remote, tmp_path / f"mate-{trace_id}")
    sha = commit_with_trace(mate, trace_id)
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)
    return sha


def test_a_fetch_of_many_new_tags_runs_no_hook(remote, tmp_path):
    mate = clone(remote, tmp_path / "mate")
    tags = "".join(f"create refs/tags/t{n:04d} HEAD\n" for n in range(400))
    git("update-ref", "--stdin", cwd=mate, input=tags.encode())
    git("push", "-q", "origin", "--tags", cwd=mate)
    author = clone(remote, tmp_path / "author", "--no-tags")
    assert not (install.global_hooks_dir() / "reference-transaction").exists()

    trace2 = tmp_path / "trace2.json"
    git("fetch", "-q", "--tags", cwd=author, env={"GIT_TRACE2_EVENT": str(trace2)})
    assert len(git("tag", cwd=author).stdout.split()) == 400
    assert _hooks_git_ran(trace2) == []  # without us: no hook either


def test_fetched_notes_show_at_once_and_the_next_hook_merges_them(remote, tmp_path):
    author = clone(remote, tmp_path / "author")
    sha = _teammate_note(remote, tmp_path, "mate-trace")
    local_before = ref(author, "refs/notes/traces")

    git("fetch", "-q", cwd=author)
    assert ref(author, "refs/notes/traces") == local_before  # nothing of ours ran in the fetch
    assert ref(author, "refs/notes/remotes/origin/traces") is not None
    shown = json.loads(traces_git("show", sha, "--json", cwd=author).stdout)
    assert [t["id"] for t in shown["traces"]] == ["mate-trace"]
    logged = json.loads(traces_git("log", "origin/main", "--json", cwd=author).stdout)
    assert [c["sha"] for c in logged["commits"]] == [sha]
    assert ref(author, "refs/notes/traces") == local_before  # a view reads, never writes

    git("checkout", "-q", "HEAD", cwd=author)  # any hook: post-checkout here
    wait_fetched(author)
    assert note_lines(author, sha) == ["traces:mate-trace"]
    git_dir = author / ".git"
    seen = os.stat(git_dir / tracking.SEEN_FILE).st_mtime_ns
    assert seen == os.stat(git_dir / "FETCH_HEAD").st_mtime_ns
    [record] = runs("fetched")
    assert record["outcome"] == "ok" and record["detail"].startswith("origin: ")


def test_pull_merges_the_notes_before_it_returns(remote, tmp_path):
    author = clone(remote, tmp_path / "author")
    sha = _teammate_note(remote, tmp_path, "pulled")
    git("pull", "-q", "--ff-only", cwd=author)
    assert note_lines(author, sha) == ["traces:pulled"]


def test_pull_rebase_keeps_both_the_rebased_and_the_fetched_notes(remote, tmp_path):
    author = clone(remote, tmp_path / "author")
    mine = commit_with_trace(author, "mine")
    theirs = _teammate_note(remote, tmp_path, "theirs")
    git("pull", "-q", "--rebase", cwd=author)
    wait_fetched(author)
    assert note_lines(author, theirs) == ["traces:theirs"]
    assert note_lines(author, "HEAD") == ["traces:mine"]
    assert git("rev-parse", "HEAD", cwd=author).stdout.strip() != mine  # it was rebased


def test_a_fetched_notes_ref_that_is_no_notes_commit_is_not_merged(remote, tmp_path):
    author = clone(remote, tmp_path / "author")
    sha = commit_with_trace(author, "kept")
    mate = clone(remote, tmp_path / "mate")
    blob = git("hash-object", "-w", "--stdin", cwd=mate, input=b"not notes\n").stdout.strip()
    git("push", "-q", "-f", "origin", f"{blob}:refs/notes/traces", cwd=mate)
    before = ref(author, "refs/notes/traces")

    git("fetch", "-q", cwd=author)
    assert ref(author, "refs/notes/remotes/origin/traces") == blob
    assert json.loads(traces_git("show", sha, "--json", cwd=author).stdout)["traces"] == [
        {"id": "kept", "url": None}
    ]
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)  # handled: not tried again by every later hook
    assert ref(author, "refs/notes/traces") == before
    [record] = runs("fetched")
    assert record["outcome"] == "error" and "not merged" in record["detail"]
    assert "\n" not in record["detail"]

    # whoever pushed it pushes a notes commit over it: the next fetch merges that
    fixer = clone(remote, tmp_path / "fixer")
    fixed = commit_with_trace(fixer, "fixed")
    git("push", "-q", "origin", "main", cwd=fixer)
    wait_settled(fixer)
    git("push", "-q", "-f", "origin", "refs/notes/traces:refs/notes/traces", cwd=fixer)
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    assert note_lines(author, fixed) == ["traces:fixed"]
    assert note_lines(author, sha) == ["traces:kept"]


def test_switched_off_means_no_background_merge(remote, tmp_path):
    author = clone(remote, tmp_path / "author")
    sha = _teammate_note(remote, tmp_path, "later")
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author, env={"TRACES_GIT": "0"})
    time.sleep(1)
    assert note_lines(author, sha) == []
    assert runs("fetched") == []
    git("checkout", "-q", "HEAD", cwd=author)  # switched on again: the next hook merges
    wait_fetched(author)
    assert note_lines(author, sha) == ["traces:later"]


def test_a_lost_seen_file_only_repeats_a_merge(remote, tmp_path):
    """The state a SIGKILL before the seen file is replaced leaves: the next hook merges
    again, which changes nothing (a merge never duplicates or drops a line)."""
    author = clone(remote, tmp_path / "author")
    sha = _teammate_note(remote, tmp_path, "once")
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    merged = ref(author, "refs/notes/traces")
    (author / ".git" / tracking.SEEN_FILE).unlink()
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    assert ref(author, "refs/notes/traces") == merged
    assert note_lines(author, sha) == ["traces:once"]
