"""After a fetch, the hostile and careless cases: many hooks before the background merge
runs, broken files where the seen file and FETCH_HEAD live, a switched-off repository
(traces_git/sync/fetched.py, docs/sync.md)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, traces_git
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


@pytest.fixture
def remote(tmp_path, installed):
    return make_remote(tmp_path)


def test_a_rebase_after_a_fetch_starts_one_background_merge_not_one_per_commit(remote, tmp_path):
    author = clone(remote, tmp_path / "author")
    for n in range(12):
        commit_file(author, f"f{n}.txt", f"{n}\n", f"local {n}")
    mate = clone(remote, tmp_path / "mate")
    commit_with_trace(mate, "theirs")
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)

    git("fetch", "-q", cwd=author)
    counted = tmp_path / "counted"
    probe = tmp_path / "probe.sh"
    probe.write_text(  # our after-fetch processes alive at each step of the rebase
        "n=0; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\" 2>/dev/null |"
        " grep -Eq 'traces_git[.]sync[.]fetched|hook fetche[d]' && n=$((n + 1)); done;"
        f" echo $n >>'{counted}'\n"
    )
    git("rebase", "-q", "-x", f"sh '{probe}'", "origin/main", cwd=author)
    wait_fetched(author)
    alive = [int(n) for n in counted.read_text().split()]
    assert len(alive) == 12
    assert max(alive) <= 2, alive  # one worker waits for the rebase (and maybe its starter)
    assert (author / ".git" / "traces-git-fetch-started").is_file()
    traces_git("uninstall", cwd=author)  # takes our files out of the git dir
    assert sorted((author / ".git").glob("traces-git-fetch-*")) == []


def _fetched_record(number: int) -> dict:
    """The ``number``-th run of the after-fetch worker (written just after the seen file)."""
    deadline = time.monotonic() + 30
    while len(found := runs("fetched")) < number and time.monotonic() < deadline:
        time.sleep(0.05)
    return found[number - 1]


def _teammate_note(remote: Path, tmp_path: Path, trace_id: str) -> str:
    """A teammate's traced commit on main, pushed with its note."""
    mate = clone(remote, tmp_path / f"mate-{trace_id}")
    sha = commit_with_trace(mate, trace_id)
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)
    return sha


def test_the_relink_after_a_fetch_takes_any_number_of_remote_branches(remote, tmp_path):
    """It excludes every remote-tracking tip of its last run: 45,000 of them (2 MB) are
    more than one command line holds (ARG_MAX)."""
    author = clone(remote, tmp_path / "author")
    count = 45_000
    stream = "".join(
        f"commit refs/remotes/origin/b{i:05d}\nmark :{i + 1}\n"
        f"committer A <a@example.com> {1_700_000_000 + i} +0000\ndata 2\nc\n"
        + (f"from :{i}\n" if i else "")
        + "\n"
        for i in range(count)
    )
    git("fast-import", "--quiet", cwd=author, input=stream.encode())  # as if fetched
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)  # the seen file lists them all

    mate = clone(remote, tmp_path / "mate")
    commit_file(mate, "plain.txt")  # no note: the relink's one candidate
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)
    git("fetch", "-q", cwd=author)  # an existing remote-tracking branch moves
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    record = _fetched_record(2)
    assert record["outcome"] == "ok", record
    assert "relinked 0 of 1 commit(s)" in record["detail"]


def test_switched_off_in_config_the_hooks_stop_handing_the_fetch_over(remote, tmp_path):
    """traces.enabled=false: nothing merges, and the hooks after the fetch do not each
    start Python in the background for it forever; switched on, the next fetch merges."""
    author = clone(remote, tmp_path / "author")
    git("config", "traces.enabled", "false", cwd=author)
    mate = clone(remote, tmp_path / "mate")
    sha = commit_with_trace(mate, "while-off")
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)

    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)  # handed over once: the next hooks start nothing for it
    assert note_lines(author, sha) == []
    assert runs("fetched") == []

    git("config", "traces.enabled", "true", cwd=author)
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    assert note_lines(author, sha) == ["traces:while-off"]


