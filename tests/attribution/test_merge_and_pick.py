"""Merge commits and cherry-picks get the right traces."""

from __future__ import annotations

from tests.helpers import commit_file, git, head, note, note_ids, traces_git


def _branch_with_commit(repo, branch: str, name: str, content: str = "theirs\n") -> str:
    git("checkout", "-q", "-b", branch, cwd=repo)
    sha = commit_file(repo, name, content)
    git("checkout", "-q", "main", cwd=repo)
    return sha


def test_clean_merge_made_by_the_user_is_attributed(repo, monkeypatch):
    _branch_with_commit(repo, "feature", "feature.txt")
    commit_file(repo, "main.txt")
    monkeypatch.setenv("TRACES_TRACE_ID", "merging-agent")
    git("merge", "-q", "--no-ff", "-m", "merge feature", "feature", cwd=repo)
    assert len(git("rev-list", "--parents", "-n1", "HEAD", cwd=repo).stdout.split()) == 3
    assert note_ids(repo) == ["merging-agent"]


def test_fast_forward_merge_attaches_nothing(repo, monkeypatch):
    feature = _branch_with_commit(repo, "feature", "feature.txt")
    monkeypatch.setenv("TRACES_TRACE_ID", "merging-agent")
    git("merge", "-q", "--ff-only", "feature", cwd=repo)
    assert head(repo) == feature
    assert note(repo) is None


def test_conflict_resolved_by_an_agent(repo, store):
    _branch_with_commit(repo, "feature", "shared.txt", "feature side\n")
    commit_file(repo, "shared.txt", "main side\n")
    store.add_trace("resolver", repo, edits=[repo / "shared.txt"])
    assert git("merge", "feature", cwd=repo, check=False).returncode != 0
    (repo / "shared.txt").write_text("resolved\n")
    git("add", "shared.txt", cwd=repo)
    git("commit", "-q", "--no-edit", cwd=repo)
    assert note_ids(repo) == ["resolver"]


def test_clean_merge_does_not_inherit_edits_of_the_merged_branch(repo, store):
    _branch_with_commit(repo, "feature", "feature.txt")
    commit_file(repo, "main.txt")
    store.add_trace("feature-author", repo, edits=[repo / "feature.txt"])
    git("merge", "-q", "--no-ff", "-m", "merge", "feature", cwd=repo)
    assert note(repo) is None


def test_pull_merge_is_not_attributed(tmp_path, repo, monkeypatch):
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    other = tmp_path / "other"
    git("clone", "-q", str(remote), str(other))
    commit_file(other, "theirs.txt")
    git("push", "-q", "origin", "main", cwd=other)
    commit_file(repo, "ours.txt")
    monkeypatch.setenv("TRACES_TRACE_ID", "agent-session")
    git("pull", "-q", "--no-rebase", "--no-edit", "origin", "main", cwd=repo)
    assert len(git("rev-list", "--parents", "-n1", "HEAD", cwd=repo).stdout.split()) == 3
    assert note(repo) is None


def test_cherry_pick_copies_the_source_note(repo, store):
    git("checkout", "-q", "-b", "feature", cwd=repo)
    store.add_trace("picked-trace", repo, edits=[repo / "fix.txt"])
    source = commit_file(repo, "fix.txt")
    assert note_ids(repo) == ["picked-trace"]
    git("checkout", "-q", "main", cwd=repo)
    commit_file(repo, "unrelated.txt")
    store.add_trace("unrelated-now", repo, edits=[repo / "fix.txt"])
    git("cherry-pick", source, cwd=repo)
    assert head(repo) != source
    assert note_ids(repo) == ["picked-trace"]


def test_rebase_does_not_attach_current_traces(repo, store):
    git("checkout", "-q", "-b", "feature", cwd=repo)
    commit_file(repo, "f.txt")
    git("checkout", "-q", "main", cwd=repo)
    commit_file(repo, "m.txt")
    git("checkout", "-q", "feature", cwd=repo)
    store.add_trace("live", repo, edits=[repo / "f.txt"])
    git("rebase", "-q", "main", cwd=repo)
    assert note(repo) is None
    assert traces_git("show", "--json", cwd=repo).stdout.count('"id"') == 0
