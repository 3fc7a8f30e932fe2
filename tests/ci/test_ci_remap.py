"""``traces-git ci remap``: a hosted squash or rebase merge keeps the pull request's traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, head, init_repo, traces_git
from tests.helpers.ci import (
    bare_remote,
    github_env,
    pull_request_event,
    remote_note,
    shallow_checkout,
)

ALPHA_URL = "https://www.traces.com/s/alpha"


@pytest.fixture
def merged(tmp_path: Path) -> dict:
    """A feature branch of three commits with notes, then merged on the "host" by squash
    (a new commit on main, made in another clone, without notes)."""
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    git("remote", "add", "origin", url, cwd=work)
    base = commit_file(work, "a.txt", message="main one")
    git("checkout", "-q", "-b", "feature", cwd=work)
    f1 = commit_file(work, "f1.txt", message="feature one")
    traces_git("attach", "alpha", f1, "--url", ALPHA_URL, cwd=work)
    f2 = commit_file(work, "f2.txt", message="feature two")
    git("notes", "--ref=traces", "add", "-m", "traces:beta\notherbot:keep-me", f2, cwd=work)
    f3 = commit_file(work, "f3.txt", message="feature three")
    git("notes", "--ref=traces", "add", "-m", "traces:gamma\ntraces:alpha", f3, cwd=work)
    git("push", "-q", "origin", "main", "feature", "refs/notes/traces", cwd=work)
    # The host's squash merge: a new commit on main, no notes.
    host = tmp_path / "host"
    git("clone", "-q", url, str(host))
    git("merge", "-q", "--squash", "origin/feature", cwd=host)
    git("commit", "-q", "-m", "Feature (#1)", cwd=host)
    squash = head(host)
    git("push", "-q", "origin", "main", cwd=host)
    return {
        "tmp": tmp_path,
        "remote": remote,
        "url": url,
        "base": base,
        "f": [f1, f2, f3],
        "squash": squash,
    }


def _note_lines(text: str | None) -> list[str]:
    return sorted(line for line in (text or "").splitlines() if line.strip())


def test_remap_after_squash_merge_puts_the_union_on_the_merge_commit(merged: dict) -> None:
    tmp, f, squash = merged["tmp"], merged["f"], merged["squash"]
    assert remote_note(merged["remote"], squash) is None
    # The workflow runs on the closed, merged pull_request: a shallow checkout of main.
    clone = shallow_checkout(tmp / "ci", merged["url"], squash)
    event = pull_request_event(
        tmp / "event.json", merged["base"], f[2], commits=3, merged=True, merge_commit=squash
    )

    proc = traces_git("ci", "remap", "--json", cwd=clone, env=github_env(tmp, event))

    summary = json.loads(proc.stdout)
    assert summary["onto"] == [squash]
    assert summary["traces"] == ["alpha", "beta", "gamma"]
    assert summary["push"]["outcome"] == "pushed"
    # the same content matcher as `traces-git relink`: the squash is the branch's change
    assert summary["matches"][0]["how"] == "range patch-id"
    provenance = "traces-relinked: " + " ".join(sorted(f))
    assert _note_lines(remote_note(merged["remote"], squash)) == [
        provenance,
        f"traces:alpha {ALPHA_URL}",
        "traces:beta",
        "traces:gamma",
    ]
    # The branch commits keep their own notes on the remote, foreign line included.
    assert _note_lines(remote_note(merged["remote"], f[1])) == ["otherbot:keep-me", "traces:beta"]
    # A fresh clone sees it through the ordinary reader.
    fresh = tmp / "fresh"
    git("clone", "-q", merged["url"], str(fresh))
    git("fetch", "-q", "origin", "refs/notes/traces:refs/notes/traces", cwd=fresh)
    shown = json.loads(traces_git("show", squash, "--json", cwd=fresh).stdout)
    assert [t["id"] for t in shown["traces"]] == ["alpha", "beta", "gamma"]

    # Running it again changes nothing and still succeeds.
    again = traces_git(
        "ci", "remap", "--onto", squash, "--base", merged["base"], "--head", f[2], cwd=clone
    )
    assert again.stdout.startswith(f"attached 3 trace(s) to {squash[:12]}")
    assert _note_lines(remote_note(merged["remote"], squash)) == [
        provenance,
        f"traces:alpha {ALPHA_URL}",
        "traces:beta",
        "traces:gamma",
    ]


def test_remap_onto_a_rebase_merge_range(merged: dict) -> None:
    tmp, f = merged["tmp"], merged["f"]
    host = tmp / "host2"
    git("clone", "-q", merged["url"], str(host))
    # The host's rebase merge: new commits (here on a branch of their own).
    git("checkout", "-q", "-b", "rebased", merged["base"], cwd=host)
    before = head(host)
    # A later committer date, as on the host: otherwise a cherry-pick within the
    # same second could reproduce the original commits bit for bit.
    git("cherry-pick", f[0], f[1], cwd=host, env={"GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z"})
    after = head(host)
    rebased = git("rev-list", f"{before}..{after}", cwd=host).stdout.split()
    assert len(rebased) == 2 and not set(rebased) & set(f)
    git("push", "-q", "origin", "rebased", cwd=host)
    clone = shallow_checkout(tmp / "ci", merged["url"], after)

    proc = traces_git(
        "ci",
        "remap",
        "--onto",
        f"{before}..{after}",
        "--base",
        merged["base"],
        "--head",
        f[1],
        cwd=clone,
    )

    assert "notes pushed to origin" in proc.stdout
    # Each rebased commit gets its own original's traces (same patch-id), not the union.
    picked_f2, picked_f1 = rebased
    assert _note_lines(remote_note(merged["remote"], picked_f1)) == [
        f"traces-relinked: {f[0]}",
        f"traces:alpha {ALPHA_URL}",
    ]
    assert _note_lines(remote_note(merged["remote"], picked_f2)) == [
        f"traces-relinked: {f[1]}",
        "traces:beta",
    ]


def test_remap_onto_a_commit_that_matches_nothing_still_gets_the_union(merged: dict) -> None:
    """The host named this commit as the pull request's merge: the union, with provenance."""
    tmp, f = merged["tmp"], merged["f"]
    host = tmp / "host3"
    git("clone", "-q", merged["url"], str(host))
    unrelated = commit_file(host, "z.txt", "something else entirely\n", "Feature (#1)")
    git("push", "-q", "origin", "main", cwd=host)
    clone = shallow_checkout(tmp / "ci", merged["url"], unrelated)
    proc = traces_git(
        "ci",
        "remap",
        "--json",
        "--onto",
        unrelated,
        "--base",
        merged["base"],
        "--head",
        f[2],
        cwd=clone,
    )
    summary = json.loads(proc.stdout)
    assert summary["matches"][0]["how"] == "pull request"
    assert _note_lines(remote_note(merged["remote"], unrelated))[1:] == [
        f"traces:alpha {ALPHA_URL}",
        "traces:beta",
        "traces:gamma",
    ]