@pytest.mark.parametrize("how", ["pull --rebase", "fetch, rebase --apply"])
def test_a_rebase_carries_a_fetched_note_of_a_rebased_commit_to_its_copy(remote, tmp_path, how):
    """A teammate added to the note of my pushed commit; `git pull --rebase` fetches that
    and rewrites the commit: git copies the note as it is when the rebase ends, so the
    fetched lines must be merged by then (they were, inside the fetch, before issue 18)."""
    author = clone(remote, tmp_path / "author")
    mine = commit_with_trace(author, "mine")
    git("push", "-q", "origin", "HEAD:refs/heads/review", cwd=author)
    wait_settled(author)
    mate = clone(remote, tmp_path / "mate")
    git("fetch", "-q", "origin", "+refs/notes/traces:refs/notes/traces", cwd=mate)
    git("notes", "--ref=traces", "append", "-m", "traces:reviewer", mine, cwd=mate)
    git("push", "-q", "origin", "refs/notes/traces", cwd=mate, env={"TRACES_GIT": "0"})
    commit_file(mate, "upstream.txt")  # main moves on: the pull rebases "mine"
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)

    if how == "pull --rebase":
        git("pull", "-q", "--rebase", cwd=author)
    else:
        git("fetch", "-q", cwd=author)
        git("rebase", "-q", "--apply", "origin/main", cwd=author)
    wait_fetched(author)
    assert git("rev-parse", "HEAD", cwd=author).stdout.strip() != mine
    assert note_lines(author, "HEAD") == ["traces:mine", "traces:reviewer"]


def test_status_shows_a_hostile_repository_path_without_its_escape_sequences(remote, tmp_path):
    """The after-fetch run is recorded with the repository's path, which can hold anything
    a directory name can: `status` prints it without control characters."""
    author = clone(remote, tmp_path / "evil\x1b]0;owned\x07\x1b[31m\u202ename")
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    _fetched_record(1)
    shown = traces_git("status").stdout
    assert "fetched ok" in shown
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown


def test_a_fetch_head_dated_in_the_future_does_not_hide_the_fetches_after_it(remote, tmp_path):
    """A FETCH_HEAD with a future mtime (a clock set back, a copy from a machine whose
    clock was ahead): the seen file must not take that date, or every real fetch until
    then would look merged already."""
    author = clone(remote, tmp_path / "author")
    git("fetch", "-q", cwd=author)
    later = time.time() + 24 * 3600
    os.utime(author / ".git" / "FETCH_HEAD", (later, later))
    git("checkout", "-q", "HEAD", cwd=author)
    _fetched_record(1)

    mate = clone(remote, tmp_path / "mate")
    sha = commit_with_trace(mate, "after-skew")
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    assert note_lines(author, sha) == ["traces:after-skew"]


def test_a_killed_worker_is_replaced_by_the_next_git_command(remote, tmp_path):
    """SIGKILL of the worker waiting for a rebase: the rebase's later hooks start no other
    (one per git command), the next git command does, and nothing is lost."""
    author = clone(remote, tmp_path / "author")
    commit_file(author, "local.txt")
    mate = clone(remote, tmp_path / "mate")
    sha = commit_with_trace(mate, "survives")
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)

    git("fetch", "-q", cwd=author)
    killer = tmp_path / "kill.sh"
    killer.write_text(  # the worker waits for this rebase: kill it
        "for f in /proc/[0-9]*/cmdline; do p=${f#/proc/}; p=${p%/cmdline};"
        " tr '\\0' ' ' <\"$f\" 2>/dev/null | grep -q 'traces_git[.]sync[.]fetched' &&"
        f' kill -9 "$p" && echo killed >>"{tmp_path / "killed"}"; done; exit 0\n'
    )
    git("rebase", "-q", "-x", f"sh '{killer}'", "origin/main", cwd=author)
    assert (tmp_path / "killed").read_text() == "killed\n"
    time.sleep(1)
    git_dir = str(author / ".git")
    assert tracking.pending(git_dir, git_dir)  # the worker was killed: not handled
    assert runs("fetched") == []
    git("checkout", "-q", "HEAD", cwd=author)
    wait_fetched(author)
    assert _fetched_record(1)["outcome"] == "ok"
    assert note_lines(author, sha) == ["traces:survives"]  # (the rebase's pre-rebase merged)


def test_a_cherry_pick_right_after_a_fetch_copies_the_fetched_note(remote, tmp_path):
    """`git fetch && git cherry-pick origin/feature`: the picked commit's note is still
    only in the tracking ref (no hook ran since the fetch); the copy must read it there."""
    author = clone(remote, tmp_path / "author")
    mate = clone(remote, tmp_path / "mate")
    git("checkout", "-q", "-b", "feature", cwd=mate)
    picked = commit_with_trace(mate, "picked")
    git("push", "-q", "origin", "feature", cwd=mate)
    wait_settled(mate)

    git("fetch", "-q", cwd=author)
    git("cherry-pick", picked, cwd=author)
    assert note_lines(author, "HEAD") == ["traces:picked"]


def test_explain_right_after_a_fetch_reads_the_fetched_note_as_show_does(remote, tmp_path):
    author = clone(remote, tmp_path / "author")
    mate = clone(remote, tmp_path / "mate")
    sha = commit_with_trace(mate, "explained")
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)

    git("fetch", "-q", cwd=author)
    shown = json.loads(traces_git("show", sha, "--json", cwd=author).stdout)
    explained = json.loads(traces_git("explain", sha, "--json", cwd=author).stdout)
    assert [t["id"] for t in shown["traces"]] == ["explained"]
    assert [t["id"] for t in explained["note"]] == ["explained"]


def test_a_seen_file_that_cannot_be_replaced_leaves_no_litter_and_sync_still_syncs(
    remote, tmp_path
):
    """Where the seen file should be, a directory: every run fails to replace it. Each
    must not leave its temporary file in the git dir, and `traces-git sync` must still
    sync, saying in one line what failed."""
    author = clone(remote, tmp_path / "author")
    git_dir = author / ".git"
    (git_dir / tracking.SEEN_FILE).unlink()
    (git_dir / tracking.SEEN_FILE).mkdir()
    sha = _teammate_note(remote, tmp_path, "synced")
    git("fetch", "-q", cwd=author)
    git("checkout", "-q", "HEAD", cwd=author)
    assert _fetched_record(1)["outcome"] == "error"

    proc = traces_git("sync", cwd=author, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "unexpected error" not in proc.stderr + proc.stdout
    assert "after the last fetch: failed" in proc.stdout
    assert note_lines(author, sha) == ["traces:synced"]
    assert [p.name for p in git_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_a_hostile_notes_ref_name_reaches_the_terminal_without_its_bidi_marks(remote, tmp_path):
    """The notes refspec is a glob (`refs/notes/traces*`): whoever can push to the remote
    names refs that end up as tracking refs here, and their names in `sync`'s report."""
    author = clone(remote, tmp_path / "author")
    mate = clone(remote, tmp_path / "mate")
    commit_with_trace(mate, "named")
    git("push", "-q", "origin", "main", cwd=mate)
    wait_settled(mate)
    hostile = "refs/notes/traces\u202eevil\u200f/traces"
    git("push", "-q", "origin", f"refs/notes/traces:{hostile}", cwd=mate)

    git("fetch", "-q", cwd=author)
    assert ref(author, "refs/notes/remotes/origin/traces\u202eevil\u200f/traces") is not None
    proc = traces_git("sync", cwd=author)
    assert "after the last fetch: " in proc.stdout
    assert "\u202e" not in proc.stdout and "\u200f" not in proc.stdout


def test_a_chained_reference_transaction_hook_starts_one_background_merge_per_fetch(
    remote, tmp_path
):
    """A repository's own reference-transaction hook, chained (`install --repo`): git runs
    the dispatcher twice per ref a fetch moves, and the fetch rewrites FETCH_HEAD as it
    goes; one worker waits for the fetch, not one per ref."""
    source = clone(remote, tmp_path / "source")
    tags = "".join(f"create refs/tags/t{n:04d} HEAD\n" for n in range(200))
    git("update-ref", "--stdin", cwd=source, input=tags.encode())
    git("push", "-q", "origin", "--tags", cwd=source)
    author = clone(remote, tmp_path / "author", "--no-tags")
    counter, counted = tmp_path / "calls", tmp_path / "counted"
    chained = author / ".git" / "hooks" / "reference-transaction"
    chained.write_text(  # every 25th transaction: our after-fetch processes alive now
        f'#!/bin/sh\n[ "$1" = committed ] || exit 0\nn=$(cat "{counter}" 2>/dev/null || echo 0)\n'
        f'n=$((n + 1)); echo $n >"{counter}"; [ $((n % 25)) = 0 ] || exit 0\n'
        "c=0; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\" 2>/dev/null |"
        " grep -Eq 'traces_git[.]sync[.]fetched|hook fetche[d]' && c=$((c + 1)); done\n"
        f'echo $c >>"{counted}"\n'
    )
    chained.chmod(0o755)
    traces_git("install", "--repo", cwd=author)

    git("fetch", "-q", "origin", "+refs/tags/*:refs/tags/*", cwd=author)  # not --atomic
    alive = [int(n) for n in counted.read_text().split()]
    assert len(alive) >= 8
    assert max(alive) <= 2, alive
    wait_fetched(author)