def test_remap_with_no_traces_in_range_writes_nothing(tmp_path: Path) -> None:
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    base = commit_file(work, "a.txt")
    tip = commit_file(work, "b.txt")
    git("push", "-q", url, "main", cwd=work)
    clone = shallow_checkout(tmp_path / "ci", url, tip)
    proc = traces_git("ci", "remap", "--onto", tip, "--base", base, "--head", tip, cwd=clone)
    assert proc.stdout == "no traces in the range: nothing to remap\n"
    assert git("ls-remote", url, "refs/notes/*").stdout == ""


def test_remap_needs_a_target(merged: dict) -> None:
    tmp, f = merged["tmp"], merged["f"]
    clone = shallow_checkout(tmp / "ci", merged["url"], merged["squash"])
    event = pull_request_event(tmp / "event.json", merged["base"], f[2])  # not merged
    proc = traces_git("ci", "remap", cwd=clone, env=github_env(tmp, event), check=False)
    assert proc.returncode == 2
    assert proc.stderr == "traces-git: no commit to remap onto: pass --onto MERGE_COMMIT\n"
    assert remote_note(merged["remote"], merged["squash"]) is None


def test_remap_push_merges_diverged_notes_in_a_shallow_clone(merged: dict) -> None:
    """ci remap pushes through sync's transport: in a shallow CI clone whose notes
    diverged from the remote's, fetch, merge, push without force; nothing lost."""
    from traces_git.ci import report as ci
    from traces_git.config import Config
    from traces_git.notes import core as notes
    from traces_git.repo import RepoInfo
    from traces_git.sync import transfer

    tmp, squash = merged["tmp"], merged["squash"]
    clone = shallow_checkout(tmp / "ci", merged["url"], squash)
    # Diverged: a local notes history the remote has never seen.
    git("notes", "--ref=traces", "add", "-m", "traces:local-one", squash, cwd=clone)
    ci.fetch_notes(str(clone), "origin", shallow=True)
    repo = RepoInfo.discover(clone)
    notes.update(
        repo.open(),
        {squash: lambda old: notes.with_traces(old, [notes.TraceRef("added")])},
        message="test",
    )

    result = transfer.push_notes(repo, Config.load(str(clone)), "origin", foreground=True)

    assert result["outcome"] == "pushed"
    assert _note_lines(remote_note(merged["remote"], squash)) == [
        "traces:added",
        "traces:local-one",
    ]
    assert _note_lines(remote_note(merged["remote"], merged["f"][0])) == [
        f"traces:alpha {ALPHA_URL}"
    ]


def test_remap_leaves_a_true_merge_commit_alone(merged: dict) -> None:
    tmp, f = merged["tmp"], merged["f"]
    host = tmp / "host3"
    git("clone", "-q", merged["url"], str(host))
    git("checkout", "-q", "-b", "merged", merged["base"], cwd=host)
    git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", f[2], cwd=host)
    merge = head(host)
    git("push", "-q", "origin", "merged", cwd=host)
    clone = shallow_checkout(tmp / "ci", merged["url"], merge)
    event = pull_request_event(
        tmp / "event.json", merged["base"], f[2], merged=True, merge_commit=merge
    )
    proc = traces_git("ci", "remap", cwd=clone, env=github_env(tmp, event))
    assert proc.stdout == (
        "nothing to remap: a merge commit keeps the pull request's commits and their notes\n"
    )
    assert remote_note(merged["remote"], merge) is None
